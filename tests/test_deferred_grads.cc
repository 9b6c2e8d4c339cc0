// The products behind the tape: column-blocked sgemm against a plain
// reference (odd sizes, 1-row operands), bit-identical for any thread count;
// deferred parameter gradients (one product over every step's rows) against
// the per-step accumulation, on sequences of different lengths in one batch,
// and by finite differences.
#include <gtest/gtest.h>

#include "gradcheck.h"
#include "model_harness.h"

#include <fivo/fivo.h>
#include <fivo/internal/threads.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <time.h>
#include <unistd.h>

using V = std::vector<fivo_tensor *>;

namespace {

std::vector<float> randv(std::mt19937 &g, size_t n)
{
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> v(n);
    for (auto &x : v)
        x = u(g);
    return v;
}

} // namespace

TEST(Products, MatmulMatchesReferenceAndIsThreadIndependent)
{
    const int ms[] = {1, 3, 16};
    const int ns[] = {1, 63, 64, 65, 130, 257};
    const int ks[] = {1, 7, 300};
    std::mt19937 g(3);
    fivo_ctx *c1 = fivo_ctx_new(1 << 20, 0), *c3 = fivo_ctx_new(1 << 20, 0);
    ASSERT_EQ(fivo_ctx_set_threads(c3, 3, nullptr), FIVO_OK);
    EXPECT_EQ(fivo_ctx_threads(c3), 3);
    for (int m : ms)
        for (int n : ns)
            for (int k : ks)
                for (int ta = 0; ta < 2; ta++)
                    for (int tb = 0; tb < 2; tb++) {
                        std::vector<float> a = randv(g, (size_t)m * k), b = randv(g, (size_t)k * n);
                        fivo_ctx_reset(c1);
                        fivo_ctx_reset(c3);
                        fivo_tensor *a1 = fivo_tensor_from(c1, ta ? k : m, ta ? m : k, a.data());
                        fivo_tensor *b1 = fivo_tensor_from(c1, tb ? n : k, tb ? k : n, b.data());
                        fivo_tensor *a3 = fivo_tensor_from(c3, ta ? k : m, ta ? m : k, a.data());
                        fivo_tensor *b3 = fivo_tensor_from(c3, tb ? n : k, tb ? k : n, b.data());
                        fivo_tensor *r1 = fivo_matmul(c1, a1, ta, b1, tb);
                        fivo_tensor *r3 = fivo_matmul(c3, a3, ta, b3, tb);
                        ASSERT_EQ(fivo_ctx_status(c1, nullptr), FIVO_OK);
                        ASSERT_EQ(0, std::memcmp(r1->data, r3->data, sizeof(float) * m * n))
                            << m << "x" << n << "x" << k;
                        double worst = 0;
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++) {
                                double s = 0, sa = 0;
                                for (int q = 0; q < k; q++) {
                                    double x = ta ? a[(size_t)q * m + i] : a[(size_t)i * k + q];
                                    double y = tb ? b[(size_t)j * k + q] : b[(size_t)q * n + j];
                                    s += x * y;
                                    sa += std::fabs(x * y);
                                }
                                worst = std::fmax(worst, std::fabs(r1->data[(size_t)i * n + j] - s) /
                                                             (sa + 1e-30));
                            }
                        EXPECT_LT(worst, 1e-6) << m << "x" << n << "x" << k << " ta " << ta
                                               << " tb " << tb;
                    }
    fivo_ctx_free(c1);
    fivo_ctx_free(c3);
}

TEST(Threads, PoolRunsEveryPieceOnce)
{
    for (int n : {1, 2, 3, 5}) {
        fivo_threads *p = fivo_threads_new(n, nullptr);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(fivo_threads_count(p), n);
        for (int rep = 0; rep < 50; rep++) {
            std::vector<int> hits(97, 0);
            fivo_threads_run(
                p, 97, [](void *arg, int i) { ((int *)arg)[i]++; }, hits.data());
            for (int h : hits)
                ASSERT_EQ(h, 1);
        }
        fivo_threads_free(p);
    }
    EXPECT_GE(fivo_threads_available(), 1);
}

// Many short generations back to back, some pieces slow enough that the
// workers go to sleep between runs: the spin-then-block hand-over loses no
// piece and no wake-up (a lost one would hang here, under ctest's timeout).
TEST(Threads, BackToBackRunsAndSleepsLoseNothing)
{
    for (int n : {2, 3, 4}) {
        fivo_threads *p = fivo_threads_new(n, nullptr);
        ASSERT_NE(p, nullptr);
        std::vector<int> hits(7, 0);
        for (int rep = 0; rep < 3000; rep++) {
            if (rep % 1000 == 999)
                usleep(2000); /* past the spin budget: everyone blocks */
            fivo_threads_run(
                p, 7, [](void *arg, int i) { ((int *)arg)[i]++; }, hits.data());
        }
        for (int h : hits)
            ASSERT_EQ(h, 3000);
        fivo_threads_free(p);
    }
}

// An idle pool uses no CPU: its workers spin at most briefly after a run,
// then block (the process's CPU time over a quiet 300 ms stays near zero;
// it was 60-75 ms with OpenBLAS's own server thread still spinning).
TEST(Threads, IdlePoolUsesNoCpu)
{
    // OpenBLAS starts a server thread of its own when it is loaded, which
    // busy-waits a while; a context stops it (fivo_ctx_new), as in fivo.
    fivo_ctx_free(fivo_ctx_new(1 << 20, 0));
    fivo_threads *p = fivo_threads_new(3, nullptr);
    ASSERT_NE(p, nullptr);
    std::vector<int> hits(64, 0);
    fivo_threads_run(
        p, 64, [](void *arg, int i) { ((int *)arg)[i]++; }, hits.data());
    usleep(50000);
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    usleep(300000);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double cpu = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    EXPECT_LT(cpu, 0.02) << "an idle pool of 3 threads used " << cpu << " s of CPU in 0.3 s";
    fivo_threads_free(p);
}

// Parameter gradients over several steps (deferred) by finite differences,
// including 1-row steps and odd sizes.
TEST(Deferred, LinearAndLstmOverStepsMatchFiniteDifferences)
{
    const int shapes[][3] = {{1, 3, 5}, {5, 7, 3}, {2, 1, 9}}; // rows, in, hidden
    int id = 0;
    for (auto &s : shapes) {
        fivo_params *p = fivo_params_new(21);
        fivo_ctx *ctx = fivo_ctx_new(1 << 16, 0);
        fivo_lstm l;
        fivo_linear lin;
        ASSERT_EQ(fivo_lstm_init(&l, p, ("c" + std::to_string(id)).c_str(), s[1], s[2], nullptr),
                  FIVO_OK);
        ASSERT_EQ(fivo_linear_init(&lin, p, ("l" + std::to_string(id++)).c_str(), s[2], 4, nullptr),
                  FIVO_OK);
        std::mt19937 g(9);
        for (fivo_tensor *t : {l.bias, lin.b}) {
            std::vector<float> v = randv(g, fivo_tensor_size(t));
            std::memcpy(t->data, v.data(), v.size() * sizeof(float));
        }
        int rows = s[0];
        gc::Checker ch(ctx, {gc::random_input(g, 3 * rows, s[1]), gc::random_input(g, rows, s[2])},
                       {l.kernel, l.bias, lin.w, lin.b}, [&](fivo_ctx *c, const V &v) -> V {
                           fivo_tensor *h = v[1], *cc = fivo_tensor_zeros(c, rows, s[2]);
                           V outs;
                           for (int t = 0; t < 3; t++) {
                               int32_t idx[16];
                               for (int r = 0; r < rows; r++)
                                   idx[r] = t * rows + r;
                               fivo_lstm_forward(c, &l, fivo_gather_rows(c, v[0], idx, rows), h, cc,
                                                 &h, &cc);
                               outs.push_back(fivo_linear_forward(c, &lin, h));
                           }
                           return outs;
                       });
        gc::Result r = ch.run(1e-2, 1e-2);
        EXPECT_EQ(ch.status, FIVO_OK);
        EXPECT_LT(r.max_err, 2e-2) << r.where;
        fivo_ctx_free(ctx);
        fivo_params_free(p);
    }
}

namespace {

// Gradients of -sum_b log p-hat_b / len_b of one FIVO run, every parameter.
std::vector<std::vector<float>> bound_grads(mh::Loaded &m, const fivo_batch &batch, bool defer,
                                            int threads)
{
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    EXPECT_EQ(fivo_ctx_set_threads(ctx, threads, nullptr), FIVO_OK);
    fivo_ctx_set_deferred_grads(ctx, defer);
    fivo_ctx_set_seed(ctx, 5, 2);
    fivo_params_zero_grad(m.params);
    fivo_smc_options o{4, FIVO_RESAMPLE_ESS, 0.5, &m.resampler, sizeof(fivo_smc_options)};
    fivo_smc_result res{};
    fivo_error e{};
    EXPECT_EQ(fivo_smc_run(ctx, &m.model, &batch, &o, &res, &e), FIVO_OK) << e.message;
    std::vector<float> w(batch.batch_size);
    for (int b = 0; b < batch.batch_size; b++)
        w[b] = -1.0f / (float)batch.lengths[b];
    fivo_tensor *loss =
        fivo_sum_all(ctx, fivo_mul(ctx, res.log_phat, fivo_tensor_from(ctx, batch.batch_size, 1, w.data())));
    EXPECT_EQ(fivo_ctx_backward(ctx, loss, &e), FIVO_OK) << e.message;
    std::vector<std::vector<float>> out;
    for (fivo_tensor *t : m.all_params())
        out.emplace_back(t->grad, t->grad + fivo_tensor_size(t));
    fivo_ctx_free(ctx);
    return out;
}

void compare_models(const char *name, int latent)
{
    mh::TinyBatch tb(11, 4, 6, true, 17); // lengths 11, 10, 9, 8
    fivo_data_spec spec{tb.D, "binary", tb.mean.data(), 0, sizeof(fivo_data_spec)};
    mh::Loaded m(name, {{"latent_size", std::to_string(latent)}}, spec);
    ASSERT_TRUE(m.have_model && m.have_resampler) << m.err.message;
    auto per_step = bound_grads(m, tb.batch, false, 1);
    auto deferred = bound_grads(m, tb.batch, true, 1);
    // Stated tolerance: each value within 2e-5 of the parameter's largest
    // gradient (float rounding of sums over <= 11 x 16 rows in another order).
    for (size_t i = 0; i < per_step.size(); i++) {
        float scale = 0;
        for (float x : per_step[i])
            scale = std::fmax(scale, std::fabs(x));
        ASSERT_GT(scale, 0.0f) << name << " param " << i;
        for (size_t k = 0; k < per_step[i].size(); k++)
            ASSERT_NEAR(deferred[i][k], per_step[i][k], 2e-5 * scale)
                << name << " param " << i << "[" << k << "]";
    }
    for (int th : {2, 3}) {
        auto t = bound_grads(m, tb.batch, true, th);
        for (size_t i = 0; i < t.size(); i++)
            ASSERT_EQ(0, std::memcmp(t[i].data(), deferred[i].data(), t[i].size() * sizeof(float)))
                << name << " threads " << th << " param " << i;
    }
}

} // namespace

TEST(Deferred, VrnnGradientsEqualPerStepAccumulation) { compare_models("vrnn", 8); }
TEST(Deferred, SrnnGradientsEqualPerStepAccumulation) { compare_models("srnn", 8); }
// Large enough that the products run on the pool: bits still identical.
TEST(Deferred, VrnnLatent128IsThreadIndependent) { compare_models("vrnn", 128); }
