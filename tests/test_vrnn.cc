// The VRNN plugin: the common sequence-model suite (seqmodel_suite.h:
// gradient checks of every proposal and emission, emission bias, config
// errors, sampling) and the VRNN's own parameter layout.
#include "seqmodel_suite.h"

INSTANTIATE_TEST_SUITE_P(Vrnn, SeqModel, ::testing::Values(SeqModelCase{"vrnn", 3}));

namespace {

TEST(Vrnn, ParameterNamesAndShapes)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m("vrnn", {{"latent_size", "4"}, {"proposal_type", "smoothing"}},
                 mh::spec_for(tb, true));
    ASSERT_TRUE(m.have_model) << m.err.message;
    for (const char *name : {"vrnn/data_encoder/fc1/w", "vrnn/data_encoder/fc2/b",
                             "vrnn/latent_encoder/fc2/w", "vrnn/lstm/kernel", "vrnn/lstm/bias",
                             "vrnn/rev_lstm/kernel", "vrnn/prior/fc1/w", "vrnn/prior/fc2/w",
                             "vrnn/proposal/fc1/w", "vrnn/emission/fc2/b"})
        EXPECT_NE(fivo_params_find(m.params, name), nullptr) << name;
    fivo_tensor *lstm = fivo_params_find(m.params, "vrnn/lstm/kernel");
    ASSERT_NE(lstm, nullptr);
    EXPECT_EQ(lstm->rows, 4 + 4 + 4); // [encoded x, encoded z, h]
    EXPECT_EQ(lstm->cols, 16);
    EXPECT_EQ(fivo_params_find(m.params, "vrnn/prior/fc1/w")->rows, 4);        // h
    EXPECT_EQ(fivo_params_find(m.params, "vrnn/prior/fc2/w")->cols, 8);        // mu, raw sigma
    EXPECT_EQ(fivo_params_find(m.params, "vrnn/proposal/fc1/w")->rows, 4 + 4); // [h, reverse h]
    EXPECT_EQ(fivo_params_find(m.params, "vrnn/rev_lstm/kernel")->rows, 4 + 4); // [enc x, h]
    EXPECT_EQ(fivo_params_find(m.params, "vrnn/emission/fc1/w")->rows, 4 + 4);  // [enc z, h]
}

} // namespace
