// Resampling gradients by REINFORCE ([train] use_resampling_grads,
// fivo/resampling_grads.h): the wrapper's forward pass is the inner
// resampler's bits, the rewards are the later log p-hat increments, blends
// and reweighting resamplers are refused, the baseline moves as an EMA
// over the batch, and the expected gradient is the exact gradient of the
// expected bound E[log p-hat] on the SDK's linear-Gaussian example, where
// plain FIVO's (which drops the ancestor scores) is biased.
#include "host_runner.h"
#include "lgssm_example.h"
#include "test_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

extern "C" {
#include <fivo/internal/resampling_grads.h>
#include <fivo/weights.h>
}

using namespace fivo_test;

namespace {

std::string ghmm_cfg(int T, const std::string &extra)
{
    return "[model]\nproposal_type=filtering\nnum_timesteps=" + std::to_string(T) + "\nvariance=0.1\n" + extra;
}

Batch ghmm_batch(const std::vector<int> &lengths)
{
    std::vector<std::vector<float>> seqs;
    int T = *std::max_element(lengths.begin(), lengths.end());
    std::vector<double> vz(T, 0.1), vx(T, 0.1), wz(T, 1.0), wx(T, 1.0);
    for (size_t b = 0; b < lengths.size(); b++) {
        std::vector<float> s = sample_ghmm(vz, vx, wz, wx, T, 21, (uint32_t)b);
        s.resize(lengths[b]);
        seqs.push_back(s);
    }
    return Batch(seqs);
}

std::vector<std::string> ghmm_train(const std::string &dir, int steps, const std::vector<std::string> &extra)
{
    std::vector<std::string> a = {"--model=ghmm", "--bound=fivo", "--learning_rate=0.01", "--random_seed=5",
                                  "--summarize_every=10", "--proposal_type=filtering",
                                  "--max_steps=" + std::to_string(steps), "--logdir=" + dir};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

} // namespace

// Same uniforms, same ancestors, same log p-hat and weights as the inner
// resampler; the rewards are the increments after each draw (none at a
// sequence's last step), and the score is finite.
TEST(ResamplingGrads, ForwardIsTheInnerResamplersBitsAndRewardsAreLaterIncrements)
{
    Registry reg;
    const int N = 4;
    Batch b = ghmm_batch({6, 4, 5});
    const int T = b.T, B = b.B;
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    for (const char *name : {"multinomial", "systematic", "stratified", "residual"}) {
        GhmmRun run(reg, ghmm_cfg(6, "[bound]\nresampling_criterion=ess\ness_threshold=0.9\n"), "fivo", name, 6);
        fivo_error err{};
        fivo_resampling_grads *g = fivo_resampling_grads_new(&run.resampler, &err);
        ASSERT_NE(g, nullptr) << err.message;
        for (uint64_t seed = 0; seed < 8; seed++) {
            fivo_smc_result r1{}, r2{};
            std::vector<double> a = run.run(ctx, b.b, N, seed, 0, &r1);
            std::vector<uint8_t> res1(r1.resampled, r1.resampled + T * B);
            std::vector<float> w1(r1.log_weights, r1.log_weights + T * N * B);
            fivo_ctx_reset(ctx);
            fivo_ctx_set_seed(ctx, seed, 0);
            ASSERT_EQ(run.bound.vt->compute(run.bound.self, ctx, &run.model, fivo_resampling_grads_resampler(g),
                                            &b.b, N, &r2, &err),
                      FIVO_OK)
                << err.message;
            std::vector<double> c(r2.log_phat->data, r2.log_phat->data + B);
            EXPECT_EQ(a, c) << name << " seed " << seed;
            EXPECT_EQ(res1, std::vector<uint8_t>(r2.resampled, r2.resampled + T * B));
            EXPECT_EQ(w1, std::vector<float>(r2.log_weights, r2.log_weights + T * N * B));
            const int ld = T + 2;
            std::vector<double> rewards((size_t)B * ld, 0.0);
            std::vector<float> base(T, 0.5f);
            fivo_tensor *score = nullptr;
            ASSERT_EQ(fivo_resampling_grads_finish(g, ctx, &b.b, &r2, base.data(), T, &score, rewards.data(), ld, &err),
                      FIVO_OK)
                << err.message;
            ASSERT_EQ(score->rows, B);
            for (int k = 0; k < B; k++) {
                EXPECT_TRUE(std::isfinite(score->data[k]));
                const int L = b.lengths[k];
                // Increments at the draws and the last step, summed from the end.
                double later = 0;
                for (int t = L - 1; t >= 0; t--) {
                    double r = rewards[(size_t)k * ld + t];
                    bool drew = r2.resampled[t * B + k] != 0;
                    if (drew && t < L - 1)
                        EXPECT_NEAR(r, later, 1e-9) << name << " seq " << k << " t " << t;
                    else
                        EXPECT_TRUE(std::isnan(r)) << name << " seq " << k << " t " << t;
                    if (drew || t == L - 1) {
                        std::vector<double> lw(N);
                        for (int p = 0; p < N; p++)
                            lw[p] = r2.log_weights[(size_t)t * N * B + (size_t)p * B + k];
                        later += fivo_logsumexp_d(lw.data(), N) - std::log((double)N);
                    }
                }
                EXPECT_NEAR(later, a[k], 1e-4 * (1 + std::fabs(a[k])));
                for (int t = L; t < ld; t++)
                    EXPECT_TRUE(std::isnan(rewards[(size_t)k * ld + t]));
            }
        }
        fivo_resampling_grads_free(g);
    }
    fivo_ctx_free(ctx);
}

TEST(ResamplingGrads, BlendsAndReweightingAreRefusedNamingTheResampler)
{
    Registry reg;
    struct Case {
        const char *name, *cfg;
        bool ok;
    } cases[] = {
        {"multinomial", "", true}, {"systematic", "", true}, {"stratified", "", true}, {"residual", "", true},
        {"soft", "", false},       {"relaxed", "", false},   {"optimal-transport", "", false},
        {"stop-gradient", "", false},
    };
    for (const Case &cs : cases) {
        Config c(cs.cfg);
        fivo_resampler r{};
        fivo_error err{};
        ASSERT_EQ(fivo_resampler_open(reg.reg, cs.name, c.cfg, &r, &err), FIVO_OK) << err.message;
        fivo_status st = fivo_resampling_grads_check(&r, &err);
        EXPECT_EQ(st == FIVO_OK, cs.ok) << cs.name;
        if (!cs.ok) {
            EXPECT_EQ(st, FIVO_ERR_INVALID);
            EXPECT_NE(std::string(err.message).find(std::string("'") + cs.name + "'"), std::string::npos)
                << err.message;
            EXPECT_EQ(fivo_resampling_grads_new(&r, &err), nullptr);
        }
        fivo_resampler_close(&r);
    }
    fivo_error err{};
    EXPECT_EQ(fivo_resampling_grads_check(nullptr, &err), FIVO_ERR_INVALID);
}

// The EMA: per step, over the sequences with a reward there, in order.
TEST(ResamplingGrads, BaselineIsAMovingAverageOfTheBatchMeanReward)
{
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const int B = 3, ld = 4;
    std::vector<double> r = {1.0, nan, 3.0, nan, //
                             2.0, nan, nan, nan, //
                             6.0, 5.0, nan, nan};
    std::vector<float> base = {0.0f, 1.0f, 2.0f, 7.0f};
    fivo_resampling_grads_update_baseline(base.data(), 4, r.data(), B, ld, 0.94);
    EXPECT_FLOAT_EQ(base[0], (float)(0.06 * 3.0));
    EXPECT_FLOAT_EQ(base[1], (float)(0.94 * 1.0 + 0.06 * 5.0));
    EXPECT_FLOAT_EQ(base[2], (float)(0.94 * 2.0 + 0.06 * 3.0));
    EXPECT_FLOAT_EQ(base[3], 7.0f); // no reward: unchanged
}

// The gradient in expectation on the SDK's lgssm example (T = 6, N = 4,
// resampling at every step): the exact target is the gradient of the
// expected bound, d E[log p-hat] (not d log p(x): the bound's own optimum
// differs from the likelihood's), for the scheme at hand. It is estimated
// by central differences of log p-hat with common random numbers over the
// same seeds, which is unbiased for the difference of the expectations
// whatever the ancestor switches. Each estimator is compared with it by the
// paired difference's standard error. Returns, per estimator, the worst
// deviation over the parameters in standard errors.
struct GradTable {
    double worst_rf = 0, worst_rf0 = 0, worst_plain = 0;
};

static GradTable expected_gradients(const char *scheme, int S, bool with_sg)
{
    GradTable out;
    const int T = LgssmExample::T, N = 4;
    const float h = 0.02f;
    LgssmExample ex(scheme);
    fivo_registry *reg = ex.reg;
    Config &cfg = ex.cfg;
    fivo_params *params = ex.params;
    fivo_model &model = ex.model;
    Batch &b = ex.batch;
    fivo_error err{};
    const std::vector<fivo_tensor *> &ps = ex.ps;
    const size_t P = ps.size();

    fivo_resampler hard{}, sg{};
    EXPECT_EQ(fivo_resampler_open(reg, scheme, cfg.cfg, &hard, &err), FIVO_OK) << err.message;
    EXPECT_EQ(fivo_resampler_open(reg, "stop-gradient", cfg.cfg, &sg, &err), FIVO_OK) << err.message;
    fivo_resampling_grads *g = fivo_resampling_grads_new(&hard, &err);
    EXPECT_NE(g, nullptr) << err.message;
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    fivo_smc_options o{};
    o.num_particles = N;
    o.criterion = FIVO_RESAMPLE_ALWAYS;

    // One run at seed s; with grad, the parameters' gradients of log p-hat
    // (+ the score when with_score) land in grads.
    auto run = [&](uint64_t s, const fivo_resampler *rs, bool grad, bool with_score, const float *base,
                   std::vector<double> *grads, std::vector<double> *rewards) -> double {
        fivo_ctx_reset(ctx);
        fivo_ctx_set_grad_enabled(ctx, grad);
        fivo_ctx_set_seed(ctx, 77, s);
        fivo_params_zero_grad(params);
        o.resampler = with_score ? fivo_resampling_grads_resampler(g) : rs;
        fivo_smc_result res{};
        EXPECT_EQ(fivo_smc_run(ctx, &model, &b.b, &o, &res, &err), FIVO_OK) << err.message;
        double lp = res.log_phat->data[0];
        if (!grad)
            return lp;
        fivo_tensor *obj = res.log_phat;
        if (with_score) {
            fivo_tensor *score = nullptr;
            EXPECT_EQ(fivo_resampling_grads_finish(g, ctx, &b.b, &res, base, T, &score, rewards->data(), T, &err),
                      FIVO_OK)
                << err.message;
            obj = fivo_add(ctx, obj, score);
        }
        EXPECT_EQ(fivo_ctx_backward(ctx, obj, &err), FIVO_OK) << err.message;
        for (size_t k = 0; k < P; k++)
            (*grads)[k] = ps[k]->grad[0];
        return lp;
    };

    enum { FD, RF, RF0, PLAIN, SG, K };
    const int E = with_sg ? K : SG;
    const char *names[K] = {"finite differences", "REINFORCE (EMA baseline)", "REINFORCE (no baseline)",
                            "plain FIVO", "stop-gradient"};
    std::vector<std::vector<double>> s1(K, std::vector<double>(P, 0)), s2 = s1;
    std::vector<std::vector<double>> d1(K, std::vector<double>(P, 0)), d2 = d1; // paired: est - FD
    std::vector<float> base(T, 0.0f), zero(T, 0.0f);
    std::vector<double> rewards(T);
    std::vector<std::vector<double>> est(K, std::vector<double>(P));
    for (int s = 0; s < S; s++) {
        for (size_t k = 0; k < P; k++) {
            float keep = ps[k]->data[0];
            ps[k]->data[0] = keep + h;
            double up = run((uint64_t)s, &hard, false, false, nullptr, nullptr, nullptr);
            ps[k]->data[0] = keep - h;
            double down = run((uint64_t)s, &hard, false, false, nullptr, nullptr, nullptr);
            ps[k]->data[0] = keep;
            est[FD][k] = (up - down) / ((double)(keep + h) - (double)(keep - h));
        }
        // The trainer's use: the baseline from before the draw, moved after.
        run((uint64_t)s, &hard, true, true, base.data(), &est[RF], &rewards);
        fivo_resampling_grads_update_baseline(base.data(), T, rewards.data(), 1, T, FIVO_RESAMPLING_GRADS_DECAY);
        run((uint64_t)s, &hard, true, true, zero.data(), &est[RF0], &rewards);
        run((uint64_t)s, &hard, true, false, nullptr, &est[PLAIN], nullptr);
        if (with_sg)
            run((uint64_t)s, &sg, true, false, nullptr, &est[SG], nullptr);
        for (int e = 0; e < E; e++)
            for (size_t k = 0; k < P; k++) {
                double v = est[e][k], d = v - est[FD][k];
                s1[e][k] += v;
                s2[e][k] += v * v;
                d1[e][k] += d;
                d2[e][k] += d * d;
            }
    }
    auto sd = [&](const std::vector<std::vector<double>> &a1, const std::vector<std::vector<double>> &a2, int e,
                  size_t k) {
        double m = a1[e][k] / S;
        return std::sqrt(std::max(0.0, a2[e][k] / S - m * m));
    };
    std::printf("%s: lgssm T=%d N=%d, resampling always, %d draws; mean (per-sample sd) of each estimate of "
                "d E[log p-hat]; dev = (mean - FD mean) / paired standard error\n| parameter",
                scheme, T, N, S);
    for (int e = 0; e < E; e++)
        std::printf(" | %s", names[e]);
    std::printf(" |\n|---");
    for (int e = 0; e < E; e++)
        std::printf("|---");
    std::printf("|\n");
    for (size_t k = 0; k < P; k++) {
        const char *name = nullptr;
        fivo_params_at(params, (int)k, &name);
        std::printf("| %s | %+.3f (%.1f)", name, s1[FD][k] / S, sd(s1, s2, FD, k));
        for (int e = RF; e < E; e++) {
            double se = sd(d1, d2, e, k) / std::sqrt((double)S);
            double dev = (d1[e][k] / S) / (se + 1e-300);
            std::printf(" | %+.3f (%.1f) dev %+.1f", s1[e][k] / S, sd(s1, s2, e, k), dev);
            double &w = e == RF ? out.worst_rf : e == RF0 ? out.worst_rf0 : out.worst_plain;
            if (e != SG)
                w = std::max(w, std::fabs(dev));
        }
        std::printf(" |\n");
    }
    std::printf("%s: worst deviation, REINFORCE %.1f (no baseline %.1f) standard errors; plain FIVO %.1f\n", scheme,
                out.worst_rf, out.worst_rf0, out.worst_plain);
    fivo_ctx_free(ctx);
    fivo_resampling_grads_free(g);
    fivo_resampler_close(&hard);
    fivo_resampler_close(&sg);
    return out;
}

// Multinomial: the ancestors are independent categorical draws, so the
// score is exact: REINFORCE within 4 standard errors on every parameter,
// with and without the baseline; plain FIVO drops the scores and must miss
// (the test can fail). Stop-gradient's column estimates another target
// (d log p(x) after weighting by Z-hat / p(x)): shown for its spread.
TEST(ResamplingGrads, ExpectedGradientIsTheGradientOfTheExpectedBound)
{
    // Under valgrind (memory checks, ~50x slower) 1,500 draws: the bounds
    // are in standard errors, and plain FIVO's miss (77 standard errors at
    // 12,000 draws) still shows at ~27.
    GradTable t = expected_gradients("multinomial", fivo_test::under_valgrind() ? 1500 : 12000, true);
    EXPECT_LT(t.worst_rf, 4.0);
    EXPECT_LT(t.worst_rf0, 4.0);
    EXPECT_GT(t.worst_plain, 6.0) << "without the ancestor scores the gradient should be visibly biased";
}

// Systematic and stratified: the reference's categorical score is not the
// score of their correlated draws; measured, not asserted (docs/bounds.md).
TEST(ResamplingGrads, SystematicAndStratifiedScoreIsTheReferencesApproximation)
{
    for (const char *scheme : {"systematic", "stratified"})
        expected_gradients(scheme, fivo_test::under_valgrind() ? 500 : 4000, false);
}

// Through the host: the baseline is checkpointed (a parameter with no
// gradient), so N steps and N/2 + resume + N/2 give the same bits; one
// shard thread or two give the same bits; the option changes the training.
TEST(ResamplingGrads, HostResumeIsBitIdenticalAndThreadsDoNotMatter)
{
    const std::vector<std::string> on = {"--use_resampling_grads", "--threads=1"};
    fivo_test::TempDir a, b, c, d;
    fivo_test::Result ra = fivo_test::run(ghmm_train(a.path, 30, on));
    ASSERT_EQ(ra.status, 0) << ra.err;
    fivo_test::Result rb = fivo_test::run(ghmm_train(b.path, 13, on));
    ASSERT_EQ(rb.status, 0) << rb.err;
    ASSERT_TRUE(std::filesystem::exists(fivo_test::ckpt_path(b.path, 13)));
    rb = fivo_test::run(ghmm_train(b.path, 30, on));
    ASSERT_EQ(rb.status, 0) << rb.err;
    EXPECT_TRUE(fivo_test::has(rb.err, "resuming from")) << rb.err;
    std::string fa = fivo_test::slurp(fivo_test::ckpt_path(a.path, 30)), fb = fivo_test::slurp(fivo_test::ckpt_path(b.path, 30));
    ASSERT_GT(fa.size(), 100u);
    EXPECT_TRUE(fa == fb) << "resumed at step 13 differs from uninterrupted";
    fivo_test::Result rc = fivo_test::run(ghmm_train(c.path, 30, {"--use_resampling_grads", "--threads=2"}));
    ASSERT_EQ(rc.status, 0) << rc.err;
    EXPECT_TRUE(fivo_test::slurp(fivo_test::ckpt_path(c.path, 30)) == fa) << "two shard threads differ from one";
    fivo_test::Result rd = fivo_test::run(ghmm_train(d.path, 30, {"--threads=1"}));
    ASSERT_EQ(rd.status, 0) << rd.err;
    EXPECT_FALSE(fivo_test::slurp(fivo_test::ckpt_path(d.path, 30)) == fa) << "use_resampling_grads changed nothing in 30 steps";
}

// The baseline is trainer state (checkpoint.h's "train/" names): eval reads
// a run that had it without the option, a run resumes with the option
// turned off, and turning it on resumes a plain run's file.
TEST(ResamplingGrads, HostEvalAndResumeAcrossTheOption)
{
    fivo_test::TempDir a, b;
    fivo_test::Result r = fivo_test::run(ghmm_train(a.path, 5, {"--use_resampling_grads", "--threads=1"}));
    ASSERT_EQ(r.status, 0) << r.err;
    r = fivo_test::run({"--mode=eval", "--model=ghmm", "--proposal_type=filtering", "--logdir=" + a.path,
                        "--threads=1", "--checkpoint=" + fivo_test::ckpt_path(a.path, 5)});
    EXPECT_EQ(r.status, 0) << r.err;
    r = fivo_test::run(ghmm_train(a.path, 8, {"--threads=1"}));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(fivo_test::has(r.err, "resuming from")) << r.err;
    r = fivo_test::run(ghmm_train(b.path, 5, {"--threads=1"}));
    ASSERT_EQ(r.status, 0) << r.err;
    r = fivo_test::run(ghmm_train(b.path, 8, {"--use_resampling_grads", "--threads=1"}));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(fivo_test::has(r.err, "resuming from")) << r.err;
}

// Bad input names the key (or the resampler) and trains nothing.
TEST(ResamplingGrads, HostRefusesBadDecayBlendsAndASetMemoryBudget)
{
    struct Case {
        std::vector<std::string> args;
        const char *needle;
    } cases[] = {
        {{"--use_resampling_grads", "--resampling_grads_decay=0"}, "resampling_grads_decay"},
        {{"--use_resampling_grads", "--resampling_grads_decay=1"}, "resampling_grads_decay"},
        {{"--use_resampling_grads", "--resampling_grads_decay=-0.5"}, "resampling_grads_decay"},
        {{"--use_resampling_grads", "--resampling_type=soft"}, "'soft'"},
        {{"--use_resampling_grads", "--resampling_type=optimal-transport"}, "'optimal-transport'"},
        {{"--use_resampling_grads", "--memory_budget_mb=64"}, "memory_budget_mb"},
    };
    for (const Case &cs : cases) {
        fivo_test::TempDir a;
        fivo_test::Result r = fivo_test::run(ghmm_train(a.path, 3, cs.args));
        EXPECT_EQ(r.status, 2) << cs.needle << ": " << r.err;
        EXPECT_TRUE(fivo_test::has(r.err, cs.needle)) << cs.needle << ": " << r.err;
        EXPECT_FALSE(std::filesystem::exists(fivo_test::ckpt_path(a.path, 3))) << cs.needle;
    }
}
