// The sixo bound (FIVO twisted by a density-ratio classifier r(z_t, x_{t+1:T})):
//  - a zero twist is FIVO bit for bit (value and every model gradient),
//    resampling or not, on the vrnn (smoothing proposal), forward and
//    long_chain;
//  - the bound's gradient (no resampling) and the classifier loss's gradient
//    wrt the twist against central differences; log p-hat gives the twist
//    no gradient and the classifier loss gives the model none;
//  - a filter in segments (recomputed in backward) gives the same bits;
//  - models without the extension or its 2.2 slots, a vrnn without the
//    reverse LSTM, and shuffled negatives in a shard of one sequence refused
//    by name;
//  - through the host on the forward model (whose true ratio is
//    p(x | z_t) / p(x), Gaussian): the classifier loss falls below log 2 and
//    its accuracy rises above 1/2; the metrics are logged; 1 and 2 threads
//    give the same bits.
#include "bound_harness.h"
#include "gradcheck.h"
#include "host_runner.h"
#include "test_data.h"

#include <fivo/ext_tilt.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace {

using bh::grads_of;
using bh::perturb;

bool is_twist(const char *name) { return bh::has_prefix(name, "sixo/"); }

// One model configuration and its batch.
struct Case {
    const char *model;
    bh::Settings opts;
    bool binary;
    int T, B;
};

const Case kCases[] = {
    {"vrnn", {{"latent_size", "3"}, {"proposal_type", "smoothing"}}, true, 5, 3},
    {"vrnn", {{"latent_size", "3"}, {"proposal_type", "smoothing"}}, false, 4, 3},
    {"forward", {{"num_timesteps", "5"}}, false, 5, 3},
    {"long_chain", {{"num_observations", "2"}, {"steps_per_observation", "2"}}, false, 5, 3},
};

// The case's batch: a tiny random one for the vrnn (lengths T - b), a
// full-length toy one for the toy models.
struct AnyBatch {
    mh::TinyBatch tiny;
    bh::ToyBatch toy;
    bool is_toy;
    explicit AnyBatch(const Case &c, unsigned seed = 3)
        : tiny(c.T, c.B, 4, c.binary, seed), toy(c.T, c.B, seed),
          is_toy(std::strcmp(c.model, "vrnn") != 0)
    {
    }
    const fivo_batch &batch() const { return is_toy ? toy.batch : tiny.batch; }
    fivo_data_spec spec(const Case &c) const
    {
        if (!is_toy)
            return bh::spec_of(tiny, c.binary);
        fivo_data_spec s{};
        s.dim = 1;
        s.kind = "real";
        s.num_timesteps = c.T;
        return s;
    }
};

struct Sixo : bh::Twisted {
    Sixo(const Case &c, const AnyBatch &ab, const char *crit, const bh::Settings &bound_opts = {})
        : bh::Twisted("sixo", c.model, c.opts, ab.spec(c), crit, bound_opts)
    {
    }
    // Sets the twist's output layer to 0 (a flat twist) or moves it to a
    // twist that is not.
    void set_output_layer(bool zero)
    {
        int last = -1;
        for (int i = 0; i < fivo_params_count(m.params); i++) {
            const char *name;
            fivo_params_at(m.params, i, &name);
            if (is_twist(name))
                last = i;
        }
        ASSERT_GE(last, 1);
        for (int i : {last - 1, last}) { // the output layer's w and b
            fivo_tensor *t = fivo_params_at(m.params, i, nullptr);
            for (size_t k = 0; k < fivo_tensor_size(t); k++)
                t->data[k] = zero ? 0.0f : 1.5f * std::sin(1.0f + 3.0f * (float)k);
        }
    }
};

} // namespace

// A zero twist adds exactly 0 to every weight: log p-hat and the gradient of
// every model parameter are plain FIVO's to the bit, resampling or not; the
// twist gets no gradient from log p-hat.
TEST(Sixo, ZeroTwistIsFivoBitForBit)
{
    for (const Case &c : kCases)
        for (const char *crit : {"always", "ess", "never"}) {
            AnyBatch ab(c);
            Sixo a(c, ab, crit);
            ASSERT_TRUE(a.ok) << c.model;
            perturb(a.m.params);
            a.set_output_layer(true);
            fivo_ctx *ctx = fivo_ctx_new(1 << 21, 0);
            fivo_tensor *x = a.run(ctx, a.tw, ab.batch(), 4);
            ASSERT_NE(x, nullptr);
            std::vector<float> xv(x->data, x->data + c.B);
            auto gx = grads_of(ctx, a.m.params, x);
            fivo_ctx_reset(ctx);
            fivo_tensor *y = a.run(ctx, a.plain, ab.batch(), 4);
            ASSERT_NE(y, nullptr);
            auto gy = grads_of(ctx, a.m.params, y);
            EXPECT_EQ(std::memcmp(xv.data(), y->data, sizeof(float) * c.B), 0)
                << c.model << " " << crit << ": " << xv[0] << " vs " << y->data[0];
            for (int i = 0; i < fivo_params_count(a.m.params); i++) {
                const char *name;
                fivo_params_at(a.m.params, i, &name);
                for (size_t k = 0; k < gx[i].size(); k++)
                    if (is_twist(name))
                        ASSERT_EQ(gx[i][k], 0.0f) << name;
                    else
                        ASSERT_EQ(gx[i][k], gy[i][k]) << c.model << " " << crit << " " << name << "["
                                                      << k << "]";
            }
            fivo_ctx_free(ctx);
        }
}

// A twist that is not flat changes a resampling filter's log p-hat; without
// resampling its terms telescope (FIVO's value up to rounding).
TEST(Sixo, TwistChangesOnlyAResamplingFilter)
{
    for (const Case &c : kCases)
        for (const char *crit : {"always", "never"}) {
            AnyBatch ab(c);
            Sixo a(c, ab, crit);
            ASSERT_TRUE(a.ok) << c.model;
            perturb(a.m.params);
            a.set_output_layer(false);
            fivo_ctx *ctx = fivo_ctx_new(1 << 21, 0);
            fivo_tensor *x = a.run(ctx, a.tw, ab.batch(), 4);
            std::vector<float> xv(x->data, x->data + c.B);
            fivo_ctx_reset(ctx);
            fivo_tensor *y = a.run(ctx, a.plain, ab.batch(), 4);
            double diff = 0;
            for (int b = 0; b < c.B; b++)
                diff = std::max(diff, (double)std::fabs(xv[b] - y->data[b]));
            if (std::strcmp(crit, "never") == 0)
                EXPECT_LT(diff, 1e-4) << c.model;
            else
                EXPECT_GT(diff, 1e-3) << c.model << ": the twist should change a resampling filter";
            fivo_ctx_free(ctx);
        }
}

// d(log p-hat)/d(every parameter) against central differences through the
// engine, without resampling (with it, the stopped twist terms move log
// p-hat while carrying no gradient by design).
TEST(Sixo, BoundGradientMatchesFiniteDifferences)
{
    for (const Case &c : kCases) {
        AnyBatch ab(c, 11);
        Sixo a(c, ab, "never");
        ASSERT_TRUE(a.ok);
        perturb(a.m.params);
        a.set_output_layer(false);
        fivo_ctx *ctx = fivo_ctx_new(1 << 21, 0);
        gc::Checker ch(ctx, {}, a.m.all_params(), [&](fivo_ctx *cx, const std::vector<fivo_tensor *> &) {
            fivo_ctx_set_seed(cx, 99, 3);
            fivo_smc_result res{};
            fivo_error e{};
            EXPECT_EQ(fivo_bound_compute(&a.tw, cx, &a.m.model, &a.m.resampler, &ab.batch(), 2, &res, &e),
                      FIVO_OK)
                << e.message;
            return std::vector<fivo_tensor *>{res.log_phat};
        });
        gc::Result r = ch.run(2e-3, 0.1);
        std::printf("%s: %d gradients, worst relative error %.2e (%s)\n", c.model, r.checked, r.max_err,
                    r.where.c_str());
        EXPECT_GT(r.checked, 10);
        EXPECT_LT(r.max_err, 5e-2) << c.model << ": " << r.where;
        fivo_ctx_free(ctx);
    }
}

// The classifier loss's gradient wrt the twist's parameters against central
// differences (without resampling the pairs and their weights do not move
// with the twist), and it reaches no model parameter; for both kinds of
// negatives.
TEST(Sixo, ClassifierLossGradientMatchesFiniteDifferences)
{
    for (const char *neg : {"shuffled", "filtering"})
    for (const Case &c : kCases) {
        AnyBatch ab(c, 5);
        // a linear classifier (no hidden layer): the loss is smooth, so no relu
        // kink falls between the central differences (the MLP's own gradient
        // is test_layers'); what is checked is the loss's assembly
        Sixo a(c, ab, "never", {{"negatives", neg}, {"hidden_layers", "0"}});
        ASSERT_TRUE(a.ok);
        perturb(a.m.params);
        a.set_output_layer(false);
        std::vector<fivo_tensor *> twist;
        for (int i = 0; i < fivo_params_count(a.m.params); i++) {
            const char *name;
            fivo_tensor *t = fivo_params_at(a.m.params, i, &name);
            if (is_twist(name))
                twist.push_back(t);
        }
        fivo_ctx *ctx = fivo_ctx_new(1 << 21, 0);
        {
            fivo_tensor *loss = nullptr;
            std::vector<fivo_bound_metric> met;
            a.run(ctx, a.tw, ab.batch(), 3, &loss, &met);
            ASSERT_NE(loss, nullptr);
            ASSERT_EQ(met.size(), 2u);
            EXPECT_STREQ(met[0].name, "classifier_loss");
            EXPECT_STREQ(met[1].name, "classifier_accuracy");
            EXPECT_GT(met[0].sum, 0.0);
            EXPECT_GE(met[1].sum, 0.0);
            EXPECT_LE(met[1].sum, c.B + 1e-9); // a sum over sequences of fractions
            auto g = grads_of(ctx, a.m.params, loss);
            double tw = 0;
            for (int i = 0; i < fivo_params_count(a.m.params); i++) {
                const char *name;
                fivo_params_at(a.m.params, i, &name);
                for (float v : g[i])
                    if (is_twist(name))
                        tw += std::fabs(v);
                    else
                        ASSERT_EQ(v, 0.0f) << c.model << " " << name;
            }
            EXPECT_GT(tw, 1e-4) << c.model;
        }
        fivo_ctx_reset(ctx);
        gc::Checker ch(ctx, {}, twist, [&](fivo_ctx *cx, const std::vector<fivo_tensor *> &) {
            fivo_tensor *loss = nullptr;
            a.run(cx, a.tw, ab.batch(), 3, &loss);
            return std::vector<fivo_tensor *>{loss};
        });
        gc::Result r = ch.run(2e-3, 0.1);
        std::printf("%s, %s negatives: %d classifier gradients, worst relative error %.2e (%s)\n",
                    c.model, neg, r.checked, r.max_err, r.where.c_str());
        EXPECT_GE(r.checked, 8); // the input width + 1
        EXPECT_LT(r.max_err, 5e-2) << c.model << ": " << r.where;
        fivo_ctx_free(ctx);
    }
}

// A filter kept in segments and recomputed in backward (a memory budget)
// gives the same log p-hat, classifier loss and gradients, to the bit: the
// twist's per-step records live before the filter's segments.
TEST(Sixo, SegmentedFilterGivesTheSameBits)
{
    const Case &c = kCases[0];
    AnyBatch ab(c, 9);
    Sixo a(c, ab, "always");
    ASSERT_TRUE(a.ok);
    perturb(a.m.params);
    a.set_output_layer(false);
    auto once = [&](int seg) {
        fivo_ctx *ctx = fivo_ctx_new(1 << 21, 0);
        fivo_ctx_set_segment_steps(ctx, seg);
        fivo_tensor *loss = nullptr;
        std::vector<fivo_bound_metric> met;
        fivo_tensor *x = a.run(ctx, a.tw, ab.batch(), 4, &loss, &met);
        std::vector<float> v(x->data, x->data + c.B);
        v.insert(v.end(), loss->data, loss->data + c.B);
        fivo_error err{};
        fivo_params_zero_grad(a.m.params);
        EXPECT_EQ(fivo_ctx_backward(ctx, fivo_sum_all(ctx, fivo_add(ctx, x, loss)), &err), FIVO_OK)
            << err.message;
        for (int i = 0; i < fivo_params_count(a.m.params); i++) {
            fivo_tensor *t = fivo_params_at(a.m.params, i, nullptr);
            v.insert(v.end(), t->grad, t->grad + fivo_tensor_size(t));
        }
        fivo_ctx_free(ctx);
        return v;
    };
    std::vector<float> whole = once(0), seg = once(2);
    ASSERT_EQ(whole.size(), seg.size());
    EXPECT_EQ(std::memcmp(whole.data(), seg.data(), sizeof(float) * whole.size()), 0);
}

TEST(Sixo, RefusalsNameTheModelAndWhatIsMissing)
{
    fivo_error err{};
    // no tilt extension at all
    {
        fivo_registry *reg = fivo_registry_new();
        std::string dir = FIVO_TEST_PLUGIN_DIR;
        ASSERT_EQ(fivo_registry_load_file(reg, (dir + "/ghmm.so").c_str(), &err), FIVO_OK);
        ASSERT_EQ(fivo_registry_load_file(reg, (dir + "/sixo.so").c_str(), &err), FIVO_OK);
        fivo_config *cfg = fivo_config_new();
        fivo_params *params = fivo_params_new(1);
        fivo_data_spec spec{1, "real", nullptr, 5, sizeof(fivo_data_spec)};
        fivo_model model{};
        fivo_bound b{};
        ASSERT_EQ(fivo_model_open(reg, "ghmm", cfg, &spec, params, &model, &err), FIVO_OK);
        ASSERT_EQ(fivo_bound_open(reg, "sixo", cfg, &b, &err), FIVO_OK);
        EXPECT_EQ(fivo_bound_bind(&b, &model, &spec, params, &err), FIVO_ERR_UNSUPPORTED);
        EXPECT_NE(std::string(err.message).find("'ghmm'"), std::string::npos) << err.message;
        EXPECT_NE(std::string(err.message).find("fivo.ext.tilt"), std::string::npos) << err.message;
        fivo_bound_close(&b);
        fivo_model_close(&model);
        fivo_params_free(params);
        fivo_config_free(cfg);
        fivo_registry_free(reg);
    }
    // the srnn's extension has no 2.2 future slots; the vrnn's filtering
    // proposal has no reverse LSTM
    for (const char *what : {"srnn", "vrnn"}) {
        mh::TinyBatch tb(4, 2, 3, true, 1);
        mh::Loaded m(what, {{"latent_size", "3"}, {"proposal_type", "filtering"}}, bh::spec_of(tb, true));
        ASSERT_TRUE(m.have_model) << m.err.message;
        std::string dir = FIVO_TEST_PLUGIN_DIR;
        ASSERT_EQ(fivo_registry_load_file(m.reg, (dir + "/sixo.so").c_str(), &err), FIVO_OK);
        fivo_bound b{};
        ASSERT_EQ(fivo_bound_open(m.reg, "sixo", m.cfg, &b, &err), FIVO_OK);
        fivo_data_spec spec = bh::spec_of(tb, true);
        EXPECT_EQ(fivo_bound_bind(&b, &m.model, &spec, m.params, &err), FIVO_ERR_UNSUPPORTED);
        std::string msg = err.message;
        EXPECT_NE(msg.find(std::string("'") + what + "'"), std::string::npos) << msg;
        EXPECT_NE(msg.find(std::strcmp(what, "srnn") == 0 ? "future_size" : "proposal_type = smoothing"),
                  std::string::npos)
            << msg;
        fivo_bound_close(&b);
    }
    // a shard of one sequence has no other future for shuffled negatives
    // (the bound itself still computes); filtering negatives need none
    for (const char *neg : {"shuffled", "filtering"}) {
        Case c = kCases[2];
        c.B = 1;
        AnyBatch ab(c);
        Sixo a(c, ab, "always", {{"negatives", neg}});
        ASSERT_TRUE(a.ok);
        fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
        fivo_smc_result res{};
        ASSERT_EQ(fivo_bound_compute(&a.tw, ctx, &a.m.model, &a.m.resampler, &ab.batch(), 4, &res, &err),
                  FIVO_OK)
            << err.message;
        fivo_tensor *loss = nullptr;
        fivo_bound_metric met[FIVO_BOUND_MAX_METRICS];
        int n = 0;
        fivo_status st = fivo_bound_train_loss(&a.tw, ctx, &ab.batch(), &loss, met, &n, &err);
        if (std::strcmp(neg, "shuffled") == 0) {
            EXPECT_EQ(st, FIVO_ERR_INVALID);
            EXPECT_NE(std::string(err.message).find("negatives"), std::string::npos) << err.message;
            EXPECT_NE(std::string(err.message).find("--shards"), std::string::npos) << err.message;
        } else {
            EXPECT_EQ(st, FIVO_OK) << err.message;
            EXPECT_NE(loss, nullptr);
        }
        fivo_ctx_free(ctx);
    }
}

namespace {

// The value of "key" in each train report line of metrics.jsonl.
std::vector<double> series(const std::string &metrics, const std::string &key)
{
    std::vector<double> v;
    std::istringstream in(metrics);
    std::string line;
    while (std::getline(in, line)) {
        size_t at = line.find("\"" + key + "\":");
        if (at != std::string::npos)
            v.push_back(std::strtod(line.c_str() + at + key.size() + 3, nullptr));
    }
    return v;
}

} // namespace

// On the forward model the true twist is p(x | z_t) / p(x): a classifier
// that learns it tells joint pairs from shuffled ones. Trained through the
// host (2 shards of 4 sequences), its loss falls from log 2 and its accuracy
// rises above 1/2; the run is the same on 1 and 2 threads.
TEST(Sixo, HostTrainsTheClassifierOnTheForwardModel)
{
    fivo_test::TempDir tmp;
    auto train = [&](const std::string &name, int threads) {
        std::string logdir = tmp.path + "/" + name;
        auto r = fivo_test::run({"--mode=train", "--model=forward", "--bound=sixo",
                                 "--logdir=" + logdir, "--batch_size=8", "--num_samples=4",
                                 "--random_seed=3", "--learning_rate=0.01", "--max_steps=800",
                                 "--summarize_every=200", "--resampling_criterion=always",
                                 "--shards=2", "--threads=" + std::to_string(threads)});
        EXPECT_EQ(r.status, 0) << r.out << r.err;
        return logdir;
    };
    std::string a = train("t1", 1);
    std::string metrics = bh::slurp(a + "/metrics.jsonl");
    auto loss = series(metrics, "classifier_loss"), acc = series(metrics, "classifier_accuracy");
    ASSERT_GE(loss.size(), 4u) << metrics;
    ASSERT_EQ(acc.size(), loss.size()) << metrics;
    std::printf("classifier loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", loss.front(), loss.back(),
                acc.front(), acc.back());
    EXPECT_LT(loss.back(), loss.front());
    EXPECT_LT(loss.back(), std::log(2.0) - 0.02);
    EXPECT_GT(acc.back(), 0.55);
    std::string ck = bh::slurp(a + "/ckpt-000000000800.fivo");
    ASSERT_FALSE(ck.empty()) << "no checkpoint in " << a;
    EXPECT_TRUE(ck == bh::slurp(train("t2", 2) + "/ckpt-000000000800.fivo")) << "1 and 2 threads differ";
}
