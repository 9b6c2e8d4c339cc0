// The SDK example model (sdk/examples/lgssm) is a correct model plugin: its
// Kalman log-likelihood is exact, every bound stays below it, IWAE with many
// particles closes the gap, and its gradients flow to every parameter.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <fivo/fivo.h>
#include <fivo/internal/registry.h>

namespace {

std::string ExampleModule() { return std::string(FIVO_TEST_BINARY_DIR) + "/tests/sdk_example/lgssm.so"; }

struct Lgssm : ::testing::Test {
    fivo_registry *reg = fivo_registry_new();
    fivo_config *cfg = fivo_config_new();
    fivo_params *params = fivo_params_new(11);
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    fivo_model model{};
    fivo_dataset data{};
    fivo_resampler resampler{};
    fivo_error err{};

    void SetUp() override
    {
        ASSERT_EQ(fivo_registry_load_file(reg, ExampleModule().c_str(), &err), FIVO_OK);
        ASSERT_EQ(fivo_registry_scan_dir(reg, FIVO_TEST_PLUGIN_DIR, &err), FIVO_OK);
        ASSERT_NE(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "lgssm"), nullptr);
        fivo_config_set(cfg, "model", "variance", "0.1");
        fivo_config_set(cfg, "dataset", "num_timesteps", "5");
        fivo_config_set(cfg, "dataset", "num_sequences", "8");
        ASSERT_EQ(fivo_dataset_open(reg, "chain", cfg, "", "test", &data, &err), FIVO_OK)
            << err.message;
        fivo_data_spec spec{};
        spec.dim = 1;
        spec.kind = "real";
        spec.num_timesteps = 5;
        ASSERT_EQ(fivo_model_open(reg, "lgssm", cfg, &spec, params, &model, &err), FIVO_OK)
            << err.message;
        ASSERT_EQ(fivo_resampler_open(reg, "multinomial", cfg, &resampler, &err), FIVO_OK)
            << err.message;
    }
    void TearDown() override
    {
        fivo_resampler_close(&resampler);
        fivo_model_close(&model);
        fivo_dataset_close(&data);
        fivo_ctx_free(ctx);
        fivo_params_free(params);
        fivo_config_free(cfg);
        fivo_registry_free(reg);
    }

    // Mean over `reps` seeds of the per-sequence log p-hat, and the exact ll.
    void Bound(const fivo_batch &batch, int particles, fivo_criterion crit, int reps,
               std::vector<double> *mean_phat, std::vector<double> *exact)
    {
        const int B = batch.batch_size;
        exact->assign(B, 0.0);
        mean_phat->assign(B, 0.0);
        ASSERT_EQ(model.vt->log_likelihood(model.self, &batch, exact->data(), &err), FIVO_OK);
        for (int r = 0; r < reps; r++) {
            fivo_ctx_reset(ctx);
            fivo_ctx_set_grad_enabled(ctx, false);
            fivo_ctx_set_seed(ctx, 1234, (uint64_t)r);
            fivo_smc_options o{};
            o.num_particles = particles;
            o.criterion = crit;
            o.ess_threshold = 0.5;
            o.resampler = &resampler;
            fivo_smc_result res{};
            ASSERT_EQ(fivo_smc_run(ctx, &model, &batch, &o, &res, &err), FIVO_OK) << err.message;
            for (int b = 0; b < B; b++)
                (*mean_phat)[b] += res.log_phat->data[b] / reps;
        }
    }
};

TEST_F(Lgssm, DescribesItselfAndHasEveryModelSlot)
{
    const fivo_plugin_info *info = fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "lgssm");
    EXPECT_EQ(info->abi_major, FIVO_ABI_MAJOR);
    EXPECT_EQ(info->vtable_size, sizeof(fivo_model_vtable));
    EXPECT_TRUE(FIVO_MODEL_HAS(&model, sample_step));
    EXPECT_TRUE(FIVO_MODEL_HAS(&model, log_likelihood));
    EXPECT_EQ(fivo_params_count(params), 9);
    EXPECT_NE(fivo_params_find(params, "lgssm/proposal/v"), nullptr);
}

TEST_F(Lgssm, KalmanLikelihoodMatchesAHandComputedOneStepCase)
{
    // One step, one dim: x_0 ~ N(0, c^2 s0^2 + r^2) = N(0, 0.2 + 0.1).
    const float x = 0.7f;
    const float zero = 0.0f;
    const int32_t len = 1;
    fivo_batch b{};
    b.max_len = 1;
    b.batch_size = 1;
    b.dim = 1;
    b.inputs = &zero;
    b.targets = &x;
    b.lengths = &len;
    double ll = 0.0;
    ASSERT_EQ(model.vt->log_likelihood(model.self, &b, &ll, &err), FIVO_OK);
    const double s = 0.3;
    EXPECT_NEAR(ll, -0.5 * (std::log(2 * M_PI * s) + 0.49 / s), 1e-5);
}

TEST_F(Lgssm, BoundsStayBelowTheExactLikelihoodAndIwaeClosesTheGap)
{
    fivo_batch batch{};
    ASSERT_EQ(data.vt->batch(data.self, 8, false, 1, 0, &batch, &err), FIVO_OK) << err.message;
    std::vector<double> exact, elbo, iwae, fivo;
    Bound(batch, 1, FIVO_RESAMPLE_NEVER, 64, &elbo, &exact);
    Bound(batch, 1024, FIVO_RESAMPLE_NEVER, 16, &iwae, &exact);
    Bound(batch, 16, FIVO_RESAMPLE_ESS, 16, &fivo, &exact);
    double gap_elbo = 0, gap_iwae = 0, gap_fivo = 0;
    for (int b = 0; b < batch.batch_size; b++) {
        ASSERT_TRUE(std::isfinite(exact[b]));
        gap_elbo += (exact[b] - elbo[b]) / batch.batch_size;
        gap_iwae += (exact[b] - iwae[b]) / batch.batch_size;
        gap_fivo += (exact[b] - fivo[b]) / batch.batch_size;
    }
    std::printf("gaps per sequence: elbo %.4f iwae %.4f fivo %.4f\n", gap_elbo, gap_iwae, gap_fivo);
    // Jensen: each gap is >= 0 in expectation; the estimates carry noise
    // (measured: elbo 21.3, iwae 0.018, fivo 0.30; iwae at 16384 particles
    // -0.004, so the Kalman value is where the bounds converge).
    EXPECT_GT(gap_elbo, 1.0);
    EXPECT_GT(gap_fivo, -0.05);
    EXPECT_GT(gap_iwae, -0.05);
    EXPECT_LT(gap_iwae, 0.1); // 1024 particles on 5 steps: nearly exact
    EXPECT_LT(gap_iwae, gap_elbo);
    EXPECT_LT(gap_fivo, gap_elbo);
}

// One step, 4000 copies of x = 0.7, one particle each: the mean log weight is
// the ELBO, known in closed form for a Normal proposal N(mq, sq^2) against
// the prior N(0, s0^2) and emission N(x; z, r^2).
double OneStepElbo(double x, double mq, double sq2, double s02, double r2)
{
    const double l2pi = std::log(2 * M_PI);
    return (-0.5 * (l2pi + std::log(s02)) - (mq * mq + sq2) / (2 * s02)) +
           (-0.5 * (l2pi + std::log(r2)) - ((x - mq) * (x - mq) + sq2) / (2 * r2)) -
           (-0.5 * (l2pi + std::log(sq2)) - 0.5);
}

void OneStepMean(Lgssm &f, fivo_model &m, double *mean)
{
    const int B = 4000;
    std::vector<float> x(B, 0.7f), in(B, 0.0f);
    std::vector<int32_t> len(B, 1);
    fivo_batch b{};
    b.max_len = 1;
    b.batch_size = B;
    b.dim = 1;
    b.inputs = in.data();
    b.targets = x.data();
    b.lengths = len.data();
    fivo_ctx_reset(f.ctx);
    fivo_ctx_set_grad_enabled(f.ctx, false);
    fivo_ctx_set_seed(f.ctx, 77, 0);
    fivo_smc_options o{};
    o.num_particles = 1;
    o.criterion = FIVO_RESAMPLE_NEVER;
    fivo_smc_result res{};
    ASSERT_EQ(fivo_smc_run(f.ctx, &m, &b, &o, &res, &f.err), FIVO_OK) << f.err.message;
    double s = 0;
    for (int i = 0; i < B; i++)
        s += res.log_phat->data[i];
    *mean = s / B;
}

TEST_F(Lgssm, OneStepElboMatchesTheClosedForm)
{
    // Learned proposal at its initial values: q = N(0, v), prior N(0, 2v).
    double mean = 0;
    OneStepMean(*this, model, &mean);
    EXPECT_NEAR(mean, OneStepElbo(0.7, 0.0, 0.1, 0.2, 0.1), 0.15);
    // Bootstrap: q is the prior, N(0, 2v).
    fivo_config_set(cfg, "model", "proposal_type", "prior");
    fivo_params *p2 = fivo_params_new(3);
    fivo_data_spec spec{};
    spec.dim = 1;
    spec.kind = "real";
    fivo_model boot{};
    ASSERT_EQ(fivo_model_open(reg, "lgssm", cfg, &spec, p2, &boot, &err), FIVO_OK) << err.message;
    EXPECT_EQ(fivo_params_count(p2), 5); // no proposal parameters
    OneStepMean(*this, boot, &mean);
    EXPECT_NEAR(mean, OneStepElbo(0.7, 0.0, 0.2, 0.2, 0.1), 0.25);
    fivo_model_close(&boot);
    fivo_params_free(p2);
}

TEST_F(Lgssm, GradientsReachEveryParameter)
{
    fivo_batch batch{};
    ASSERT_EQ(data.vt->batch(data.self, 4, false, 1, 0, &batch, &err), FIVO_OK) << err.message;
    fivo_ctx_reset(ctx);
    fivo_ctx_set_grad_enabled(ctx, true);
    fivo_ctx_set_seed(ctx, 5, 0);
    fivo_smc_options o{};
    o.num_particles = 4;
    o.criterion = FIVO_RESAMPLE_ESS;
    o.ess_threshold = 0.5;
    o.resampler = &resampler;
    fivo_smc_result res{};
    ASSERT_EQ(fivo_smc_run(ctx, &model, &batch, &o, &res, &err), FIVO_OK) << err.message;
    fivo_tensor *loss = fivo_scale(ctx, fivo_sum_all(ctx, res.log_phat), -1.0f);
    ASSERT_EQ(fivo_ctx_backward(ctx, loss, &err), FIVO_OK) << err.message;
    for (int i = 0; i < fivo_params_count(params); i++) {
        const char *name = nullptr;
        fivo_tensor *p = fivo_params_at(params, i, &name);
        ASSERT_NE(p->grad, nullptr) << name;
        EXPECT_TRUE(std::isfinite(p->grad[0])) << name;
        EXPECT_NE(p->grad[0], 0.0f) << name;
    }
}

TEST_F(Lgssm, SampleStepGeneratesFromThePrior)
{
    fivo_ctx_reset(ctx);
    fivo_ctx_set_seed(ctx, 9, 0);
    fivo_state s{}, next{};
    ASSERT_EQ(model.vt->zero_state(model.self, ctx, 2000, &s, &err), FIVO_OK);
    fivo_tensor *x = nullptr;
    ASSERT_EQ(model.vt->sample_step(model.self, ctx, &s, 0, &next, &x, &err), FIVO_OK);
    double m = 0, v = 0;
    for (int i = 0; i < 2000; i++)
        m += x->data[i] / 2000.0;
    for (int i = 0; i < 2000; i++)
        v += (x->data[i] - m) * (x->data[i] - m) / 2000.0;
    EXPECT_NEAR(m, 0.0, 0.05);
    EXPECT_NEAR(v, 0.3, 0.04); // 2v + v at variance 0.1
}

TEST_F(Lgssm, BadConfigIsAnErrorNamingTheKey)
{
    fivo_config_set(cfg, "model", "proposal_type", "smoothing");
    fivo_data_spec spec{};
    spec.dim = 1;
    spec.kind = "real";
    fivo_model m{};
    EXPECT_EQ(fivo_model_open(reg, "lgssm", cfg, &spec, params, &m, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("proposal_type"), std::string::npos) << err.message;
    spec.kind = "binary";
    fivo_config_set(cfg, "model", "proposal_type", "prior");
    EXPECT_EQ(fivo_model_open(reg, "lgssm", cfg, &spec, params, &m, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("binary"), std::string::npos) << err.message;
}

} // namespace
