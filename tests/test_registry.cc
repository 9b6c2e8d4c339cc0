// The registry's verdict on each tiny test plugin (tests/plugins/).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <fivo/fivo.h>
#include <fivo/internal/registry.h>

namespace {

std::string plugin(const char *name)
{
    return std::string(FIVO_TEST_TEST_PLUGIN_DIR) + "/" + name;
}

std::string refusal_for(const fivo_registry *reg, const std::string &file)
{
    for (int i = 0; i < fivo_registry_refused_count(reg); i++) {
        const fivo_plugin_refusal *r = fivo_registry_refused_at(reg, i);
        if (file == r->file)
            return r->reason;
    }
    return "";
}

class Registry : public ::testing::Test {
protected:
    void SetUp() override
    {
        reg = fivo_registry_new();
        ASSERT_NE(reg, nullptr);
        fivo_error err{};
        ASSERT_EQ(fivo_registry_scan_dir(reg, FIVO_TEST_TEST_PLUGIN_DIR, &err), FIVO_OK)
            << err.message;
    }
    void TearDown() override { fivo_registry_free(reg); }
    fivo_registry *reg = nullptr;
};

TEST_F(Registry, AcceptsOneGoodPluginOfEachKind)
{
    const fivo_plugin_info *m = fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "test_model");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->file, plugin("good_model.so"));
    EXPECT_STREQ(m->version, "1.2.3");
    EXPECT_EQ(m->abi_major, FIVO_ABI_MAJOR);
    EXPECT_EQ(m->vtable_size, sizeof(fivo_model_vtable));
    ASSERT_EQ(m->num_options, 2u);
    EXPECT_STREQ(m->options[0].key, "hidden_size");
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_BOUND, "test_bound"), nullptr);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_RESAMPLER, "test_resampler"), nullptr);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_DATASET, "test_dataset"), nullptr);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "short_model"), nullptr);
    // Kind matters: a model named test_bound does not exist.
    EXPECT_EQ(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "test_bound"), nullptr);
    // Exactly these five are accepted; the rest are refused.
    EXPECT_EQ(fivo_registry_count(reg), 5);
}

TEST_F(Registry, RefusesWrongAbiNamingFileAndBothVersions)
{
    std::string why = refusal_for(reg, plugin("wrong_abi.so"));
    EXPECT_NE(why.find(plugin("wrong_abi.so")), std::string::npos) << why;
    const std::string host_abi = "host ABI " + std::to_string(FIVO_ABI_MAJOR) + "." +
                                 std::to_string(FIVO_ABI_MINOR);
    EXPECT_NE(why.find("plugin ABI 3.0, " + host_abi), std::string::npos) << why;
    EXPECT_EQ(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "wrong_abi_model"), nullptr);
}

TEST_F(Registry, RefusesMissingSymbolNullDescriptorAndNonLibraries)
{
    std::string why = refusal_for(reg, plugin("missing_symbol.so"));
    EXPECT_NE(why.find("no fivo_plugin_query symbol"), std::string::npos) << why;
    why = refusal_for(reg, plugin("null_descriptor.so"));
    EXPECT_NE(why.find("returned no descriptor"), std::string::npos) << why;
    why = refusal_for(reg, plugin("not_a_library.so"));
    EXPECT_NE(why.find("cannot load"), std::string::npos) << why;
    EXPECT_NE(why.find("not a shared library"), std::string::npos) << why;
    why = refusal_for(reg, plugin("unresolved.so"));
    EXPECT_NE(why.find("fivo_test_no_such_variable"), std::string::npos) << why;
    why = refusal_for(reg, plugin("bad_kind.so"));
    EXPECT_NE(why.find("unknown plugin kind 7"), std::string::npos) << why;
    why = refusal_for(reg, plugin("tiny_vtable.so"));
    EXPECT_NE(why.find("shorter than"), std::string::npos) << why;
    // Files without the .so suffix are not candidates at all.
    EXPECT_EQ(refusal_for(reg, plugin("notes.txt")), "");
    EXPECT_EQ(fivo_registry_refused_count(reg), 8); // with the shadowed duplicate
}

TEST_F(Registry, LaterDuplicateIsShadowed)
{
    std::string why = refusal_for(reg, plugin("zz_dup_model.so"));
    EXPECT_NE(why.find("shadowed by " + plugin("good_model.so")), std::string::npos) << why;
    EXPECT_STREQ(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "test_model")->version, "1.2.3");
}

TEST_F(Registry, ScanningTheSameFolderTwiceAddsNothing)
{
    int n = fivo_registry_count(reg), r = fivo_registry_refused_count(reg);
    fivo_error err{};
    EXPECT_EQ(fivo_registry_scan_dir(reg, FIVO_TEST_TEST_PLUGIN_DIR, &err), FIVO_OK);
    EXPECT_EQ(fivo_registry_count(reg), n);
    EXPECT_EQ(fivo_registry_refused_count(reg), r);
}

TEST_F(Registry, ShortVtableSlotsAreAbsentAndNeverRead)
{
    // The short plugin's two slots end exactly at a page boundary followed by
    // an inaccessible page: reading any later slot would crash this test.
    const fivo_plugin_info *info = fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "short_model");
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->vtable_size, 2 * sizeof(void (*)(void)));
    fivo_model m{};
    m.vt = static_cast<const fivo_model_vtable *>(info->vtable);
    m.vt_size = info->vtable_size;
    EXPECT_TRUE(FIVO_MODEL_HAS(&m, create));
    EXPECT_TRUE(FIVO_MODEL_HAS(&m, destroy));
    EXPECT_FALSE(FIVO_MODEL_HAS(&m, set_observations));
    EXPECT_FALSE(FIVO_MODEL_HAS(&m, propose_and_weight));
    EXPECT_FALSE(FIVO_MODEL_HAS(&m, sample_step));
    EXPECT_FALSE(FIVO_MODEL_HAS(&m, log_likelihood));

    // Opening it needs slots it lacks: an ABI error naming the slot, no crash.
    fivo_model out{};
    fivo_error err{};
    EXPECT_EQ(fivo_model_open(reg, "short_model", nullptr, nullptr, nullptr, &out, &err),
              FIVO_ERR_ABI);
    EXPECT_NE(std::string(err.message).find("set_observations"), std::string::npos)
        << err.message;
    EXPECT_EQ(out.self, nullptr);
}

TEST_F(Registry, OpensGoodPluginsAndNamesMissingOnes)
{
    fivo_error err{};
    fivo_model m{};
    ASSERT_EQ(fivo_model_open(reg, "test_model", nullptr, nullptr, nullptr, &m, &err), FIVO_OK)
        << err.message;
    EXPECT_STREQ(m.name, "test_model");
    EXPECT_NE(m.self, nullptr);
    EXPECT_TRUE(FIVO_MODEL_HAS(&m, propose_and_weight));
    EXPECT_FALSE(FIVO_MODEL_HAS(&m, sample_step)); // covered by the size but NULL
    fivo_model_close(&m);
    EXPECT_EQ(m.self, nullptr);

    fivo_bound b{};
    ASSERT_EQ(fivo_bound_open(reg, "test_bound", nullptr, &b, &err), FIVO_OK) << err.message;
    fivo_bound_close(&b);
    fivo_resampler r{};
    ASSERT_EQ(fivo_resampler_open(reg, "test_resampler", nullptr, &r, &err), FIVO_OK);
    int32_t anc[3];
    double lw[3] = {0, 0, 0};
    ASSERT_EQ(r.vt->resample(r.self, lw, 3, nullptr, 0, anc, &err), FIVO_OK);
    EXPECT_EQ(anc[2], 2);
    fivo_resampler_close(&r);

    fivo_dataset d{};
    ASSERT_EQ(fivo_dataset_open(reg, "test_dataset", nullptr, "/some/path", "valid", &d, &err),
              FIVO_OK)
        << err.message;
    fivo_dataset_info di;
    ASSERT_EQ(d.vt->info(d.self, &di, &err), FIVO_OK);
    EXPECT_EQ(di.dim, 3);
    fivo_dataset_close(&d);
    // The plugin's own error comes back prefixed with the plugin name.
    EXPECT_EQ(fivo_dataset_open(reg, "test_dataset", nullptr, "/nonexistent", "train", &d, &err),
              FIVO_ERR_IO);
    EXPECT_NE(std::string(err.message).find("dataset 'test_dataset': /nonexistent"),
              std::string::npos)
        << err.message;

    EXPECT_EQ(fivo_model_open(reg, "nosuch", nullptr, nullptr, nullptr, &m, &err),
              FIVO_ERR_NOT_FOUND);
    std::string msg = err.message;
    EXPECT_NE(msg.find("no model plugin named 'nosuch'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("short_model"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test_model"), std::string::npos) << msg;
}

TEST(RegistryDefault, SearchOrderIncludesEnvAndConfigFolders)
{
    fivo_registry *reg = fivo_registry_new();
    fivo_config *cfg = fivo_config_new();
    fivo_config_set(cfg, "fivo", "plugin_path", "/nonexistent/b:" FIVO_TEST_TEST_PLUGIN_DIR);
    setenv("FIVO_PLUGIN_PATH", "/nonexistent/a", 1);
    fivo_error err{};
    ASSERT_EQ(fivo_registry_scan_default(reg, cfg, &err), FIVO_OK);
    unsetenv("FIVO_PLUGIN_PATH");
    const char *const *dirs = fivo_registry_search_dirs(reg);
    std::vector<std::string> d;
    for (int i = 0; dirs[i]; i++)
        d.push_back(dirs[i]);
    // The bundled folder (the build tree's, for the build tree's libfivo),
    // then FIVO_PLUGIN_PATH, then [fivo] plugin_path.
    ASSERT_EQ(d.size(), 4u);
    EXPECT_EQ(d[0], fivo_registry_builtin_dir());
    EXPECT_EQ(d[0], FIVO_TEST_PLUGIN_DIR);
    EXPECT_EQ(d[1], "/nonexistent/a");
    EXPECT_EQ(d[2], "/nonexistent/b");
    EXPECT_EQ(d[3], FIVO_TEST_TEST_PLUGIN_DIR);
    EXPECT_NE(fivo_registry_find(reg, FIVO_PLUGIN_MODEL, "test_model"), nullptr);
    fivo_config_free(cfg);
    fivo_registry_free(reg);
}

TEST(RegistryKinds, Names)
{
    EXPECT_STREQ(fivo_plugin_kind_name(FIVO_PLUGIN_MODEL), "model");
    EXPECT_STREQ(fivo_plugin_kind_name(FIVO_PLUGIN_BOUND), "bound");
    EXPECT_STREQ(fivo_plugin_kind_name(FIVO_PLUGIN_RESAMPLER), "resampler");
    EXPECT_STREQ(fivo_plugin_kind_name(FIVO_PLUGIN_DATASET), "dataset");
    EXPECT_STREQ(fivo_plugin_kind_name(static_cast<fivo_plugin_kind>(9)), "unknown");
}

} // namespace
