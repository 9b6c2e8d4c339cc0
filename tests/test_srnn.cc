// The SRNN plugin: finite-difference check of the gradient of the whole
// bound (IWAE and FIVO through the SMC engine) for every proposal type and
// both emissions, on a tiny model; parameter names and the emission bias
// initialisation; config errors; sampling.
//
// Forward in float32, loss in double; h = 2e-3; error = |tape - numeric| /
// max(0.1, |tape|, |numeric|) must be below 5e-2 (float rounding over a
// few hundred ops bound the attainable error). With resampling, ancestors
// are piecewise constant in the parameters and carry no gradient (as in the
// reference); the fixed seeds give a point with no ancestor change within h.
#include "model_harness.h"

#include <cmath>

namespace {

constexpr double kH = 2e-3, kFloor = 0.1, kTol = 5e-2;
const char *kModel = "srnn";

fivo_data_spec spec_for(const mh::TinyBatch &tb, bool binary)
{
    fivo_data_spec s{};
    s.dim = tb.D;
    s.kind = binary ? "binary" : "real";
    s.mean = binary ? tb.mean.data() : nullptr;
    return s;
}

void gradient_case(const char *proposal, bool binary, fivo_criterion crit, int particles)
{
    mh::TinyBatch tb(4, 2, 5, binary, 11);
    mh::Loaded m(kModel, {{"latent_size", "3"}, {"proposal_type", proposal}}, spec_for(tb, binary));
    ASSERT_TRUE(m.have_model && m.have_resampler) << m.err.message;
    gc::Result r = mh::check_bound_gradient(m, tb.batch, particles, crit, kH, kFloor);
    EXPECT_GT(r.checked, 100);
    EXPECT_LT(r.max_err, kTol) << proposal << ": " << r.where;
}

TEST(Srnn, GradientFilteringIwae) { gradient_case("filtering", true, FIVO_RESAMPLE_NEVER, 2); }
TEST(Srnn, GradientSmoothingIwae) { gradient_case("smoothing", true, FIVO_RESAMPLE_NEVER, 2); }
TEST(Srnn, GradientPriorIwae) { gradient_case("prior", true, FIVO_RESAMPLE_NEVER, 2); }
TEST(Srnn, GradientFilteringFivoAlwaysResample)
{
    gradient_case("filtering", true, FIVO_RESAMPLE_ALWAYS, 2);
}
TEST(Srnn, GradientSmoothingElbo) { gradient_case("smoothing", true, FIVO_RESAMPLE_NEVER, 1); }
TEST(Srnn, GradientNormalEmission) { gradient_case("filtering", false, FIVO_RESAMPLE_NEVER, 2); }

TEST(Srnn, ParameterNamesAndEmissionBias)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m(kModel, {{"latent_size", "4"}, {"proposal_type", "smoothing"}},
                 spec_for(tb, true));
    ASSERT_TRUE(m.have_model) << m.err.message;
    for (const char *name : {"srnn/data_encoder/fc1/w", "srnn/latent_encoder/fc2/w",
                             "srnn/lstm/kernel", "srnn/rev_lstm/kernel", "srnn/prior/fc1/w",
                             "srnn/proposal/fc1/w", "srnn/emission/fc2/b"})
        EXPECT_NE(fivo_params_find(m.params, name), nullptr) << name;
    EXPECT_EQ(fivo_params_find(m.params, "srnn/lstm/kernel")->rows, 4 + 4); // [encoded x, h]
    EXPECT_EQ(fivo_params_find(m.params, "srnn/prior/fc1/w")->rows, 4 + 4); // [h, encoded z]
    EXPECT_EQ(fivo_params_find(m.params, "srnn/proposal/fc1/w")->rows, 4 + 4 + 4);
    EXPECT_EQ(fivo_params_find(m.params, "srnn/rev_lstm/kernel")->rows, 4 + 4 + 4);
    fivo_tensor *b = fivo_params_find(m.params, "srnn/emission/fc2/b");
    for (int j = 0; j < tb.D; j++)
        EXPECT_NEAR(b->data[j], std::log(tb.mean[j] / (1 - tb.mean[j])), 1e-5);
}

TEST(Srnn, DefaultSizesFollowLatentSize)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m(kModel, {}, spec_for(tb, true));
    ASSERT_TRUE(m.have_model) << m.err.message;
    EXPECT_EQ(fivo_params_find(m.params, "srnn/lstm/kernel")->cols, 4 * 64);
    EXPECT_EQ(fivo_params_find(m.params, "srnn/rev_lstm/kernel"), nullptr); // filtering
    EXPECT_NE(fivo_params_find(m.params, "srnn/proposal/fc1/w"), nullptr);
}

TEST(Srnn, BadProposalTypeIsNamed)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m(kModel, {{"proposal_type", "smoth"}}, spec_for(tb, true));
    EXPECT_FALSE(m.have_model);
    EXPECT_NE(std::string(m.err.message).find("proposal_type"), std::string::npos)
        << m.err.message;
    mh::Loaded m2(kModel, {{"latent_size", "-3"}}, spec_for(tb, true));
    EXPECT_FALSE(m2.have_model);
    EXPECT_NE(std::string(m2.err.message).find("latent_size"), std::string::npos)
        << m2.err.message;
}

TEST(Srnn, SampleStepGivesBinaryFrames)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m(kModel, {{"latent_size", "4"}}, spec_for(tb, true));
    ASSERT_TRUE(m.have_model) << m.err.message;
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    fivo_ctx_set_grad_enabled(ctx, false);
    fivo_state st{};
    fivo_error err{};
    ASSERT_EQ(m.model.vt->zero_state(m.model.self, ctx, 6, &st, &err), FIVO_OK);
    for (int t = 0; t < 5; t++) {
        fivo_tensor *x = nullptr;
        ASSERT_EQ(m.model.vt->sample_step(m.model.self, ctx, &st, t, &st, &x, &err), FIVO_OK)
            << err.message;
        ASSERT_EQ(x->rows, 6);
        ASSERT_EQ(x->cols, 6);
        for (size_t i = 0; i < fivo_tensor_size(x); i++)
            EXPECT_TRUE(x->data[i] == 0.0f || x->data[i] == 1.0f);
    }
    fivo_ctx_free(ctx);
}

} // namespace
