// The experimental toy models (plugins/forward, plugins/long-chain) and their
// data (datasets/toy): gradients by finite differences, exact or quadrature
// log p(x) against independent computations and large-particle estimates,
// refusal of options that do not apply, and determinism.
#include "dataset_test_util.h"
#include "gradcheck.h"
#include "model_harness.h"
#include "test_data.h"

#include <fivo/ext_tilt.h>
#include <fivo/internal/registry.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using Opts = std::vector<std::pair<std::string, std::string>>;

// B sequences of length T, dim 1; x_b at every step (forward) or the given
// values per step (long_chain).
struct Seqs {
    int T, B;
    std::vector<float> inputs, targets;
    std::vector<int32_t> lengths;
    fivo_batch batch{};
    Seqs(int T_, int B_) : T(T_), B(B_)
    {
        inputs.assign((size_t)T * B, 0.0f);
        targets.assign((size_t)T * B, 0.0f);
        lengths.assign(B, T);
        batch.max_len = T;
        batch.batch_size = B;
        batch.dim = 1;
        batch.inputs = inputs.data();
        batch.targets = targets.data();
        batch.lengths = lengths.data();
    }
    void set(int t, int b, float v) { targets[(size_t)t * B + b] = v; }
    void fill_forward(const std::vector<float> &x)
    {
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                set(t, b, x[b]);
    }
};

fivo_data_spec real_spec(int T)
{
    fivo_data_spec s{};
    s.dim = 1;
    s.kind = "real";
    s.num_timesteps = T;
    return s;
}

std::vector<double> exact_ll(mh::Loaded &m, const fivo_batch &batch)
{
    std::vector<double> out(batch.batch_size, NAN);
    fivo_error e{};
    EXPECT_EQ(fivo_model_log_likelihood(&m.model, &batch, out.data(), &e), FIVO_OK) << e.message;
    return out;
}

// IWAE with `particles` particles over `reps` seeds: mean log p-hat per
// sequence and its standard error.
void iwae(mh::Loaded &m, const fivo_batch &batch, int particles, int reps,
          std::vector<double> &mean, std::vector<double> &se)
{
    const int B = batch.batch_size;
    std::vector<double> s(B, 0.0), s2(B, 0.0);
    for (int r = 0; r < reps; r++) {
        fivo_ctx *ctx = fivo_ctx_new((size_t)64 << 20, 0);
        fivo_ctx_set_seed(ctx, 1000 + r, 0);
        fivo_smc_options o{particles, FIVO_RESAMPLE_NEVER, 0.5, nullptr, sizeof(fivo_smc_options)};
        fivo_smc_result res{};
        fivo_error e{};
        ASSERT_EQ(fivo_smc_run(ctx, &m.model, &batch, &o, &res, &e), FIVO_OK) << e.message;
        for (int b = 0; b < B; b++) {
            s[b] += res.log_phat->data[b];
            s2[b] += (double)res.log_phat->data[b] * res.log_phat->data[b];
        }
        fivo_ctx_free(ctx);
    }
    mean.resize(B);
    se.resize(B);
    for (int b = 0; b < B; b++) {
        mean[b] = s[b] / reps;
        se[b] = std::sqrt(std::fmax(0.0, (s2[b] - reps * mean[b] * mean[b]) / (reps - 1)) / reps);
    }
}

fivo_tensor *param(const mh::Loaded &m, const std::string &name)
{
    return fivo_params_find(m.params, name.c_str());
}

double log_normal(double x, double mu, double var)
{
    return -0.5 * (std::log(2 * M_PI * var) + (x - mu) * (x - mu) / var);
}

// d(sum_b log p-hat_b)/d(every parameter value) against central differences
// (gradcheck.h) on this test's own batch (x at every step), which the
// conformance kit's random data cannot give; the kit's check runs on the
// toys too (model_check_forward*, tests/CMakeLists.txt).
gc::Result check_bound_gradient(mh::Loaded &m, const fivo_batch &batch, int particles, double h,
                                double floor)
{
    std::mt19937 g(5); // a generic point, off any kink of the initial values
    std::uniform_real_distribution<float> u(-0.2f, 0.2f);
    for (fivo_tensor *t : m.all_params())
        for (size_t k = 0; k < fivo_tensor_size(t); k++)
            t->data[k] += u(g);
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    fivo_ctx_set_seed(ctx, 99, 3);
    fivo_smc_options o{particles, FIVO_RESAMPLE_NEVER, 0.5, &m.resampler, sizeof(fivo_smc_options)};
    gc::Checker ch(ctx, {}, m.all_params(), [&](fivo_ctx *c, const std::vector<fivo_tensor *> &) {
        fivo_smc_result res{};
        fivo_error e{};
        fivo_status st = fivo_smc_run(c, &m.model, &batch, &o, &res, &e);
        EXPECT_EQ(st, FIVO_OK) << e.message;
        return std::vector<fivo_tensor *>{res.log_phat};
    });
    gc::Result r = ch.run(h, floor);
    EXPECT_EQ(ch.status, FIVO_OK);
    fivo_ctx_free(ctx);
    return r;
}

void gradient_case(const char *model, const Opts &opts, Seqs &s, int particles)
{
    mh::Loaded m(model, opts, real_spec(s.T));
    ASSERT_TRUE(m.have_model && m.have_resampler) << m.err.message;
    gc::Result r = check_bound_gradient(m, s.batch, particles, 2e-3, 0.1);
    EXPECT_GT(r.checked, 5);
    EXPECT_LT(r.max_err, 5e-2) << model << ": " << r.where;
    std::printf("%s: %d gradient entries checked, worst relative error %.2g\n", model, r.checked,
                r.max_err);
}

} // namespace

TEST(ToyForward, GradientsEveryProposalAndPrior)
{
    const char *qs[] = {"normal", "simple_mean", "prev_state", "observation"};
    const char *ps[] = {"unimodal", "bimodal", "nonlinear"};
    for (const char *p : ps)
        for (const char *q : qs) {
            SCOPED_TRACE(std::string(p) + "/" + q);
            Seqs s(5, 2);
            s.fill_forward({0.7f, -1.3f});
            Opts o{{"p_type", p}, {"q_type", q}, {"variance", "0.5"}};
            if (std::strcmp(p, "nonlinear") != 0) {
                o.push_back({"train_p", "true"});
                o.push_back({"use_bs", "true"});
            }
            gradient_case("forward", o, s, 3);
        }
}

TEST(ToyForward, GradientsRoundTransitions)
{
    Seqs s(4, 2);
    s.fill_forward({1.4f, -0.2f});
    gradient_case("forward",
                  {{"p_type", "nonlinear"}, {"transition_type", "round"}, {"variance", "0.3"},
                   {"num_timesteps", "4"}},
                  s,
                  3);
}

TEST(ToyLongChain, GradientsEveryObservationType)
{
    const char *obs[] = {"standard", "squared", "abs"};
    for (const char *ob : obs) {
        SCOPED_TRACE(ob);
        Seqs s(7, 2); // 3 observations every 2 steps
        float xs[2][3] = {{0.5f, 1.5f, -0.7f}, {2.0f, 0.3f, 1.1f}};
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 3; k++)
                s.set(2 * (k + 1), b, xs[b][k]);
        gradient_case("long_chain",
                      {{"num_observations", "3"}, {"steps_per_observation", "2"},
                       {"observation_type", ob}},
                      s, 3);
    }
}

// Unimodal: the exact slot against the Gaussian marginal formed here (z_T is
// z_0 plus T independent steps: mean sum b, variance v (T + 1)) with the bs
// moved to arbitrary values, and against IWAE with 20,000 particles.
TEST(ToyForward, UnimodalExactAgainstMarginalAndIwae)
{
    Seqs s(5, 3);
    s.fill_forward({0.4f, -1.1f, 2.2f});
    mh::Loaded m("forward", {{"train_p", "true"}, {"variance", "0.3"}, {"q_type", "normal"}},
                 real_spec(5));
    ASSERT_TRUE(m.have_model) << m.err.message;
    double sum_b = 0;
    for (int t = 1; t <= 5; t++) {
        fivo_tensor *b = param(m, "forward/p_b_" + std::to_string(t));
        ASSERT_NE(b, nullptr);
        b->data[0] = 0.1f * t - 0.2f;
        sum_b += b->data[0];
    }
    std::vector<double> ll = exact_ll(m, s.batch), mean, se;
    for (int b = 0; b < 3; b++) {
        double x = s.targets[b];
        EXPECT_NEAR(ll[b], log_normal(x, sum_b, 0.3 * 6), 1e-9);
    }
    iwae(m, s.batch, 20000, 8, mean, se);
    for (int b = 0; b < 3; b++) {
        EXPECT_LE(std::fabs(ll[b] - mean[b]), 4 * se[b] + 2e-3)
            << "sequence " << b << ": exact " << ll[b] << ", IWAE " << mean[b] << " +- " << se[b];
        EXPECT_LT(se[b], 0.03);
    }
}

// Bimodal: the exact slot (a two-Gaussian mixture) against a numerical
// integral over z_0 (the rest of the chain is Gaussian given z_0) and the
// large-particle estimate within 4 standard errors.
TEST(ToyForward, BimodalExactAgainstQuadratureAndIwae)
{
    const double v = 0.2, w = 0.3, mm = 1.5;
    const int T = 4;
    Seqs s(T, 3);
    s.fill_forward({1.2f, -0.9f, 0.1f});
    mh::Loaded m("forward",
                 {{"p_type", "bimodal"}, {"variance", "0.2"}, {"num_timesteps", "4"},
                  {"bimodal_prior_weight", "0.3"}, {"bimodal_prior_mean", "1.5"}},
                 real_spec(T));
    ASSERT_TRUE(m.have_model) << m.err.message;
    std::vector<double> ll = exact_ll(m, s.batch), mean, se;
    for (int b = 0; b < 3; b++) {
        double x = s.targets[b], h = 1e-3, integral = 0;
        for (double z = -12; z <= 12; z += h) {
            double prior = w * std::exp(log_normal(z, mm, v)) + (1 - w) * std::exp(log_normal(z, -mm, v));
            integral += prior * std::exp(log_normal(x, z, v * T)) * h;
        }
        EXPECT_NEAR(ll[b], std::log(integral), 1e-6) << "sequence " << b;
    }
    iwae(m, s.batch, 20000, 8, mean, se);
    for (int b = 0; b < 3; b++)
        EXPECT_LE(std::fabs(ll[b] - mean[b]), 4 * se[b] + 2e-3)
            << "sequence " << b << ": exact " << ll[b] << ", IWAE " << mean[b] << " +- " << se[b];
}

// Round transitions: the cell sum against a direct simulation of the chain
// (1e6 draws of z_{T-1} from the prior, p(x) = E N(x; round(z_{T-1}), v_obs))
// and the large-particle estimate.
TEST(ToyForward, NonlinearRoundAgainstSimulationAndIwae)
{
    const double v = 0.4, vo = 0.25;
    const int T = 4;
    Seqs s(T, 2);
    s.fill_forward({0.8f, -2.1f});
    mh::Loaded m("forward",
                 {{"p_type", "nonlinear"}, {"transition_type", "round"}, {"variance", "0.4"},
                  {"observation_variance", "0.25"}, {"num_timesteps", "4"}},
                 real_spec(T));
    ASSERT_TRUE(m.have_model) << m.err.message;
    std::vector<double> ll = exact_ll(m, s.batch), mean, se;
    std::mt19937_64 g(3);
    std::normal_distribution<double> n(0, 1);
    const int K = 1000000;
    for (int b = 0; b < 2; b++) {
        double x = s.targets[b], sum = 0, sum2 = 0;
        for (int k = 0; k < K; k++) {
            double z = std::sqrt(v) * n(g);
            for (int t = 1; t < T; t++)
                z = std::rint(z) + std::sqrt(v) * n(g);
            double p = std::exp(log_normal(x, std::rint(z), vo));
            sum += p;
            sum2 += p * p;
        }
        double mu = sum / K, sd = std::sqrt(sum2 / K - mu * mu) / std::sqrt((double)K);
        EXPECT_LE(std::fabs(std::exp(ll[b]) - mu), 4 * sd) << "sequence " << b;
    }
    iwae(m, s.batch, 20000, 8, mean, se);
    for (int b = 0; b < 2; b++)
        EXPECT_LE(std::fabs(ll[b] - mean[b]), 4 * se[b] + 2e-3)
            << "sequence " << b << ": exact " << ll[b] << ", IWAE " << mean[b] << " +- " << se[b];
}

// Long chain, standard/standard: the Kalman slot against the joint Gaussian
// of the observations, Cov(x_i, x_j) = v (1 + s min(i, j) + s) ... formed and
// factored here: x_k = z_{(k+1)s} + e_k, Var z_t = v (t + 1).
TEST(ToyLongChain, LinearExactAgainstJointGaussian)
{
    const int n = 3, sp = 2, T = n * sp + 1;
    const double v = 0.7, vo = 0.4;
    Seqs s(T, 2);
    float xs[2][3] = {{0.5f, 1.5f, -0.7f}, {2.0f, 0.3f, 1.1f}};
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < n; k++)
            s.set((k + 1) * sp, b, xs[b][k]);
    mh::Loaded m("long_chain",
                 {{"num_observations", "3"}, {"steps_per_observation", "2"}, {"variance", "0.7"},
                  {"observation_variance", "0.4"}},
                 real_spec(T));
    ASSERT_TRUE(m.have_model) << m.err.message;
    std::vector<double> ll = exact_ll(m, s.batch);
    for (int b = 0; b < 2; b++) {
        double C[3][3], L[3][3] = {};
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                C[i][j] = v * (1 + sp * (std::min(i, j) + 1)) + (i == j ? vo : 0.0);
        for (int i = 0; i < n; i++) // Cholesky
            for (int j = 0; j <= i; j++) {
                double a = C[i][j];
                for (int k = 0; k < j; k++)
                    a -= L[i][k] * L[j][k];
                L[i][j] = i == j ? std::sqrt(a) : a / L[j][j];
            }
        double y[3], quad = 0, logdet = 0;
        for (int i = 0; i < n; i++) {
            double a = xs[b][i];
            for (int k = 0; k < i; k++)
                a -= L[i][k] * y[k];
            y[i] = a / L[i][i];
            quad += y[i] * y[i];
            logdet += 2 * std::log(L[i][i]);
        }
        double ref = -0.5 * (n * std::log(2 * M_PI) + logdet + quad);
        EXPECT_NEAR(ll[b], ref, 1e-9) << "sequence " << b;
    }
}

// Squared and abs observations, round transitions: the grid quadrature
// against the large-particle estimate, and the grid against the Kalman
// filter where both apply (shown by a standard model computed both ways:
// abs of a chain observed far from 0 is not that; so the check is IWAE).
TEST(ToyLongChain, QuadratureAgainstIwae)
{
    const char *obs[] = {"squared", "abs", "standard"};
    for (const char *ob : obs) {
        SCOPED_TRACE(ob);
        Seqs s(7, 2);
        float xs[2][3] = {{0.5f, 1.5f, 0.7f}, {2.0f, 0.3f, 1.1f}};
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 3; k++)
                s.set(2 * (k + 1), b, xs[b][k]);
        Opts o{{"num_observations", "3"}, {"steps_per_observation", "2"}, {"variance", "0.5"},
               {"observation_type", ob}};
        if (std::strcmp(ob, "standard") == 0)
            o.push_back({"transition_type", "round"});
        mh::Loaded m("long_chain", o, real_spec(7));
        ASSERT_TRUE(m.have_model) << m.err.message;
        // a proposal near the prior, so IWAE's weights stay healthy
        for (int i = 0; i < fivo_params_count(m.params); i++) {
            const char *name = nullptr;
            fivo_tensor *p = fivo_params_at(m.params, i, &name);
            bool w = std::strstr(name, "q_w_") != nullptr;
            for (size_t k = 0; k < fivo_tensor_size(p); k++)
                p->data[k] = w ? (k + 1 == fivo_tensor_size(p) ? 1.0f : 0.0f) : 0.0f;
            if (std::strstr(name, "q_sigma_"))
                p->data[0] = std::log(std::exp(0.5f) - 1.0f); // softplus = 0.5 = v
        }
        std::vector<double> ll = exact_ll(m, s.batch), mean, se;
        // Under valgrind (memory checks, ~50x slower) 10,000 particles: the
        // tolerance is in the estimate's own standard errors either way.
        iwae(m, s.batch, fivo_test::under_valgrind() ? 10000 : 50000, 8, mean, se);
        for (int b = 0; b < 2; b++)
            EXPECT_LE(std::fabs(ll[b] - mean[b]), 4 * se[b] + 3e-3)
                << "sequence " << b << ": quadrature " << ll[b] << ", IWAE " << mean[b] << " +- "
                << se[b];
    }
}

TEST(ToyForward, RefusesOptionsOfAnotherPType)
{
    struct Case {
        const char *p, *key, *value;
    } cases[] = {{"unimodal", "bimodal_prior_weight", "0.3"},
                 {"unimodal", "bimodal_prior_mean", "2"},
                 {"bimodal", "transition_type", "round"},
                 {"unimodal", "observation_variance", "0.5"},
                 {"nonlinear", "bimodal_prior_mean", "2"},
                 {"nonlinear", "train_p", "true"},
                 {"nonlinear", "use_bs", "true"}};
    for (const Case &c : cases) {
        mh::Loaded m("forward", {{"p_type", c.p}, {c.key, c.value}}, real_spec(5));
        EXPECT_FALSE(m.have_model) << c.p << " with " << c.key;
        EXPECT_NE(std::string(m.err.message).find(c.key), std::string::npos) << m.err.message;
        EXPECT_NE(std::string(m.err.message).find("p_type"), std::string::npos) << m.err.message;
    }
    mh::Loaded ok("forward", {{"p_type", "bimodal"}, {"bimodal_prior_mean", "2"}}, real_spec(5));
    EXPECT_TRUE(ok.have_model) << ok.err.message;
}

// Through the host: the refusal names the key, before any training.
TEST(ToyForward, HostRefusesOptionOfAnotherPType)
{
    std::string cmd = std::string(FIVO_TEST_HOST) +
                      " --mode=train --model=forward --bound=fivo --max_steps=1"
                      " --set model.bimodal_prior_mean=2 --logdir=" +
                      ::testing::TempDir() + "toy_refuse 2>&1";
    FILE *f = popen(cmd.c_str(), "r");
    ASSERT_NE(f, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, f) != nullptr)
        out += buf;
    int rc = pclose(f);
    EXPECT_NE(rc, 0) << out;
    EXPECT_NE(out.find("bimodal_prior_mean"), std::string::npos) << out;
}

// Through the host: the model's preference hands its values to the toy
// dataset's [dataset] keys (config.ini records them and where they came from).
TEST(ToyData, HostPassesTheModelsValuesToTheData)
{
    struct Case {
        const char *model, *sets, *keys[3], *values[3];
    } cases[] = {{"forward", " --set model.variance=0.3 --set model.num_timesteps=4",
                  {"model", "variance", "num_timesteps"}, {"forward", "0.3", "4"}},
                 {"long_chain", " --set model.variance=0.3 --set model.steps_per_observation=2",
                  {"model", "variance", "steps_per_observation"}, {"long_chain", "0.3", "2"}}};
    for (const Case &c : cases) {
        SCOPED_TRACE(c.model);
        fivo_test::TempDir tmp; // a fresh logdir: an old one's config.ini would be resumed
        ASSERT_FALSE(tmp.path.empty());
        const std::string logdir = tmp.path;
        std::string cmd = std::string(FIVO_TEST_HOST) + " --mode=train --model=" + c.model +
                          " --bound=fivo --max_steps=1 --batch_size=2 --num_samples=2" + c.sets +
                          " --logdir=" + logdir + " 2>&1";
        FILE *f = popen(cmd.c_str(), "r");
        ASSERT_NE(f, nullptr);
        std::string out;
        char buf[512];
        while (fgets(buf, sizeof buf, f) != nullptr)
            out += buf;
        ASSERT_EQ(pclose(f), 0) << out;
        FILE *ini = std::fopen((logdir + "/config.ini").c_str(), "r");
        ASSERT_NE(ini, nullptr) << logdir << "/config.ini";
        std::string section, comment;
        std::map<std::string, std::pair<std::string, std::string>> dataset; // key -> value, comment
        while (fgets(buf, sizeof buf, ini) != nullptr) {
            std::string line(buf);
            while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
                line.pop_back();
            if (line.rfind("[", 0) == 0) {
                section = line;
            } else if (line.rfind("#", 0) == 0 || line.rfind(";", 0) == 0) {
                comment += line;
            } else if (section == "[dataset]" && line.find('=') != std::string::npos) {
                size_t eq = line.find('=');
                std::string k = line.substr(0, eq), v = line.substr(eq + 1);
                while (!k.empty() && k.back() == ' ')
                    k.pop_back();
                while (!v.empty() && v.front() == ' ')
                    v.erase(0, 1);
                dataset[k] = {v, comment};
            }
            if (line.find('=') != std::string::npos || line.rfind("[", 0) == 0)
                comment.clear();
        }
        std::fclose(ini);
        for (int k = 0; k < 3; k++) {
            ASSERT_TRUE(dataset.count(c.keys[k])) << "[dataset] " << c.keys[k];
            EXPECT_EQ(dataset[c.keys[k]].first, c.values[k]) << "[dataset] " << c.keys[k];
            EXPECT_NE(dataset[c.keys[k]].second.find(std::string("model '") + c.model + "'"),
                      std::string::npos)
                << "[dataset] " << c.keys[k] << ": " << dataset[c.keys[k]].second;
        }
    }
}

namespace {

struct ToyData {
    fivo_registry *reg = fivo_registry_new();
    fivo_config *cfg = fivo_config_new();
    fivo_dataset ds{};
    bool open = false;
    fivo_error err{};
    // Without the host no model preference fills [dataset]: the test sets
    // the model's keys there itself (the dataset reads no [model] key).
    explicit ToyData(const Opts &dataset, const char *split = "train")
    {
        fivo_registry_load_file(reg, (std::string(FIVO_TEST_PLUGIN_DIR) + "/toy.so").c_str(), &err);
        for (auto &kv : dataset)
            fivo_config_set(cfg, "dataset", kv.first.c_str(), kv.second.c_str());
        open = fivo_dataset_open(reg, "toy", cfg, nullptr, split, &ds, &err) == FIVO_OK;
    }
    ~ToyData()
    {
        if (open)
            fivo_dataset_close(&ds);
        fivo_config_free(cfg);
        fivo_registry_free(reg);
    }
    std::vector<float> batch(int B, uint64_t seed, uint64_t index, bool shuffle = true)
    {
        fivo_batch b{};
        fivo_error e{};
        EXPECT_EQ(fivo_dataset_read_batch(&ds, B, shuffle, seed, index, &b, &e), FIVO_OK)
            << e.message;
        return std::vector<float>(b.targets, b.targets + (size_t)b.max_len * b.batch_size);
    }
};

} // namespace

TEST(ToyData, SameSeedSameBitsAndTheModelsLaw)
{
    Opts fwd{{"model", "forward"}, {"variance", "0.1"}, {"num_timesteps", "5"}};
    ToyData a(fwd), b(fwd);
    ASSERT_TRUE(a.open && b.open) << a.err.message;
    std::vector<float> x = a.batch(4096, 17, 0), y = b.batch(4096, 17, 0), z = a.batch(4096, 18, 0);
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0);
    EXPECT_NE(std::memcmp(x.data(), z.data(), x.size() * sizeof(float)), 0);
    // x ~ N(0, v (T + 1)) = N(0, 0.6), the same value at every step
    double s = 0, s2 = 0;
    for (int i = 0; i < 4096; i++) {
        EXPECT_EQ(x[i], x[4 * 4096 + i]);
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    EXPECT_NEAR(s / 4096, 0.0, 4 * std::sqrt(0.6 / 4096));
    EXPECT_NEAR(s2 / 4096, 0.6, 4 * 0.6 * std::sqrt(2.0 / 4096));

    // bimodal with w = 0.8 at +2: the mean is (2w - 1) m = 1.2
    ToyData bi({{"model", "forward"}, {"p_type", "bimodal"}, {"bimodal_prior_weight", "0.8"},
                {"bimodal_prior_mean", "2"}});
    ASSERT_TRUE(bi.open) << bi.err.message;
    std::vector<float> xb = bi.batch(4096, 5, 0);
    double sb = 0;
    for (int i = 0; i < 4096; i++)
        sb += xb[i];
    EXPECT_NEAR(sb / 4096, 1.2, 0.1);

    // long_chain: observations at steps s, 2s, ...; zero elsewhere
    ToyData lc({{"model", "long_chain"}, {"num_observations", "2"}, {"steps_per_observation", "3"}});
    ASSERT_TRUE(lc.open) << lc.err.message;
    std::vector<float> xl = lc.batch(8, 1, 0);
    ASSERT_EQ(xl.size(), 7u * 8u);
    for (int t = 0; t < 7; t++)
        for (int i = 0; i < 8; i++)
            if (t % 3 != 0 || t == 0)
                EXPECT_EQ(xl[t * 8 + i], 0.0f);
            else
                EXPECT_NE(xl[t * 8 + i], 0.0f);
}

TEST(ToyModels, SameSeedSameBits)
{
    for (const char *model : {"forward", "long_chain"}) {
        SCOPED_TRACE(model);
        Seqs s(6, 2);
        s.fill_forward({0.3f, 1.7f});
        std::vector<float> out[2];
        for (int run = 0; run < 2; run++) {
            Opts o;
            if (std::strcmp(model, "forward") == 0)
                o.push_back({"num_timesteps", "6"});
            mh::Loaded m(model, o, real_spec(6));
            ASSERT_TRUE(m.have_model && m.have_resampler) << m.err.message;
            fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
            fivo_ctx_set_seed(ctx, 42, 0);
            fivo_smc_options so{8, FIVO_RESAMPLE_ALWAYS, 0.5, &m.resampler, sizeof(fivo_smc_options)};
            fivo_smc_result res{};
            fivo_error e{};
            ASSERT_EQ(fivo_smc_run(ctx, &m.model, &s.batch, &so, &res, &e), FIVO_OK) << e.message;
            out[run].assign(res.log_phat->data, res.log_phat->data + 2);
            fivo_ctx_free(ctx);
        }
        EXPECT_EQ(std::memcmp(out[0].data(), out[1].data(), 2 * sizeof(float)), 0);
    }
}

// The tilt extension (for fivo-aux): a one-hot of t and z_t, so a linear
// tilt has per-step offsets as the reference's R.
TEST(ToyForward, TiltExtensionFeatures)
{
    mh::Loaded m("forward", {}, real_spec(5));
    ASSERT_TRUE(m.have_model) << m.err.message;
    const fivo_ext_tilt *e = fivo_model_ext_tilt(&m.model);
    ASSERT_NE(e, nullptr);
    fivo_tilt_spec ts{};
    e->describe(m.model.self, &ts);
    EXPECT_EQ(ts.h_size, 5);
    EXPECT_EQ(ts.lat_size, 1);
    EXPECT_EQ(ts.num_hidden, 0);
    EXPECT_FALSE(ts.binary);
    fivo_ctx *ctx = fivo_ctx_new(1 << 16, 0);
    fivo_state st{};
    st.count = 1;
    st.t[0] = fivo_tensor_fill(ctx, 3, 1, 0.25f);
    const fivo_tensor *h = nullptr, *lat = nullptr;
    fivo_error e2{};
    ASSERT_EQ(e->features(m.model.self, ctx, &st, 2, &h, &lat, &e2), FIVO_OK) << e2.message;
    ASSERT_EQ(h->cols, 5);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 5; c++)
            EXPECT_EQ(h->data[r * 5 + c], c == 2 ? 1.0f : 0.0f);
    EXPECT_EQ(lat, st.t[0]);
    EXPECT_NE(e->features(m.model.self, ctx, &st, 7, &h, &lat, &e2), FIVO_OK);
    fivo_ctx_free(ctx);
}
