// The SRNN plugin: the common sequence-model suite (seqmodel_suite.h:
// gradient checks of every proposal and emission, emission bias, config
// errors, sampling) and the SRNN's own parameter layout.
#include "seqmodel_suite.h"

INSTANTIATE_TEST_SUITE_P(Srnn, SeqModel, ::testing::Values(SeqModelCase{"srnn", 2}));

namespace {

TEST(Srnn, ParameterNamesAndShapes)
{
    mh::TinyBatch tb(3, 2, 6, true, 1);
    mh::Loaded m("srnn", {{"latent_size", "4"}, {"proposal_type", "smoothing"}},
                 mh::spec_for(tb, true));
    ASSERT_TRUE(m.have_model) << m.err.message;
    for (const char *name : {"srnn/data_encoder/fc1/w", "srnn/latent_encoder/fc2/w",
                             "srnn/lstm/kernel", "srnn/rev_lstm/kernel", "srnn/prior/fc1/w",
                             "srnn/proposal/fc1/w", "srnn/emission/fc2/b"})
        EXPECT_NE(fivo_params_find(m.params, name), nullptr) << name;
    EXPECT_EQ(fivo_params_find(m.params, "srnn/lstm/kernel")->rows, 4 + 4); // [encoded x, h]
    EXPECT_EQ(fivo_params_find(m.params, "srnn/prior/fc1/w")->rows, 4 + 4); // [h, encoded z]
    EXPECT_EQ(fivo_params_find(m.params, "srnn/proposal/fc1/w")->rows, 4 + 4 + 4);
    EXPECT_EQ(fivo_params_find(m.params, "srnn/rev_lstm/kernel")->rows, 4 + 4 + 4);
    EXPECT_EQ(fivo_params_find(m.params, "srnn/emission/fc1/w")->rows, 4 + 4); // [enc z, h]
}

} // namespace
