// ABI version compatibility: a plugin built for an older minor loads and its
// missing slots read as absent; a newer minor loads and the host uses only
// the slots it knows; a different major is refused naming the file and both
// versions, without the host touching its vtable. The plugins are in
// tests/abi_plugins/ (built into <build>/tests/abi_plugins).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>

#include <fivo/fivo.h>
#include <fivo/internal/registry.h>

#include "sdk_test_util.h"

namespace {

std::string AbiDir() { return std::string(FIVO_TEST_BINARY_DIR) + "/tests/abi_plugins"; }
std::string Module(const char *name) { return AbiDir() + "/" + name + ".so"; }
std::string Version(unsigned major, unsigned minor)
{
    return std::to_string(major) + "." + std::to_string(minor);
}

struct Fixture : ::testing::Test {
    fivo_registry *reg = fivo_registry_new();
    fivo_config *cfg = fivo_config_new();
    fivo_params *params = nullptr; // the test plugins register no parameters
    fivo_error err{};
    ~Fixture() override
    {
        fivo_config_free(cfg);
        fivo_registry_free(reg);
    }
    void Load(const char *name)
    {
        ASSERT_EQ(fivo_registry_load_file(reg, Module(name).c_str(), &err), FIVO_OK) << err.message;
    }
};

using AbiCompat = Fixture;

TEST_F(AbiCompat, OlderMinorLoadsAndMissingSlotsReadAsAbsent)
{
    Load("abi_old_minor");
    ASSERT_EQ(fivo_registry_refused_count(reg), 0)
        << fivo_registry_refused_at(reg, 0)->reason;
    const fivo_plugin_info *info = fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "abi_old_minor");
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->abi_major, FIVO_ABI_MAJOR);
    EXPECT_EQ(info->abi_minor, 0u);
    // The older layout ends where sample_step begins today.
    EXPECT_EQ(info->vtable_size, offsetof(fivo_model_vtable, sample_step));
    EXPECT_LT(info->vtable_size, sizeof(fivo_model_vtable));
    EXPECT_EQ(info->file, Module("abi_old_minor"));

    fivo_data_spec spec{};
    spec.dim = 1;
    spec.kind = "real";
    fivo_model m{};
    ASSERT_EQ(fivo_model_open(reg, "abi_old_minor", cfg, &spec, params, &m, &err), FIVO_OK)
        << err.message;
    EXPECT_EQ(m.vt_size, info->vtable_size);
    EXPECT_TRUE(FIVO_MODEL_HAS(&m, create));
    EXPECT_TRUE(FIVO_MODEL_HAS(&m, propose_and_weight));
    // Past the declared size the plugin put non-NULL junk: only the size says
    // these slots are absent.
    EXPECT_FALSE(FIVO_MODEL_HAS(&m, sample_step));
    EXPECT_FALSE(FIVO_MODEL_HAS(&m, log_likelihood));
    // The slots it has are callable through the loaded instance.
    fivo_state st{};
    st.count = -1;
    EXPECT_EQ(m.vt->zero_state(m.self, nullptr, 4, &st, &err), FIVO_OK);
    EXPECT_EQ(st.count, 0);
    fivo_model_close(&m);
}

TEST_F(AbiCompat, NewerMinorSameMajorLoadsAndKnownSlotsWork)
{
    Load("abi_new_minor");
    ASSERT_EQ(fivo_registry_refused_count(reg), 0)
        << fivo_registry_refused_at(reg, 0)->reason;
    const fivo_plugin_info *info = fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_new_minor");
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->abi_minor, FIVO_ABI_MINOR + 1u);
    EXPECT_GT(info->vtable_size, sizeof(fivo_resampler_vtable));

    fivo_resampler r{};
    ASSERT_EQ(fivo_resampler_open(reg, "abi_new_minor", cfg, &r, &err), FIVO_OK) << err.message;
    EXPECT_TRUE(FIVO_RESAMPLER_HAS(&r, resample));
    EXPECT_FALSE(FIVO_RESAMPLER_HAS(&r, resample_relaxed));
    const double log_w[4] = {0.0, -1.0, -2.0, -3.0};
    int32_t anc[4] = {-1, -1, -1, -1};
    fivo_rng rng = fivo_rng_make(1, FIVO_RNG_RESAMPLE, 0);
    ASSERT_EQ(r.vt->resample(r.self, log_w, 4, &rng, 0, anc, &err), FIVO_OK) << err.message;
    EXPECT_EQ(anc[0], 3);
    EXPECT_EQ(anc[3], 0);
    fivo_resampler_close(&r);
}

// A major mismatch in either direction: refused, reason names the file, the
// plugin's ABI and the host's ABI; nothing of it can be opened.
void ExpectMajorRefused(Fixture &f, const char *name, unsigned plugin_major)
{
    f.Load(name);
    EXPECT_EQ(fivo_registry_count(f.reg), 0);
    ASSERT_EQ(fivo_registry_refused_count(f.reg), 1);
    const fivo_plugin_refusal *ref = fivo_registry_refused_at(f.reg, 0);
    const std::string reason = ref->reason;
    EXPECT_EQ(std::string(ref->file), Module(name));
    EXPECT_NE(reason.find(Module(name)), std::string::npos) << reason;
    EXPECT_NE(reason.find(Version(plugin_major, 3)), std::string::npos) << reason;
    EXPECT_NE(reason.find(Version(FIVO_ABI_MAJOR, FIVO_ABI_MINOR)), std::string::npos) << reason;
    EXPECT_EQ(fivo_registry_find(f.reg, FIVO_PLUGIN_MODEL, name), nullptr);

    fivo_data_spec spec{};
    spec.dim = 1;
    spec.kind = "real";
    fivo_model m{};
    EXPECT_EQ(fivo_model_open(f.reg, name, f.cfg, &spec, f.params, &m, &f.err), FIVO_ERR_NOT_FOUND);
    EXPECT_NE(std::string(f.err.message).find(name), std::string::npos) << f.err.message;
}

TEST_F(AbiCompat, NewerMajorIsRefusedNamingBothVersions)
{
    ExpectMajorRefused(*this, "abi_new_major", FIVO_ABI_MAJOR + 1u);
}

TEST_F(AbiCompat, OlderMajorIsRefusedNamingBothVersions)
{
    ExpectMajorRefused(*this, "abi_old_major", FIVO_ABI_MAJOR - 1u);
}

TEST_F(AbiCompat, RequiredSlotBeyondDeclaredSizeIsAnAbiErrorAtOpen)
{
    Load("abi_missing_slot");
    ASSERT_NE(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "abi_missing_slot"), nullptr);
    fivo_data_spec spec{};
    spec.dim = 1;
    spec.kind = "real";
    fivo_model m{};
    EXPECT_EQ(fivo_model_open(reg, "abi_missing_slot", cfg, &spec, params, &m, &err), FIVO_ERR_ABI);
    const std::string msg = err.message;
    EXPECT_NE(msg.find("abi_missing_slot"), std::string::npos) << msg;
    EXPECT_NE(msg.find("propose_and_weight"), std::string::npos) << msg;
}

TEST_F(AbiCompat, ScanningAFolderKeepsCompatibleAndRefusesTheRest)
{
    ASSERT_EQ(fivo_registry_scan_dir(reg, AbiDir().c_str(), &err), FIVO_OK) << err.message;
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "abi_old_minor"), nullptr);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_new_minor"), nullptr);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "abi_missing_slot"), nullptr);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_rows_wider"), nullptr);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_rows_v20"), nullptr);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_DATASET, "abi_2_0_dataset"), nullptr);
    EXPECT_EQ(fivo_registry_count(reg), 6);
    EXPECT_EQ(fivo_registry_refused_count(reg), 4); // two majors, two malformed option tables
}

// The host lists what it refused, with both versions, and exits normally.
TEST(AbiCompatHost, PluginsModeReportsRefusalsWithoutFailing)
{
    sdk_test::TempDir tmp("abi_host");
    ASSERT_FALSE(tmp.path().empty());
    const std::string cmd = "cd " + sdk_test::Quote(tmp.path()) + " && FIVO_PLUGIN_PATH=" +
                            sdk_test::Quote(AbiDir()) + " " + sdk_test::Quote(FIVO_TEST_HOST) +
                            " --mode=plugins";
    sdk_test::RunResult r = sdk_test::Shell(cmd);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("abi_old_minor"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("abi_new_minor"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(Module("abi_new_major")), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(Version(FIVO_ABI_MAJOR + 1u, 3)), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(Module("abi_old_major")), std::string::npos) << r.output;
}

} // namespace

namespace {

// ABI 2.0's option rows: read at the plugin's stride (a later minor may
// widen them); a stride below the 2.0 row, or a default outside its own
// choices, is refused at load naming the plugin.
TEST_F(AbiCompat, OptionRowsAreReadAtThePluginsStrideAndCheckedAtLoad)
{
    Load("abi_rows_wider");
    const fivo_plugin_info *p = fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_rows_wider");
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(p->num_options, 2u);
    EXPECT_STREQ(p->options[0].key, "first_key");
    EXPECT_STREQ(p->options[1].key, "second_key");
    EXPECT_STREQ(p->options[1].choices, "a|b");
    fivo_config_set_from(cfg, "resampler", "second_key", "z", "--test");
    EXPECT_EQ(fivo_plugin_apply_options(p, cfg, "resampler", nullptr, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("resampler plugin 'abi_rows_wider' expects one of a|b"),
              std::string::npos)
        << err.message;

    Load("abi_rows_short");
    Load("abi_rows_bad_default");
    EXPECT_EQ(fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_rows_short"), nullptr);
    EXPECT_EQ(fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_rows_bad_default"), nullptr);
    std::string why;
    for (int i = 0; i < fivo_registry_refused_count(reg); i++)
        why += std::string(fivo_registry_refused_at(reg, i)->reason) + "\n";
    EXPECT_NE(why.find("plugin 'abi_rows_short' declares option rows of"), std::string::npos) << why;
    EXPECT_NE(why.find("option 1 'second_key': default 'c' is not one of a|b"), std::string::npos)
        << why;
}

} // namespace

namespace {

// ABI 2.1 gave option rows min and max. A plugin built against 2.0 (rows
// end before them) still loads, its keys without a range; a 2.1 row's range
// is checked, the message naming section, key, value and range.
TEST_F(AbiCompat, PreviousMinorRowsLoadWithoutRangeAndRangesAreChecked)
{
    Load("abi_rows_v20");
    const fivo_plugin_info *old = fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_rows_v20");
    ASSERT_NE(old, nullptr);
    EXPECT_EQ(old->abi_minor, 0u);
    ASSERT_EQ(old->num_options, 2u);
    EXPECT_STREQ(old->options[1].choices, "a|b");
    EXPECT_EQ(old->options[0].min, nullptr);
    EXPECT_EQ(old->options[0].max, nullptr);
    fivo_config_set_from(cfg, "resampler", "first_key", "1000", "--test");
    EXPECT_EQ(fivo_plugin_apply_options(old, cfg, "resampler", nullptr, &err), FIVO_OK)
        << err.message;

    Load("abi_rows_wider");
    const fivo_plugin_info *p = fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "abi_rows_wider");
    ASSERT_NE(p, nullptr);
    EXPECT_STREQ(p->options[0].min, "1");
    EXPECT_STREQ(p->options[0].max, "10");
    EXPECT_EQ(fivo_plugin_apply_options(p, cfg, "resampler", nullptr, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message)
                  .find("--test: [resampler] first_key = '1000': resampler plugin "
                        "'abi_rows_wider' expects a value in [1, 10]"),
              std::string::npos)
        << err.message;
    fivo_config_set_from(cfg, "resampler", "first_key", "10", "--test");
    EXPECT_EQ(fivo_plugin_apply_options(p, cfg, "resampler", nullptr, &err), FIVO_OK)
        << err.message;
}

// A row's own range is held to the same rules as a value: a default outside
// it, or a range on a string, is a malformed row.
TEST(OptionRows, RangeProblems)
{
    fivo_option o = {"k", FIVO_OPTION_INT, "0", "h", nullptr, "1", "10"};
    char *why = fivo_option_problem(&o);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("default '0' is not a value in [1, 10]"), std::string::npos)
        << why;
    free(why);
    fivo_option s = {"k", FIVO_OPTION_STRING, nullptr, "h", nullptr, "1", nullptr};
    why = fivo_option_problem(&s);
    ASSERT_NE(why, nullptr);
    free(why);
    fivo_option open = {"k", FIVO_OPTION_DOUBLE, "0.5", "h", nullptr, ">0", "<1"};
    EXPECT_EQ(fivo_option_problem(&open), nullptr);
    why = fivo_option_value_problem(&open, "0");
    ASSERT_NE(why, nullptr);
    EXPECT_STREQ(why, "a value in (0, 1)");
    free(why);
    EXPECT_EQ(fivo_option_value_problem(&open, "0.999"), nullptr);
}

// ABI 2.2's growing structs: a dataset built against the 2.0 headers (tests/
// abi_2_0, whose fivo_dataset_info and fivo_batch end before struct_size)
// loads with today's host; what it fills reads as the 2.2 fields, the host's
// struct_size says how much, and the instance struct carries libfivo's size.
TEST_F(AbiCompat, PreviousMinorDatasetFillsGrowingStructs)
{
    Load("abi_2_0_dataset");
    ASSERT_EQ(fivo_registry_refused_count(reg), 0)
        << fivo_registry_refused_at(reg, 0)->reason;
    const fivo_plugin_info *info =
        fivo_registry_find(reg, FIVO_PLUGIN_DATASET, "abi_2_0_dataset");
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->abi_minor, 0u);
    EXPECT_GT(FIVO_ABI_MINOR, info->abi_minor);

    fivo_dataset d;
    ASSERT_EQ(fivo_dataset_open(reg, "abi_2_0_dataset", cfg, "unused", "train", &d, &err), FIVO_OK)
        << err.message;
    EXPECT_EQ(d.struct_size, sizeof(fivo_dataset));

    fivo_dataset_info in;
    memset(&in, 0xab, sizeof in); // whatever the caller had: the host zeroes it
    ASSERT_EQ(fivo_dataset_get_info(&d, &in, &err), FIVO_OK) << err.message;
    EXPECT_EQ(in.dim, 1);
    EXPECT_STREQ(in.kind, "real");
    EXPECT_EQ(in.num_sequences, 2);
    EXPECT_EQ(in.max_len, 3);
    EXPECT_EQ(in.total_timesteps, 5);
    EXPECT_EQ(in.mean, nullptr);
    // The 2.0 plugin never touched struct_size: it reads as the host's room.
    EXPECT_EQ(in.struct_size, sizeof(fivo_dataset_info));

    fivo_batch b;
    memset(&b, 0xab, sizeof b);
    ASSERT_EQ(fivo_dataset_read_batch(&d, 2, false, 1, 0, &b, &err), FIVO_OK) << err.message;
    EXPECT_EQ(b.max_len, 3);
    EXPECT_EQ(b.batch_size, 2);
    EXPECT_EQ(b.dim, 1);
    EXPECT_EQ(b.lengths[0], 3);
    EXPECT_EQ(b.lengths[1], 2);
    EXPECT_EQ(b.targets[2 * 2 + 0], 2.0f); // x_2 of sequence 0
    EXPECT_EQ(b.targets[1 * 2 + 1], 11.0f); // x_1 of sequence 1
    EXPECT_EQ(b.seq_ids[1], 1);
    EXPECT_GE(b.struct_size, FIVO_STRUCT_SIZE_2_2(fivo_batch));
    EXPECT_EQ(fivo_dataset_read_batch(&d, 2, false, 1, 1, &b, &err), FIVO_END);
    fivo_dataset_close(&d);
}

// FIVO_STRUCT_HAS on a field past struct_size: false for 0 ("the 2.2
// fields") and for a writer that declared fewer bytes.
TEST(GrowingStructs, StructHasReadsTheDeclaredSize)
{
    struct grown {
        int a;
        size_t struct_size;
        double later; // a field appended after struct_size
    };
    grown g{};
    EXPECT_FALSE(FIVO_STRUCT_HAS(&g, grown, later));
    g.struct_size = FIVO_STRUCT_SIZE_2_2(grown);
    EXPECT_FALSE(FIVO_STRUCT_HAS(&g, grown, later));
    g.struct_size = sizeof g;
    EXPECT_TRUE(FIVO_STRUCT_HAS(&g, grown, later));
}

} // namespace
