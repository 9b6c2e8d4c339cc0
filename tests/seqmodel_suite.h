// The tests every recurrent latent-variable model built on fivo/seqmodel.h
// passes (vrnn, srnn): finite-difference check of the gradient of the whole
// bound (IWAE and FIVO through the SMC engine) for every proposal type and
// both emissions, on a tiny model; the emission bias initialisation; config
// errors; sampling. A test file includes this once and instantiates it:
//
//   INSTANTIATE_TEST_SUITE_P(Vrnn, SeqModel, ::testing::Values(SeqModelCase{"vrnn", 3}));
//
// The gradient cases run the conformance kit's check (fivo/conformance.h:
// forward in float32, loss in double; h = 2e-3; error = |tape - numeric| /
// max(0.1, |tape|, |numeric|) below 5e-2, float rounding over a few hundred
// ops bounding the attainable error). With resampling, ancestors are
// piecewise constant in the parameters and carry no gradient (as in the
// reference); the fixed seeds give a point with no ancestor change within h.
#pragma once

#include "model_harness.h"

#include <fivo/conformance.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

struct SeqModelCase {
    const char *model;
    int fivo_particles; // particles of the always-resampling FIVO gradient case
};

inline void PrintTo(const SeqModelCase &c, std::ostream *os) { *os << c.model; }

namespace mh {

inline fivo_data_spec spec_for(const TinyBatch &tb, bool binary)
{
    fivo_data_spec s{};
    s.dim = tb.D;
    s.kind = binary ? "binary" : "real";
    s.mean = binary ? tb.mean.data() : nullptr;
    return s;
}

// Parameter `name` of m (a prefix-less name gets "<model>/").
inline fivo_tensor *param(const Loaded &m, const char *model, const std::string &name)
{
    return fivo_params_find(m.params, (std::string(model) + "/" + name).c_str());
}

} // namespace mh

class SeqModel : public ::testing::TestWithParam<SeqModelCase> {
  protected:
    const char *model() const { return GetParam().model; }

    // The gradient check of the model conformance kit (sdk/tools/conformance,
    // check_gradient.c: the one finite-difference check of a whole bound),
    // on every entry of every parameter tensor: IWAE (ELBO with one
    // particle), or FIVO resampling at every step with the bundled
    // multinomial. Data: dim 5, sequences of lengths 4 and 3.
    void gradient_case(const char *proposal, bool binary, fivo_criterion crit, int particles,
                       unsigned data_seed = 11)
    {
        const std::string latent = "latent_size=3", prop = std::string("proposal_type=") + proposal;
        const char *settings[] = {latent.c_str(), prop.c_str(), nullptr};
        const bool resampled = crit == FIVO_RESAMPLE_ALWAYS;
        const char *only[] = {resampled ? "gradient_resampled" : "gradient", nullptr};
        const std::string file = std::string(FIVO_TEST_PLUGIN_DIR) + "/" + model() + ".so";
        fivo_conformance_options o;
        fivo_conformance_defaults(&o);
        o.plugin_file = file.c_str();
        o.settings = settings;
        o.kind = binary ? "binary" : "real";
        o.seed = data_seed;
        o.grad_samples = 0; // every entry
        o.particles = particles;
        o.resampled_particles = particles;
        o.only = only;
        char *text = nullptr;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        ASSERT_NE(out, nullptr);
        fivo_error err{};
        int failed = fivo_conformance_run(&o, out, &err);
        fclose(out);
        std::string report = text != nullptr ? text : "";
        free(text);
        EXPECT_EQ(failed, 0) << proposal << ": " << err.message << "\n" << report;
        EXPECT_NE(report.find(std::string("PASS ") + only[0] + ":"), std::string::npos)
            << proposal << ":\n" << report;
    }

    // The config error of one bad [model] key names the key.
    void expect_error_names(const char *key, const char *value)
    {
        mh::TinyBatch tb(3, 2, 6, true, 1);
        mh::Loaded m(model(), {{key, value}}, mh::spec_for(tb, true));
        EXPECT_FALSE(m.have_model) << key << " = " << value;
        EXPECT_NE(std::string(m.err.message).find(key), std::string::npos) << m.err.message;
        EXPECT_NE(std::string(m.err.message).find(std::string(model()) + ": "), std::string::npos)
            << m.err.message;
    }
};

TEST_P(SeqModel, GradientFilteringIwae) { gradient_case("filtering", true, FIVO_RESAMPLE_NEVER, 2); }
TEST_P(SeqModel, GradientSmoothingIwae) { gradient_case("smoothing", true, FIVO_RESAMPLE_NEVER, 2); }
TEST_P(SeqModel, GradientPriorIwae) { gradient_case("prior", true, FIVO_RESAMPLE_NEVER, 2); }
TEST_P(SeqModel, GradientFilteringFivoAlwaysResample)
{
    gradient_case("filtering", true, FIVO_RESAMPLE_ALWAYS, GetParam().fivo_particles);
}
TEST_P(SeqModel, GradientSmoothingElbo) { gradient_case("smoothing", true, FIVO_RESAMPLE_NEVER, 1); }
TEST_P(SeqModel, GradientNormalEmission) { gradient_case("filtering", false, FIVO_RESAMPLE_NEVER, 2); }
TEST_P(SeqModel, GradientSmoothingNormalEmission)
{
    // Data seed 13: with 11 a VRNN ReLU input lies within h of its kink
    // (the error then shrinks with h: 0.03 at h = 5e-4).
    gradient_case("smoothing", false, FIVO_RESAMPLE_NEVER, 2, 13);
}

TEST_P(SeqModel, EmissionBiasIsLogitOfTrainMean)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m(model(), {{"latent_size", "4"}}, mh::spec_for(tb, true));
    ASSERT_TRUE(m.have_model) << m.err.message;
    fivo_tensor *b = mh::param(m, model(), "emission/fc2/b");
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(b->cols, tb.D); // Bernoulli: one logit per dimension
    for (int j = 0; j < tb.D; j++)
        EXPECT_NEAR(b->data[j], std::log(tb.mean[j] / (1 - tb.mean[j])), 1e-5);
    // Real data: a Normal emission (mean and raw scale), bias left at zero.
    mh::Loaded r(model(), {{"latent_size", "4"}}, mh::spec_for(tb, false));
    ASSERT_TRUE(r.have_model) << r.err.message;
    fivo_tensor *rb = mh::param(r, model(), "emission/fc2/b");
    ASSERT_EQ(rb->cols, 2 * tb.D);
    for (int j = 0; j < rb->cols; j++)
        EXPECT_EQ(rb->data[j], 0.0f);
}

TEST_P(SeqModel, DefaultSizesFollowLatentSize)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m(model(), {}, mh::spec_for(tb, true));
    ASSERT_TRUE(m.have_model) << m.err.message;
    EXPECT_EQ(mh::param(m, model(), "lstm/kernel")->cols, 4 * 64);
    EXPECT_EQ(mh::param(m, model(), "data_encoder/fc1/w")->cols, 64);
    EXPECT_EQ(mh::param(m, model(), "latent_encoder/fc2/w")->cols, 64);
    EXPECT_EQ(mh::param(m, model(), "rev_lstm/kernel"), nullptr); // filtering
    EXPECT_NE(mh::param(m, model(), "proposal/fc1/w"), nullptr);
    mh::Loaded p(model(), {{"proposal_type", "prior"}, {"fcnet_hidden_sizes", "5, 7"}},
                 mh::spec_for(tb, true));
    ASSERT_TRUE(p.have_model) << p.err.message;
    EXPECT_EQ(mh::param(p, model(), "proposal/fc1/w"), nullptr); // q = p: no proposal
    EXPECT_EQ(mh::param(p, model(), "prior/fc1/w")->cols, 5);
    EXPECT_EQ(mh::param(p, model(), "prior/fc2/w")->cols, 7);
    EXPECT_EQ(mh::param(p, model(), "prior/fc3/w")->cols, 2 * 64);
}

TEST_P(SeqModel, BadOptionsAreNamed)
{
    expect_error_names("proposal_type", "smoth");
    expect_error_names("latent_size", "-3");
    expect_error_names("rnn_hidden_size", "0");
    expect_error_names("fcnet_hidden_sizes", "8,x");
    expect_error_names("sigma_min", "-1");
}

TEST_P(SeqModel, SampleStepGivesBinaryFrames)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m(model(), {{"latent_size", "4"}}, mh::spec_for(tb, true));
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
