// The SMC engine and the bounds, checked on the Gaussian HMM whose exact
// likelihood we know: exactness with the true-smoothing proposal, unbiasedness
// of Z-hat for every resampler, the bound ordering, variable lengths, the
// resampling trace and errors naming the step.
#include "smc_fixture.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <sstream>
#include <fivo/internal/registry.h>

using namespace fivo_test;

namespace {

const char *const kHard[] = {"multinomial", "systematic", "stratified", "residual"};

struct Params {
    std::vector<double> vz, vx, wz, wx; // wz[0] unused
};

// The reference's GHMM defaults: variance 0.1 and weight 1 at every step.
Params default_params(int T)
{
    Params p;
    p.vz.assign(T, 0.1);
    p.vx.assign(T, 0.1);
    p.wz.assign(T, 1.0);
    p.wx.assign(T, 1.0);
    return p;
}

Params random_params(int T, uint64_t seed)
{
    fivo_rng r = fivo_rng_make(seed, FIVO_RNG_USER, 2);
    std::vector<double> u(4 * T);
    fivo_rng_uniform_double(&r, 0, u.data(), 4 * T);
    Params p;
    for (int t = 0; t < T; t++) {
        p.vz.push_back(0.05 + 0.5 * u[t]);
        p.vx.push_back(0.05 + 0.5 * u[T + t]);
        p.wz.push_back(t == 0 ? 0.0 : 0.4 + 1.0 * u[2 * T + t]);
        p.wx.push_back(0.5 + 1.2 * u[3 * T + t]);
    }
    return p;
}

std::string join(const std::vector<double> &v, size_t from = 0)
{
    std::ostringstream s;
    s.precision(17);
    for (size_t i = from; i < v.size(); i++)
        s << (i > from ? "," : "") << v[i];
    return s.str();
}

std::string model_cfg(const Params &p, int T, const std::string &proposal,
                      const std::string &extra = "")
{
    std::ostringstream s;
    s << "[model]\nproposal_type=" << proposal << "\nnum_timesteps=" << T
      << "\ntransition_variances=" << join(p.vz) << "\nemission_variances=" << join(p.vx)
      << "\ntransition_weights=" << join(p.wz, 1) << "\nemission_weights=" << join(p.wx) << "\n"
      << extra;
    return s.str();
}

// Independent check of the Kalman filter: log N(x; 0, Sigma_x) with the dense
// covariance of the chain and a Cholesky factorisation.
double dense_log_likelihood(const Params &p, const std::vector<float> &x)
{
    int L = (int)x.size();
    std::vector<double> varz(L);
    for (int t = 0; t < L; t++)
        varz[t] = t == 0 ? p.vz[0] : p.wz[t] * p.wz[t] * varz[t - 1] + p.vz[t];
    std::vector<double> S(L * L);
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) {
            int lo = std::min(i, j), hi = std::max(i, j);
            double c = varz[lo];
            for (int k = lo + 1; k <= hi; k++)
                c *= p.wz[k];
            S[i * L + j] = p.wx[i] * p.wx[j] * c + (i == j ? p.vx[i] : 0.0);
        }
    // Cholesky S = C C^T
    std::vector<double> C(L * L, 0.0);
    for (int i = 0; i < L; i++)
        for (int j = 0; j <= i; j++) {
            double s = S[i * L + j];
            for (int k = 0; k < j; k++)
                s -= C[i * L + k] * C[j * L + k];
            C[i * L + j] = i == j ? std::sqrt(s) : s / C[j * L + j];
        }
    std::vector<double> y(L);
    double logdet = 0, quad = 0;
    for (int i = 0; i < L; i++) {
        double s = x[i];
        for (int k = 0; k < i; k++)
            s -= C[i * L + k] * y[k];
        y[i] = s / C[i * L + i];
        quad += y[i] * y[i];
        logdet += 2 * std::log(C[i * L + i]);
    }
    return -0.5 * (L * std::log(2 * M_PI) + logdet + quad);
}

struct Stats {
    double mean = 0, sd = 0, se = 0;
};

Stats stats(const std::vector<double> &v)
{
    Stats s;
    for (double x : v)
        s.mean += x;
    s.mean /= v.size();
    double ss = 0;
    for (double x : v)
        ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / (v.size() - 1));
    s.se = s.sd / std::sqrt((double)v.size());
    return s;
}

struct Ctx {
    fivo_ctx *ctx = fivo_ctx_new(1 << 22, 0);
    ~Ctx() { fivo_ctx_free(ctx); }
};

} // namespace

TEST(Ghmm, ExactLikelihoodMatchesDenseGaussian)
{
    Registry reg;
    const int T = 7;
    Params p = random_params(T, 11);
    GhmmRun s(reg, model_cfg(p, T, "prior"), "elbo", nullptr, T);
    std::vector<std::vector<float>> seqs;
    for (int L : {7, 4, 1, 6}) {
        std::vector<float> x = sample_ghmm(p.vz, p.vx, p.wz, p.wx, T, 5, (uint32_t)L);
        x.resize(L);
        seqs.push_back(x);
    }
    Batch b(seqs);
    std::vector<double> ll = s.exact(b.b);
    for (size_t i = 0; i < seqs.size(); i++)
        EXPECT_NEAR(ll[i], dense_log_likelihood(p, seqs[i]), 1e-10 * std::max(1.0, std::fabs(ll[i])))
            << "sequence " << i;
}

// With the true-smoothing proposal every incremental weight is
// p(x_{t:} | z_{t-1}) / p(x_{t+1:} | z_t), so the ELBO is log p(x) exactly
// for every sequence and every draw, and so is IWAE (every particle's whole
// weight is p(x)). FIVO is not: the per-step weights differ across
// particles, so resampling mid-way makes it random.
TEST(Ghmm, TrueSmoothingElboEqualsExactLikelihood)
{
    Registry reg;
    const int T = 6;
    Params p = random_params(T, 3);
    std::vector<std::vector<float>> seqs;
    for (int i = 0; i < 8; i++) {
        std::vector<float> x = sample_ghmm(p.vz, p.vx, p.wz, p.wx, T, 9, (uint32_t)i);
        x.resize(1 + (i * 5) % T); // lengths 1 .. 6, mixed
        seqs.push_back(x);
    }
    Batch b(seqs, {0, 1, 2, 3, 4, 5, 6, 7});
    Ctx c;
    for (const char *bound : {"elbo", "iwae"}) {
        GhmmRun s(reg, model_cfg(p, T, "true-smoothing"), bound, nullptr, T);
        std::vector<double> ll = s.exact(b.b);
        for (uint64_t step = 0; step < 3; step++) {
            std::vector<double> est = s.run(c.ctx, b.b, 4, 17, step);
            ASSERT_EQ(est.size(), seqs.size());
            for (size_t i = 0; i < seqs.size(); i++)
                EXPECT_NEAR(est[i], ll[i], 2e-5 * seqs[i].size() + 1e-5)
                    << bound << " sequence " << i << " step " << step;
        }
    }
    // The true-filtering proposal is not exact (it ignores the future).
    GhmmRun f(reg, model_cfg(p, T, "true-filtering"), "elbo", nullptr, T);
    std::vector<double> est = f.run(c.ctx, b.b, 1, 17, 0), ll = f.exact(b.b);
    double maxdiff = 0;
    for (size_t i = 0; i < seqs.size(); i++)
        maxdiff = std::max(maxdiff, std::fabs(est[i] - ll[i]));
    EXPECT_GT(maxdiff, 1e-3);
}

// Z-hat (not log Z-hat) is unbiased for p(x) with every resampler; log Z-hat
// is biased low. M independent filters (distinct sequence ids) on the same
// sequence, prior proposal, 4 particles; 5-sigma bands.
TEST(Smc, ZhatIsUnbiasedForEveryResampler)
{
    Registry reg;
    const int T = 5, M = 20000, N = 4;
    Params p = default_params(T);
    std::vector<float> x = sample_ghmm(p.vz, p.vx, p.wz, p.wx, T, 1, 0);
    std::vector<std::vector<float>> seqs(M, x);
    std::vector<int32_t> ids(M);
    std::iota(ids.begin(), ids.end(), 0);
    Batch b(seqs, ids);
    Ctx c;
    for (const char *crit : {"ess", "always"})
        for (const char *rs : kHard) {
            GhmmRun s(reg,
                    model_cfg(p, T, "prior",
                              std::string("[bound]\nresampling_criterion=") + crit + "\n"),
                    "fivo", rs, T);
            double ll = s.exact(b.b)[0];
            fivo_smc_result res{};
            std::vector<double> est = s.run(c.ctx, b.b, N, 5, 0, &res);
            ASSERT_EQ(est.size(), (size_t)M);
            std::vector<double> ratio(M), logr(M);
            for (int i = 0; i < M; i++) {
                ratio[i] = std::exp(est[i] - ll);
                logr[i] = est[i] - ll;
            }
            Stats z = stats(ratio), lz = stats(logr);
            EXPECT_NEAR(z.mean, 1.0, 5 * z.se)
                << rs << "/" << crit << ": E[Zhat]/p(x) = " << z.mean << " +- " << z.se;
            EXPECT_LT(lz.mean + 5 * lz.se, 0.0)
                << rs << "/" << crit << ": E[log Zhat] - log p(x) = " << lz.mean;
            EXPECT_GT(res.resample_rate, 0.0) << rs << "/" << crit;
            RecordProperty(std::string(rs) + "_" + crit + "_zhat_ratio", std::to_string(z.mean));
            std::printf("%-11s %-6s E[Zhat]/p(x) = %.4f +- %.4f   E[log Zhat] - log p(x) = %.4f"
                        "   resample rate %.3f\n",
                        rs, crit, z.mean, z.se, lz.mean, res.resample_rate);
        }
}

// Prior proposal, averaged over M runs: ELBO <= IWAE(N) <= log p(x) and
// FIVO <= log p(x), each gap significant at 5 standard errors.
TEST(Smc, BoundOrderingWithPriorProposal)
{
    Registry reg;
    const int T = 5, M = 4000, N = 8;
    Params p = default_params(T);
    std::vector<float> x = sample_ghmm(p.vz, p.vx, p.wz, p.wx, T, 2, 0);
    std::vector<std::vector<float>> seqs(M, x);
    std::vector<int32_t> ids(M);
    std::iota(ids.begin(), ids.end(), 0);
    Batch b(seqs, ids);
    Ctx c;
    Stats st[3];
    const char *names[3] = {"elbo", "iwae", "fivo"};
    double ll = 0;
    for (int k = 0; k < 3; k++) {
        GhmmRun s(reg, model_cfg(p, T, "prior"), names[k], "systematic", T);
        ll = s.exact(b.b)[0];
        std::vector<double> est = s.run(c.ctx, b.b, N, 8, 0);
        ASSERT_EQ(est.size(), (size_t)M);
        st[k] = stats(est);
        std::printf("%s: mean %.4f +- %.4f (log p(x) = %.4f)\n", names[k], st[k].mean, st[k].se,
                    ll);
    }
    auto se2 = [](const Stats &a, const Stats &b) { return std::sqrt(a.se * a.se + b.se * b.se); };
    EXPECT_LT(st[0].mean + 5 * se2(st[0], st[1]), st[1].mean) << "ELBO < IWAE";
    EXPECT_LT(st[1].mean + 5 * st[1].se, ll) << "IWAE < log p(x)";
    EXPECT_LT(st[2].mean + 5 * st[2].se, ll) << "FIVO < log p(x)";
}

// A batch mixing lengths gives each sequence the same log p-hat as running
// it alone with the same random numbers (keyed by sequence id).
TEST(Smc, VariableLengthsMatchRunningAlone)
{
    Registry reg;
    const int T = 6;
    Params p = random_params(T, 21);
    std::vector<int> lens = {6, 2, 5, 1, 6, 3};
    std::vector<int32_t> ids = {3, 8, 1, 20, 7, 11};
    std::vector<std::vector<float>> seqs;
    for (size_t i = 0; i < lens.size(); i++) {
        std::vector<float> x = sample_ghmm(p.vz, p.vx, p.wz, p.wx, T, 4, (uint32_t)i);
        x.resize(lens[i]);
        seqs.push_back(x);
    }
    Batch all(seqs, ids);
    Ctx c;
    for (const char *proposal : {"prior", "filtering", "true-smoothing"})
        for (const char *rs : {"multinomial", "systematic", "relaxed"}) {
            GhmmRun s(reg, model_cfg(p, T, proposal, "[bound]\nresampling_criterion=ess\n"), "fivo",
                    rs, T);
            fivo_smc_result res{};
            std::vector<double> together = s.run(c.ctx, all.b, 4, 9, 2, &res);
            ASSERT_EQ(together.size(), seqs.size());
            double rate = res.resample_rate;
            for (size_t i = 0; i < seqs.size(); i++) {
                Batch one({seqs[i]}, {ids[i]});
                std::vector<double> alone = s.run(c.ctx, one.b, 4, 9, 2);
                ASSERT_EQ(alone.size(), 1u);
                EXPECT_NEAR(together[i], alone[0], 1e-5 * std::max(1.0, std::fabs(alone[0])))
                    << proposal << "/" << rs << " sequence " << i << " (length " << lens[i] << ")";
            }
            if (std::string(proposal) == "prior") {
                EXPECT_GT(rate, 0.0) << rs << ": the check needs resampling to happen";
            }
        }
}

// The resampling trace: `never` resamples nowhere, `always` at every step
// before each sequence's end and nowhere after; weights restart at 0.
TEST(Smc, ResamplingTraceAndMasking)
{
    Registry reg;
    const int T = 5, N = 3;
    Params p = random_params(T, 8);
    std::vector<int> lens = {5, 2, 4};
    std::vector<std::vector<float>> seqs;
    for (size_t i = 0; i < lens.size(); i++) {
        std::vector<float> x = sample_ghmm(p.vz, p.vx, p.wz, p.wx, T, 6, (uint32_t)i);
        x.resize(lens[i]);
        seqs.push_back(x);
    }
    Batch b(seqs);
    Ctx c;
    const int B = (int)lens.size();
    {
        GhmmRun s(reg, model_cfg(p, T, "prior", "[bound]\nresampling_criterion=always\n"), "fivo",
                "residual", T);
        fivo_smc_result r{};
        ASSERT_EQ(s.run(c.ctx, b.b, N, 1, 0, &r).size(), (size_t)B);
        int resamples = 0;
        for (int t = 0; t < T; t++)
            for (int i = 0; i < B; i++) {
                EXPECT_EQ(r.resampled[t * B + i], t < lens[i] ? 1 : 0) << "t=" << t << " b=" << i;
                resamples += r.resampled[t * B + i];
            }
        EXPECT_DOUBLE_EQ(r.resample_rate, 1.0);
        EXPECT_EQ(resamples, 5 + 2 + 4);
        // After the last resampling the final weights are 0 (reset).
        for (int row = 0; row < N * B; row++)
            EXPECT_EQ(r.final_log_weights->data[row], 0.0f);
    }
    {
        GhmmRun s(reg, model_cfg(p, T, "prior"), "iwae", nullptr, T);
        fivo_smc_result r{};
        std::vector<double> est = s.run(c.ctx, b.b, N, 1, 0, &r);
        ASSERT_EQ(est.size(), (size_t)B);
        for (int t = 0; t < T * B; t++)
            EXPECT_EQ(r.resampled[t], 0);
        EXPECT_EQ(r.resample_rate, 0.0);
        // Masked: weights stop changing after each sequence's end, and
        // log p-hat = logsumexp(final weights) - log N.
        for (int i = 0; i < B; i++) {
            for (int t = lens[i]; t < T; t++)
                for (int q = 0; q < N; q++)
                    EXPECT_EQ(r.log_weights[t * N * B + q * B + i],
                              r.log_weights[(lens[i] - 1) * N * B + q * B + i]);
            std::vector<double> lw(N);
            for (int q = 0; q < N; q++)
                lw[q] = r.final_log_weights->data[q * B + i];
            EXPECT_NEAR(est[i], fivo_logsumexp_d(lw.data(), N) - std::log((double)N), 1e-5);
        }
        EXPECT_GT(r.log_weight_var, 0.0);
    }
    {
        // ELBO uses one particle whatever N is.
        GhmmRun s(reg, model_cfg(p, T, "prior"), "elbo", nullptr, T);
        fivo_smc_result r{};
        ASSERT_EQ(s.run(c.ctx, b.b, 16, 1, 0, &r).size(), (size_t)B);
        EXPECT_EQ(r.num_particles, 1);
        EXPECT_EQ(r.final_log_weights->rows, B);
    }
}

// A model whose weights for one filter become all -inf (or NaN) at step 2:
// FIVO_ERR_NUMERIC naming the step and the sequence, no crash.
namespace {
struct BadModel {
    int B = 0, N = 0;
    float bad = 0;
};

fivo_status bad_set_obs(void *self, fivo_ctx *, const fivo_batch *b, int n, fivo_error *)
{
    auto *m = (BadModel *)self;
    m->B = b->batch_size;
    m->N = n;
    return FIVO_OK;
}
fivo_status bad_zero(void *, fivo_ctx *ctx, int rows, fivo_state *out, fivo_error *)
{
    out->count = 1;
    out->t[0] = fivo_tensor_zeros(ctx, rows, 2);
    return FIVO_OK;
}
fivo_status bad_step(void *self, fivo_ctx *ctx, const fivo_state *st, int t, fivo_state *out,
                     fivo_tensor **lw, fivo_error *)
{
    auto *m = (BadModel *)self;
    fivo_tensor *w = fivo_randn(ctx, FIVO_RNG_PROPOSAL, t, m->N * m->B, 1);
    if (t == 2)
        for (int q = 0; q < m->N; q++)
            w->data[q * m->B + 1] = m->bad;
    out->count = 1;
    out->t[0] = fivo_add_scalar(ctx, st->t[0], 1.0f);
    *lw = w;
    return FIVO_OK;
}
// Slots by name (C++17 has no designated initialisers).
fivo_model_vtable bad_vtable()
{
    fivo_model_vtable v{};
    v.set_observations = bad_set_obs;
    v.zero_state = bad_zero;
    v.propose_and_weight = bad_step;
    return v;
}
const fivo_model_vtable kBadVt = bad_vtable();
} // namespace

TEST(Smc, AllMinusInfOrNaNWeightsNameTheStep)
{
    Registry reg;
    Config cfg;
    fivo_resampler rs{};
    fivo_error err{};
    ASSERT_EQ(fivo_resampler_open(reg.reg, "multinomial", cfg.cfg, &rs, &err), FIVO_OK);
    Batch b({{1, 2, 3, 4}, {1, 2, 3, 4}}, {5, 6});
    Ctx c;
    for (float bad : {-std::numeric_limits<float>::infinity(), std::nanf("")})
        for (fivo_criterion crit : {FIVO_RESAMPLE_ESS, FIVO_RESAMPLE_NEVER}) {
            BadModel bm;
            bm.bad = bad;
            fivo_model m{&kBadVt, sizeof kBadVt, &bm, "bad", nullptr, sizeof(fivo_model)};
            fivo_smc_options o{4, crit, 0.5, &rs, sizeof(fivo_smc_options)};
            fivo_smc_result r{};
            fivo_ctx_reset(c.ctx);
            fivo_status st = fivo_smc_run(c.ctx, &m, &b.b, &o, &r, &err);
            EXPECT_EQ(st, FIVO_ERR_NUMERIC);
            std::string msg = err.message;
            EXPECT_NE(msg.find("step 2"), std::string::npos) << msg;
            EXPECT_NE(msg.find("sequence 6"), std::string::npos) << msg;
        }
    fivo_resampler_close(&rs);
}

TEST(Smc, CriterionParseAndBadOptions)
{
    fivo_criterion c;
    fivo_error err{};
    EXPECT_EQ(fivo_criterion_parse("ess", &c, &err), FIVO_OK);
    EXPECT_EQ(c, FIVO_RESAMPLE_ESS);
    EXPECT_EQ(fivo_criterion_parse("always", &c, &err), FIVO_OK);
    EXPECT_EQ(c, FIVO_RESAMPLE_ALWAYS);
    EXPECT_EQ(fivo_criterion_parse("never", &c, &err), FIVO_OK);
    EXPECT_EQ(c, FIVO_RESAMPLE_NEVER);
    EXPECT_EQ(fivo_criterion_parse("sometimes", &c, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("sometimes"), std::string::npos);

    Registry reg;
    Config bad("[bound]\nresampling_criterion=often\n");
    fivo_bound bd{};
    EXPECT_EQ(fivo_bound_open(reg.reg, "fivo", bad.cfg, &bd, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("resampling_criterion"), std::string::npos)
        << err.message;
    Config thr("[bound]\ness_threshold=1.5\n");
    EXPECT_EQ(fivo_bound_open(reg.reg, "fivo", thr.cfg, &bd, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("ess_threshold"), std::string::npos) << err.message;
    Config prop("[model]\nproposal_type=psychic\n");
    fivo_params *params = fivo_params_new(1);
    fivo_model m{};
    fivo_data_spec spec{1, "real", nullptr, 5, sizeof(fivo_data_spec)};
    EXPECT_EQ(fivo_model_open(reg.reg, "ghmm", prop.cfg, &spec, params, &m, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("psychic"), std::string::npos) << err.message;
    fivo_params_free(params);
}
