// The fivo executable's command line and config handling, run as a process.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fivo/abi.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "host_runner.h"

namespace {

using fivo_test::Result;
using fivo_test::has;
using fivo_test::run;

class HostCli : public ::testing::Test {
protected:
    void SetUp() override
    {
        gchar *d = g_dir_make_tmp("fivo_cli_XXXXXX", nullptr);
        ASSERT_NE(d, nullptr);
        dir = d;
        g_free(d);
    }
    void TearDown() override
    {
        for (auto &f : files)
            g_remove(f.c_str());
        g_rmdir(dir.c_str());
    }
    std::string write(const std::string &name, const std::string &text)
    {
        std::string path = dir + "/" + name;
        EXPECT_TRUE(g_file_set_contents(path.c_str(), text.c_str(), -1, nullptr));
        files.push_back(path);
        return path;
    }
    std::string dir;
    std::vector<std::string> files;
    const std::string tp = FIVO_TEST_TEST_PLUGIN_DIR;
};

TEST_F(HostCli, UnknownFlagIsNamedWithTheClosestKnownOne)
{
    Result r = run({"--mode=train", "--laten_size=3"});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "unknown flag --laten_size")) << r.err;
    EXPECT_TRUE(has(r.err, "did you mean --latent_size?")) << r.err;
    r = run({"--resampling_typ", "multinomial"});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "did you mean --resampling_type?")) << r.err;
}

TEST_F(HostCli, BadValuesAndArgumentsExitNonZero)
{
    Result r = run({"--batch_size=four"});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "--batch_size: [fivo] batch_size = 'four': expected an integer"))
        << r.err;
    r = run({"--split=validation"});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "expected one of train|valid|test")) << r.err;
    r = run({"--learning_rate"}); // needs a value
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "--learning_rate needs a value")) << r.err;
    r = run({"frobnicate"});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "unexpected argument 'frobnicate'")) << r.err;
    r = run({"--set", "model"});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "SECTION.KEY=VALUE")) << r.err;
}

TEST_F(HostCli, MalformedKeyFileNamesFileAndLine)
{
    std::string ini = write("bad.ini", "[fivo]\nbatch_size = 4\nthis is not a key\n");
    Result r = run({"--config", ini});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, ini + ":3:")) << r.err;
    r = run({"--config=" + dir + "/missing.ini"});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, dir + "/missing.ini")) << r.err;
}

TEST_F(HostCli, UnknownConfigKeyOrSectionIsNamedWithSuggestion)
{
    std::string ini = write("k.ini", "[train]\nlearning_rate = 0.1\nmax_step = 5\n");
    Result r = run({"--config", ini});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, ini + ":3: unknown key 'max_step' in [train]; did you mean "
                             "'max_steps'?"))
        << r.err;
    ini = write("s.ini", "[modle]\nplugin = vrnn\n");
    r = run({"--config", ini});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "unknown section [modle]; did you mean [model]?")) << r.err;
    // --set goes through the same check.
    r = run({"--set", "bound.resampling_criteria=ess"});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "--set: unknown key 'resampling_criteria' in [bound] for bound plugin "
                           "'fivo'; did you mean 'resampling_criterion'? (its keys: "
                           "resampling_criterion, ess_threshold)"))
        << r.err;
    // A bad value in the file names the file and line.
    ini = write("v.ini", "[fivo]\n\nnum_samples = many\n");
    r = run({"--config", ini});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, ini + ":3: [fivo] num_samples = 'many': expected an integer"))
        << r.err;
}

TEST_F(HostCli, PluginSectionsAcceptOnlyTheChosenPluginsOptions)
{
    // hidden_size is declared by the test model plugin, not by vrnn: refused
    // for vrnn, naming the plugin and its keys, even when test_model is found...
    std::string ini = write("p.ini", "[model]\nhidden_size = 3\n[dataset]\nplugin = test_dataset\n"
                                     "test_dataset_option = true\n");
    Result r = run({"--config", ini, "--mode=inspect"}, tp);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, ini + ":2: unknown key 'hidden_size' in [model] for model plugin "
                             "'vrnn'; did you mean 'rnn_hidden_size'? (its keys: latent_size, "))
        << r.err;
    // ...and accepted when test_model is the chosen model; inspect then gets
    // as far as the (placeholder) mode.
    r = run({"--config", ini, "--mode=inspect", "--model=test_model"}, tp);
    EXPECT_NE(r.status, 2) << r.err;
    EXPECT_FALSE(has(r.err, "unknown key")) << r.err;
}

TEST_F(HostCli, FlagsOverrideTheFile)
{
    std::string ini = write("o.ini", "[dataset]\nplugin = test_dataset\n[model]\n"
                                     "plugin = model_from_file\n");
    Result r = run({"--config", ini, "--mode=sample"}, tp);
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(has(r.err, "missing model plugin 'model_from_file' (chosen by " + ini + ":4)"))
        << r.err;
    r = run({"--config", ini, "--mode=sample", "--model", "model_from_flag"}, tp);
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(has(r.err, "missing model plugin 'model_from_flag' (chosen by --model)"))
        << r.err;
    // The positional mode and --mode both work; a flag beats the file's mode.
    ini = write("m.ini", "[fivo]\nmode = plugins\n");
    r = run({"--config", ini, "--mode=sample", "--dataset_type=nosuch"}, tp);
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(has(r.err, "missing dataset plugin 'nosuch'")) << r.err;
    r = run({"--config", ini}, tp);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(has(r.out, "plugins found")) << r.out;
}

TEST_F(HostCli, MissingPluginIsNamedWithTheAvailableOnes)
{
    Result r = run({"--mode=train", "--dataset_type=test_dataset", "--model=nosuch"}, tp);
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(has(r.err, "missing model plugin 'nosuch'")) << r.err;
    // the test plugins are listed (real ones, e.g. ghmm, may be listed too)
    EXPECT_TRUE(has(r.err, "available model plugins: ")) << r.err;
    EXPECT_TRUE(has(r.err, "test_model, short_model")) << r.err;
    // All present: nothing is missing (the test plugins cannot train, so the
    // mode still fails).
    r = run({"--mode=eval", "--dataset_type=test_dataset", "--model=test_model",
             "--bound=test_bound", "--resampling_type=test_resampler", "--logdir=" + dir},
            tp);
    EXPECT_NE(r.status, 0);
    EXPECT_FALSE(has(r.err, "missing")) << r.err;
}

TEST_F(HostCli, PluginsListsFoundAndRefused)
{
    Result r = run({"plugins"}, tp);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(has(r.out, tp)) << r.out;
    for (const char *s : {"model", "test_model", "1.2.3", "1.0", "/good_model.so", "bound",
                          "test_bound", "resampler", "test_resampler", "dataset", "test_dataset",
                          "short_model", "8 candidates refused"})
        EXPECT_TRUE(has(r.out, s)) << s << "\n" << r.out;
    const std::string host_abi = "host ABI " + std::to_string(FIVO_ABI_MAJOR) + "." +
                                 std::to_string(FIVO_ABI_MINOR);
    EXPECT_TRUE(has(r.out, tp + "/wrong_abi.so: plugin ABI 3.0, " + host_abi)) << r.out;
    EXPECT_TRUE(has(r.out, tp + "/missing_symbol.so: no fivo_plugin_query symbol")) << r.out;
    EXPECT_TRUE(has(r.out, tp + "/not_a_library.so: cannot load")) << r.out;
    EXPECT_TRUE(has(r.out, tp + "/zz_dup_model.so: model plugin 'test_model' is shadowed"))
        << r.out;
    // The config key plugin_path works like FIVO_PLUGIN_PATH.
    r = run({"--mode=plugins", "--plugin_path=" + tp});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(has(r.out, "test_model")) << r.out;
}

TEST_F(HostCli, HelpDocumentsEveryReferenceFlagAndSection)
{
    Result r = run({"--help"}, tp);
    EXPECT_EQ(r.status, 0) << r.err;
    for (const char *f :
         {"--mode=", "--model=", "--bound=", "--dataset_path=", "--dataset_type=", "--batch_size=",
          "--num_samples=", "--learning_rate=", "--logdir=", "--latent_size=", "--proposal_type=",
          "--resampling_type=", "--split=", "--prefix_length=", "--sample_length=",
          "--random_seed=", "--max_steps=", "--summarize_every=", "--normalize_by_seq_len=",
          "--variance=", "--num_timesteps=", "--config", "[fivo]", "[train]", "[eval]",
          "[sample]", "[model]", "[bound]", "[resampler]", "[dataset]", "metrics.jsonl"})
        EXPECT_TRUE(has(r.out, f)) << f;
    // Plugin-declared options appear with their plugin.
    EXPECT_TRUE(has(r.out, "  [model] plugin = test_model\n      hidden_size=INT; default: 8\n"))
        << r.out;
    // Choices are the plugin's, listed with it.
    EXPECT_TRUE(has(r.out, "  [model] plugin = vrnn\n")) << r.out;
    EXPECT_TRUE(has(r.out, "proposal_type=filtering|smoothing|prior; default: filtering")) << r.out;
}

// Every spelling of a boolean flag gives the value it spells: the train
// summary says "per timestep" when normalize_by_seq_len is true and "per
// sequence" when false (one GHMM step: no data file).
TEST_F(HostCli, BoolFlagSpellings)
{
    const struct {
        const char *flag;
        bool value;
    } cases[] = {{"--normalize_by_seq_len=false", false}, {"--nonormalize_by_seq_len", false},
                 {"--normalize_by_seq_len=0", false},     {"--normalize_by_seq_len=no", false},
                 {"--normalize_by_seq_len", true},        {"--normalize_by_seq_len=1", true},
                 {"--normalize_by_seq_len=true", true},   {"--normalize_by_seq_len=yes", true}};
    for (const auto &c : cases) {
        std::string logdir = dir + "/run";
        Result r = run({"--mode=train", "--model=ghmm", "--max_steps=1", "--summarize_every=1",
                        "--logdir=" + logdir, c.flag});
        EXPECT_EQ(r.status, 0) << c.flag << ": " << r.err;
        const char *want = c.value ? "bound per timestep" : "bound per sequence";
        const char *other = c.value ? "bound per sequence" : "bound per timestep";
        EXPECT_TRUE(has(r.out, want)) << c.flag << " should parse as " << c.value << ": " << r.out;
        EXPECT_FALSE(has(r.out, other)) << c.flag << ": " << r.out;
        std::error_code ec;
        std::filesystem::remove_all(logdir, ec);
    }
    // The default is true.
    Result r = run({"--mode=train", "--model=ghmm", "--max_steps=1", "--summarize_every=1",
                    "--logdir=" + dir + "/default"});
    EXPECT_TRUE(has(r.out, "bound per timestep")) << r.out;
    std::error_code ec;
    std::filesystem::remove_all(dir + "/default", ec);
}

} // namespace
