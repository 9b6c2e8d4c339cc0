// The fivo-aux-td bound (the reference's fivo_aux_td: a Gaussian twist over
// z_{t+1}, stop-gradient in the weights, trained by a Bellman loss):
//  - the closed-form log r against a Monte-Carlo estimate of E_p[r~(z)];
//  - the Bellman loss's (semi-)gradient and the bound's gradient against
//    central differences;
//  - stop-gradient semantics: log p-hat gives the twist no gradient, and
//    without resampling the bound and its gradient are plain FIVO's;
//  - models without the extension, or with the 2.0 one, refused by name;
//  - through the host on the build's JSB-like pianoroll fixture: the run trains, logs
//    bellman_loss and log_r_diff, and gives the same bits on 1 and 2 threads.
#include "bound_harness.h"
#include "gradcheck.h"
#include "host_runner.h"
#include "test_data.h"
#include "twist.h"

#include <fivo/ext_tilt.h>
#include <fivo/internal/registry.h>

#include <cstdio>

namespace {

using bh::grads_of;
using bh::perturb;
using bh::spec_of;

// fivo-aux-td (a.tw) and plain FIVO (a.plain) on a latent-3 vrnn or srnn.
struct Td : bh::Twisted {
    Td(const char *model, const char *proposal, const mh::TinyBatch &tb, bool binary, const char *crit,
       bool input_grad = true)
        : bh::Twisted("fivo-aux-td", model, {{"latent_size", "3"}, {"proposal_type", proposal}},
                      spec_of(tb, binary), crit,
                      input_grad ? bh::Settings{} : bh::Settings{{"twist_input_grad", "false"}})
    {
    }
};

bool is_twist(const char *name) { return bh::has_prefix(name, "fivo-aux-td/"); }

} // namespace

// log r = log E_{z ~ N(mu_p, sigma_p^2)} exp(-1/2 sum prec (z - mu)^2): the
// closed form against 400k draws, within 4 standard errors (delta method).
TEST(FivoAuxTd, ClosedFormLogRMatchesMonteCarlo)
{
    std::mt19937_64 g(3);
    std::normal_distribution<double> n(0, 1);
    const int Z = 3, M = 400000;
    for (int rep = 0; rep < 4; rep++) {
        float mu[Z], prec[Z], mu_p[Z], sigma_p[Z];
        for (int j = 0; j < Z; j++) {
            mu[j] = (float)(0.7 * n(g));
            prec[j] = (float)(0.2 + rep * 0.6 + 0.3 * j);
            mu_p[j] = (float)(0.5 * n(g));
            sigma_p[j] = (float)(0.4 + 0.3 * j);
        }
        double s = 0, s2 = 0;
        for (int k = 0; k < M; k++) {
            double e = 0;
            for (int j = 0; j < Z; j++) {
                double z = mu_p[j] + sigma_p[j] * n(g);
                e += prec[j] * (z - mu[j]) * (z - mu[j]);
            }
            double r = std::exp(-0.5 * e);
            s += r;
            s2 += r * r;
        }
        double mean = s / M, var = s2 / M - mean * mean;
        double se_log = std::sqrt(var / M) / mean;
        double closed = fivo_auxtd_log_r(mu, prec, mu_p, sigma_p, Z);
        EXPECT_NEAR(closed, std::log(mean), 4 * se_log + 1e-6) << "rep " << rep;
        EXPECT_LT(closed, 0.0); // r~ <= 1
    }
    // a flat twist (prec 0) is log r = 0
    float zero[2] = {0, 0}, one[2] = {1, 2};
    EXPECT_EQ(fivo_auxtd_log_r(one, zero, zero, one, 2), 0.0);
}

// The Bellman loss's gradient wrt the twist's mean and precision (its
// targets held at their values, as the stop-gradient means) against
// central differences, over filters with and without a valid step.
TEST(FivoAuxTd, BellmanGradientMatchesFiniteDifferences)
{
    const int N = 3, B = 2, Z = 2, rows = N * B;
    std::mt19937 g(8);
    gc::Input z = gc::random_input(g, rows, Z), mu = gc::random_input(g, rows, Z),
              raw = gc::random_input(g, rows, Z);
    z.grad = false;
    std::vector<float> lpx(rows), logr(rows), lrt(rows), target(rows);
    std::uniform_real_distribution<float> u(-2, 0);
    for (int r = 0; r < rows; r++) {
        lpx[r] = u(g);
        logr[r] = u(g);
    }
    uint8_t keep[B] = {1, 0};
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    // the targets at the unperturbed point
    {
        fivo_tensor *zt = fivo_tensor_from(ctx, rows, Z, z.v.data());
        fivo_tensor *m = fivo_tensor_from(ctx, rows, Z, mu.v.data());
        fivo_tensor *p = fivo_softplus(ctx, fivo_tensor_from(ctx, rows, Z, raw.v.data()));
        fivo_tensor *l = fivo_auxtd_log_r_tilde(ctx, zt, m, p);
        for (int r = 0; r < rows; r++)
            lrt[r] = l->data[r];
        fivo_auxtd_td_targets(lrt.data(), lpx.data(), logr.data(), N, B, target.data());
        // lambda centres the targets: per filter, mean(lrt - target) = 0
        for (int b = 0; b < B; b++) {
            double d = 0;
            for (int q = 0; q < N; q++)
                d += lrt[q * B + b] - target[q * B + b];
            EXPECT_NEAR(d, 0.0, 1e-4);
        }
    }
    gc::Checker ch(ctx, {z, mu, raw}, {}, [&](fivo_ctx *c, const std::vector<fivo_tensor *> &in) {
        fivo_tensor *l = fivo_auxtd_log_r_tilde(c, in[0], in[1], fivo_softplus(c, in[2]));
        return std::vector<fivo_tensor *>{fivo_auxtd_bellman(c, l, target.data(), keep, N, B)};
    });
    gc::Result r = ch.run(1e-3, 0.05);
    EXPECT_EQ(r.checked, 2 * rows * Z);
    EXPECT_LT(r.max_err, 1e-2) << r.where;
    fivo_ctx_free(ctx);
}

// d(log p-hat)/d(every parameter) against central differences through the
// engine, without resampling (with it, the stopped twist terms move log
// p-hat while carrying no gradient by design). The twist's own gradient from
// log p-hat is exactly 0.
TEST(FivoAuxTd, BoundGradientMatchesFiniteDifferences)
{
    for (const char *model : {"vrnn", "srnn"}) {
        mh::TinyBatch tb(4, 2, 5, true, 11);
        Td a(model, "filtering", tb, true, "never");
        ASSERT_TRUE(a.ok);
        perturb(a.m.params);
        fivo_ctx *ctx = fivo_ctx_new(1 << 21, 0);
        gc::Checker ch(ctx, {}, a.m.all_params(), [&](fivo_ctx *c, const std::vector<fivo_tensor *> &) {
            fivo_ctx_set_seed(c, 99, 3);
            fivo_smc_result res{};
            fivo_error e{};
            EXPECT_EQ(fivo_bound_compute(&a.tw, c, &a.m.model, &a.m.resampler, &tb.batch, 2, &res, &e),
                      FIVO_OK)
                << e.message;
            return std::vector<fivo_tensor *>{res.log_phat};
        });
        gc::Result r = ch.run(2e-3, 0.1);
        std::printf("%s: %d gradients, worst relative error %.2e (%s)\n", model, r.checked, r.max_err,
                    r.where.c_str());
        EXPECT_GT(r.checked, 100);
        EXPECT_LT(r.max_err, 5e-2) << model << ": " << r.where;
        fivo_ctx_free(ctx);
    }
}

// Stop-gradient: (1) without resampling fivo-aux-td's log p-hat and its
// gradient wrt every model parameter are plain FIVO's (the twist enters
// nowhere there) and the twist gets none; (2) resampling at every step the
// twist changes log p-hat but still gets no gradient from it, only from
// the Bellman loss, which leaves the model's emission untouched.
TEST(FivoAuxTd, TwistTrainsOnlyThroughTheBellmanLoss)
{
    for (const char *model : {"vrnn", "srnn"})
        for (bool binary : {true, false}) {
            mh::TinyBatch tb(5, 3, 4, binary, 3);
            fivo_ctx *ctx = fivo_ctx_new(1 << 21, 0);
            {
                Td a(model, "filtering", tb, binary, "never");
                ASSERT_TRUE(a.ok);
                perturb(a.m.params);
                fivo_ctx_reset(ctx);
                fivo_tensor *x = a.run(ctx, a.tw, tb.batch, 4);
                auto gx = grads_of(ctx, a.m.params, x);
                std::vector<float> xv(x->data, x->data + 3);
                fivo_ctx_reset(ctx);
                fivo_tensor *y = a.run(ctx, a.plain, tb.batch, 4);
                auto gy = grads_of(ctx, a.m.params, y);
                for (int b = 0; b < 3; b++)
                    EXPECT_NEAR(xv[b], y->data[b], 2e-5 * std::max(1.0f, std::fabs(y->data[b])))
                        << model << " seq " << b;
                for (int i = 0; i < fivo_params_count(a.m.params); i++) {
                    const char *name;
                    fivo_params_at(a.m.params, i, &name);
                    for (size_t k = 0; k < gx[i].size(); k++) {
                        if (is_twist(name))
                            ASSERT_EQ(gx[i][k], 0.0f) << name;
                        else
                            ASSERT_NEAR(gx[i][k], gy[i][k], 1e-4 * std::max(1.0f, std::fabs(gy[i][k])))
                                << model << " " << name << "[" << k << "]";
                    }
                }
            }
            {
                Td a(model, "filtering", tb, binary, "always");
                ASSERT_TRUE(a.ok);
                perturb(a.m.params);
                // a twist that is not flat
                for (int i = 0; i < fivo_params_count(a.m.params); i++) {
                    const char *name;
                    fivo_tensor *t = fivo_params_at(a.m.params, i, &name);
                    if (is_twist(name) && std::string(name).find("/b") != std::string::npos)
                        for (size_t k = 0; k < fivo_tensor_size(t); k++)
                            t->data[k] += 5.0f;
                }
                fivo_ctx_reset(ctx);
                fivo_tensor *bell = nullptr;
                fivo_tensor *x = a.run(ctx, a.tw, tb.batch, 4, &bell);
                ASSERT_NE(bell, nullptr);
                std::vector<float> xv(x->data, x->data + 3);
                auto gb = grads_of(ctx, a.m.params, bell);
                fivo_ctx_reset(ctx);
                x = a.run(ctx, a.tw, tb.batch, 4);
                auto gx = grads_of(ctx, a.m.params, x);
                fivo_ctx_reset(ctx);
                fivo_tensor *y = a.run(ctx, a.plain, tb.batch, 4);
                double diff = 0, twist_b = 0;
                for (int b = 0; b < 3; b++)
                    diff = std::max(diff, (double)std::fabs(xv[b] - y->data[b]));
                EXPECT_GT(diff, 1e-3) << model << ": the twist should change a resampling filter";
                for (int i = 0; i < fivo_params_count(a.m.params); i++) {
                    const char *name;
                    fivo_params_at(a.m.params, i, &name);
                    for (size_t k = 0; k < gx[i].size(); k++) {
                        if (is_twist(name)) {
                            ASSERT_EQ(gx[i][k], 0.0f) << name;
                            twist_b += std::fabs(gb[i][k]);
                        } else if (std::string(name).find("/emission/") != std::string::npos) {
                            ASSERT_EQ(gb[i][k], 0.0f) << name; // the target is stopped
                        }
                    }
                }
                EXPECT_GT(twist_b, 1e-3) << model << ": the Bellman loss should train the twist";
            }
            fivo_ctx_free(ctx);
        }
}

// The toy models offer the 2.1 twist terms: on forward and long_chain the
// bound without resampling is FIVO's (the twist telescopes) and, resampling,
// the Bellman loss trains the twist.
TEST(FivoAuxTd, ToyModelsOfferTheTwistTerms)
{
    const std::pair<const char *, bh::Settings> models[] = {
        {"forward", {{"num_timesteps", "5"}}},
        {"long_chain", {{"num_observations", "2"}, {"steps_per_observation", "2"}}}};
    for (const auto &mo : models) {
        bh::ToyBatch tb(5, 3, 7);
        fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
        for (const char *crit : {"never", "always"}) {
            bh::Twisted a("fivo-aux-td", mo.first, mo.second, tb.spec(), crit);
            ASSERT_TRUE(a.ok) << mo.first;
            perturb(a.m.params);
            fivo_ctx_reset(ctx);
            fivo_tensor *bell = nullptr;
            fivo_tensor *x = a.run(ctx, a.tw, tb.batch, 4, &bell);
            ASSERT_NE(bell, nullptr) << mo.first;
            std::vector<float> xv(x->data, x->data + 3);
            auto gb = grads_of(ctx, a.m.params, bell);
            double twist = 0;
            for (int i = 0; i < fivo_params_count(a.m.params); i++) {
                const char *name;
                fivo_params_at(a.m.params, i, &name);
                for (float g : gb[i])
                    if (is_twist(name))
                        twist += std::fabs(g);
            }
            EXPECT_GT(twist, 1e-6) << mo.first << " " << crit;
            fivo_ctx_reset(ctx);
            fivo_tensor *y = a.run(ctx, a.plain, tb.batch, 4);
            if (std::string(crit) == "never") {
                for (int b = 0; b < 3; b++)
                    EXPECT_NEAR(xv[b], y->data[b], 2e-5 * std::max(1.0f, std::fabs(y->data[b])))
                        << mo.first << " seq " << b;
            }
        }
        fivo_ctx_free(ctx);
    }
}

// [bound] twist_input_grad = false: the Bellman loss trains the twist and
// nothing else (by default it also reaches the model's h_t and z_t encoding).
TEST(FivoAuxTd, TwistInputGradOffKeepsTheBellmanLossOnTheTwist)
{
    for (const char *model : {"vrnn", "srnn"})
        for (bool input_grad : {true, false}) {
            mh::TinyBatch tb(5, 3, 4, true, 3);
            fivo_ctx *ctx = fivo_ctx_new(1 << 21, 0);
            Td a(model, "filtering", tb, true, "always", input_grad);
            ASSERT_TRUE(a.ok);
            perturb(a.m.params);
            fivo_tensor *bell = nullptr;
            a.run(ctx, a.tw, tb.batch, 4, &bell);
            ASSERT_NE(bell, nullptr);
            auto gb = grads_of(ctx, a.m.params, bell);
            double twist = 0, other = 0;
            for (int i = 0; i < fivo_params_count(a.m.params); i++) {
                const char *name;
                fivo_params_at(a.m.params, i, &name);
                for (float g : gb[i])
                    (is_twist(name) ? twist : other) += std::fabs(g);
            }
            EXPECT_GT(twist, 1e-4) << model;
            if (input_grad)
                EXPECT_GT(other, 1e-6) << model;
            else
                EXPECT_EQ(other, 0.0) << model;
            fivo_ctx_free(ctx);
        }
}

namespace {

// A model offering only the 2.0 fivo.ext.tilt (describe, features).
void old_describe(const void *, fivo_tilt_spec *out)
{
    out->h_size = 2;
    out->lat_size = 2;
    out->num_hidden = 1;
    out->hidden[0] = 3;
    out->binary = true;
}
fivo_status old_features(const void *, fivo_ctx *, const fivo_state *, int, const fivo_tensor **,
                         const fivo_tensor **, fivo_error *err)
{
    return fivo_error_set(err, FIVO_ERR_INVALID, "unused");
}
const fivo_ext_tilt kOldTilt = {offsetof(fivo_ext_tilt, latent_size), old_describe, old_features,
                                nullptr, nullptr, nullptr, nullptr};
const void *old_ext(const char *uri)
{
    return std::string(uri) == FIVO_EXT_TILT_URI ? &kOldTilt : nullptr;
}

} // namespace

TEST(FivoAuxTd, ModelsWithoutTheTwistSlotsAreRefusedByName)
{
    fivo_registry *reg = fivo_registry_new();
    fivo_error err{};
    std::string dir = FIVO_TEST_PLUGIN_DIR;
    ASSERT_EQ(fivo_registry_load_file(reg, (dir + "/ghmm.so").c_str(), &err), FIVO_OK);
    ASSERT_EQ(fivo_registry_load_file(reg, (dir + "/fivo-aux-td.so").c_str(), &err), FIVO_OK);
    ASSERT_EQ(fivo_registry_load_file(reg, (dir + "/fivo-aux.so").c_str(), &err), FIVO_OK);
    fivo_config *cfg = fivo_config_new();
    fivo_params *params = fivo_params_new(1);
    fivo_data_spec spec{1, "real", nullptr, 5, sizeof(fivo_data_spec)};
    fivo_model model{};
    fivo_bound b{};
    ASSERT_EQ(fivo_model_open(reg, "ghmm", cfg, &spec, params, &model, &err), FIVO_OK);
    ASSERT_EQ(fivo_bound_open(reg, "fivo-aux-td", cfg, &b, &err), FIVO_OK);
    EXPECT_EQ(fivo_bound_bind(&b, &model, &spec, params, &err), FIVO_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(err.message).find("'ghmm'"), std::string::npos) << err.message;
    EXPECT_NE(std::string(err.message).find("fivo.ext.tilt"), std::string::npos) << err.message;
    fivo_bound_close(&b);
    fivo_model_close(&model);

    // a 2.0 tilt extension: fivo-aux binds, fivo-aux-td names the missing slot
    fivo_model old{};
    old.name = "oldtilt";
    old.extension_data = old_ext;
    fivo_data_spec spec2{3, "binary", nullptr, 5, sizeof(fivo_data_spec)};
    fivo_bound aux{}, td{};
    ASSERT_EQ(fivo_bound_open(reg, "fivo-aux", cfg, &aux, &err), FIVO_OK);
    EXPECT_EQ(fivo_bound_bind(&aux, &old, &spec2, params, &err), FIVO_OK) << err.message;
    ASSERT_EQ(fivo_bound_open(reg, "fivo-aux-td", cfg, &td, &err), FIVO_OK);
    EXPECT_EQ(fivo_bound_bind(&td, &old, &spec2, params, &err), FIVO_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(err.message).find("'oldtilt'"), std::string::npos) << err.message;
    EXPECT_NE(std::string(err.message).find("latent_size"), std::string::npos) << err.message;
    fivo_bound_close(&aux);
    fivo_bound_close(&td);
    fivo_params_free(params);
    fivo_config_free(cfg);
    fivo_registry_free(reg);
}

using bh::slurp;

// Through the host: trains on the JSB-like fixture, logs the twist's
// metrics, and gives the same checkpoint bits on 1 and 2 threads (2 shards)
// and on a rerun.
TEST(FivoAuxTd, HostTrainsLogsMetricsAndIsDeterministic)
{
    fivo_test::TempDir tmp;
    const std::string data = fivo_test::fixture(FIXTURE_JSB_LIKE);
    auto train = [&](const std::string &name, int threads, const std::string &model) {
        std::string logdir = tmp.path + "/" + name;
        auto r = fivo_test::run({"--mode=train", "--model=" + model, "--bound=fivo-aux-td",
                                 "--dataset_path=" + data, "--logdir=" + logdir, "--latent_size=8",
                                 "--batch_size=4", "--num_samples=4", "--random_seed=3",
                                 "--learning_rate=0.01", "--max_steps=20", "--summarize_every=10",
                                 "--shards=2", "--threads=" + std::to_string(threads)});
        EXPECT_EQ(r.status, 0) << r.out << r.err;
        return logdir;
    };
    for (const char *model : {"vrnn", "srnn"}) {
        std::string a = train(std::string(model) + "1", 1, model);
        std::string metrics = slurp(a + "/metrics.jsonl");
        EXPECT_TRUE(fivo_test::has(metrics, "\"bellman_loss\"")) << metrics;
        EXPECT_TRUE(fivo_test::has(metrics, "\"log_r_diff\"")) << metrics;
        std::string ck = slurp(a + "/ckpt-000000000020.fivo");
        ASSERT_FALSE(ck.empty()) << "no checkpoint in " << a;
        EXPECT_TRUE(ck == slurp(train(std::string(model) + "2", 2, model) + "/ckpt-000000000020.fivo"))
            << model << ": 1 and 2 threads differ";
        EXPECT_TRUE(ck == slurp(train(std::string(model) + "r", 1, model) + "/ckpt-000000000020.fivo"))
            << model << ": a rerun differs";
    }
}
