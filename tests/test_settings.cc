// The settings layer, run as a process: every key has one default (the row's:
// `fivo --help` and a run's <logdir>/config.ini show the same), a run's
// config.ini fed back with --config repeats it bit for bit, eval and sample
// in a logdir take the run's settings, a flag that contradicts them is
// refused naming both values, values outside a row's range are refused
// naming section, key and range, and nothing is written when the config is
// refused. The modes are the [fivo] mode row's choices, each with a runner.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <glib.h>

#include "host_runner.h"
#include "pickle_fixtures.h"

namespace {

using fivo_test::has;
using fivo_test::Result;
using fivo_test::run;

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool exists(const std::string &path) { return g_file_test(path.c_str(), G_FILE_TEST_EXISTS); }

// "[section] key" -> (value, comment) of a config.ini.
struct Entry {
    std::string value, comment;
};
std::map<std::string, Entry> parse_ini(const std::string &text)
{
    std::map<std::string, Entry> out;
    std::istringstream in(text);
    std::string line, section, comment;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        if (line[0] == '#') {
            comment = line;
            continue;
        }
        if (line[0] == '[') {
            section = line.substr(1, line.find(']') - 1);
            comment.clear();
            continue;
        }
        size_t eq = line.find('=');
        if (eq == std::string::npos)
            continue;
        std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        while (!key.empty() && key.back() == ' ')
            key.pop_back();
        while (!value.empty() && value.front() == ' ')
            value.erase(0, 1);
        out["[" + section + "] " + key] = {value, comment};
        comment.clear();
    }
    return out;
}

// "[section] key" -> default, as `fivo --help` prints the host's rows.
std::map<std::string, std::string> help_defaults(const std::string &help)
{
    std::map<std::string, std::string> out;
    std::regex row(R"(\n      (\[[a-z.]+\] [a-z_]+); default: ([^\n]*)\n)");
    for (std::sregex_iterator it(help.begin(), help.end(), row), end; it != end; ++it)
        out[(*it)[1]] = (*it)[2];
    return out;
}

class Settings : public ::testing::Test {
protected:
    fivo_test::TempDir tmp;
    std::string dir = tmp.path;
    void SetUp() override { ASSERT_FALSE(dir.empty()); }
    // A short GHMM run (synthetic data: no files needed).
    std::vector<std::string> ghmm(const std::string &logdir) const
    {
        return {"--model=ghmm", "--bound=fivo", "--max_steps=20", "--summarize_every=10",
                "--checkpoint_every_secs=1000", "--logdir=" + logdir};
    }
};

} // namespace

// Each host key's default is its row's: --help shows it, and a run that
// sets nothing records it in config.ini, marked as a default.
TEST_F(Settings, EveryDefaultIsTheRowsInHelpAndInConfigIni)
{
    Result help = run({"--help"});
    ASSERT_EQ(help.status, 0) << help.err;
    std::map<std::string, std::string> defaults = help_defaults(help.out);
    for (const char *k : {"[train] learning_rate", "[fivo] num_samples", "[fivo] threads",
                          "[fivo] shards", "[fivo] batch_size"})
        ASSERT_TRUE(defaults.count(k)) << k << " missing from --help";
    EXPECT_EQ(defaults["[train] learning_rate"], "0.0002");
    EXPECT_EQ(defaults["[fivo] shards"], "0"); // one sequence per shard
    EXPECT_EQ(defaults["[fivo] threads"], "0"); // every core
    EXPECT_TRUE(has(help.out, "--threads=INT [0, 4096]")) << "the row's range in --help";

    Result r = run(ghmm(dir));
    ASSERT_EQ(r.status, 0) << r.err;
    std::map<std::string, Entry> ini = parse_ini(slurp(dir + "/config.ini"));
    ASSERT_FALSE(ini.empty()) << "no " << dir << "/config.ini";
    int compared = 0;
    for (const auto &[key, def] : defaults) {
        if (def.rfind("(", 0) == 0 || key == "[fivo] logdir" || key == "[fivo] mode" ||
            key == "[model] plugin" || key == "[bound] plugin" || key == "[dataset] plugin" ||
            key == "[train] max_steps" || key == "[train] summarize_every" ||
            key == "[train] checkpoint_every_secs")
            continue; // set by the command, or chosen by the model's preference
        ASSERT_TRUE(ini.count(key)) << key << " missing from config.ini";
        EXPECT_EQ(ini[key].value, def) << key;
        EXPECT_TRUE(has(ini[key].comment, "from: default")) << key << ": " << ini[key].comment;
        compared++;
    }
    EXPECT_GT(compared, 15);
    EXPECT_TRUE(has(ini["[train] max_steps"].comment, "from: flag --max_steps"));
    EXPECT_EQ(ini["[dataset] plugin"].value, "chain");
    EXPECT_TRUE(has(ini["[dataset] plugin"].comment, "preferred by model 'ghmm'"));
    // a plugin's option rows too: the GHMM's, and its chain data's length
    // handed over by the model's preference
    EXPECT_EQ(ini["[model] variance"].value, "0.1");
    EXPECT_EQ(ini["[dataset] num_timesteps"].value, ini["[model] num_timesteps"].value);
}

// --config <logdir>/config.ini repeats the run: the same checkpoint, bit for
// bit, in another logdir.
TEST_F(Settings, ConfigIniRepeatsTheRunBitForBit)
{
    std::string a = dir + "/a", b = dir + "/b";
    std::vector<std::string> args = ghmm(a);
    args.insert(args.end(), {"--learning_rate=0.003", "--num_samples=2", "--random_seed=5",
                             "--proposal_type=filtering", "--set", "model.variance=0.2"});
    Result r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    r = run({"--config", a + "/config.ini", "--logdir=" + b});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string ca = slurp(a + "/ckpt-000000000020.fivo"), cb = slurp(b + "/ckpt-000000000020.fivo");
    ASSERT_FALSE(ca.empty());
    EXPECT_TRUE(ca == cb) << "the checkpoints of the run and of its config.ini differ";
    std::map<std::string, Entry> ia = parse_ini(slurp(a + "/config.ini")),
                                 ib = parse_ini(slurp(b + "/config.ini"));
    EXPECT_EQ(ia["[model] variance"].value, "0.2");
    EXPECT_EQ(ib["[model] variance"].value, "0.2");
    EXPECT_TRUE(has(ib["[model] variance"].comment, "from: file " + a + "/config.ini"))
        << ib["[model] variance"].comment;
}

// Sampling (and evaluating) in a run's logdir takes the model's settings
// from its config.ini: no "88x32 in the checkpoint, 88x64 in the model".
// A flag that contradicts the run is refused naming both values, and then
// config.ini is left as it was.
TEST_F(Settings, SampleAfterTrainingAtLatent32NeedsNoFlagsAndAContradictionIsRefused)
{
    std::string data = dir + "/tiny.pkl", L = dir + "/run";
    g_file_set_contents(data.c_str(), k_p4.data(), (gssize)k_p4.size(), nullptr);
    Result r = run({"--model=vrnn", "--dataset_path=" + data, "--latent_size=32", "--batch_size=2",
                    "--num_samples=2", "--max_steps=2", "--logdir=" + L});
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string ini = slurp(L + "/config.ini");
    ASSERT_TRUE(has(ini, "latent_size = 32") || has(ini, "latent_size=32")) << ini;

    r = run({"--mode=sample", "--logdir=" + L, "--prefix_length=1", "--sample_length=2"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(exists(L + "/samples.npz"));
    r = run({"--mode=eval", "--logdir=" + L});
    EXPECT_EQ(r.status, 0) << r.err;

    r = run({"--mode=sample", "--logdir=" + L, "--latent_size=64"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_TRUE(has(r.err, "--latent_size: [model] latent_size = 64")) << r.err;
    EXPECT_TRUE(has(r.err, "trained with [model] latent_size = 32")) << r.err;
    r = run({"--mode=train", "--logdir=" + L, "--latent_size=64", "--max_steps=4"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(slurp(L + "/config.ini"), ini) << "config.ini was rewritten by a refused command";
    // the same value is no contradiction; a resumed run keeps the rest
    r = run({"--mode=train", "--logdir=" + L, "--latent_size=32", "--max_steps=3"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(has(r.err, "resuming from")) << r.err;
}

// A value outside a row's range is refused before anything runs, naming
// the section, the key and the range; the logdir gets no config.ini.
TEST_F(Settings, OutOfRangeValuesAreRefusedNamingSectionKeyAndRange)
{
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const Case cases[] = {
        {{"--threads=5000"}, "--threads: [fivo] threads = '5000': expected a value in [0, 4096]"},
        {{"--num_samples=0"}, "--num_samples: [fivo] num_samples = '0': expected a value in [1, "},
        {{"--learning_rate=0"}, "--learning_rate: [train] learning_rate = '0': expected a value > 0"},
        {{"--shards=-1"}, "[fivo] shards = '-1': expected a value in [0, "},
        {{"--resampling_type=relaxed", "--relaxed_resampling_temperature=0"},
         "--relaxed_resampling_temperature: [resampler] temperature = '0': resampler plugin "
         "'relaxed' expects a value > 0"},
        {{"--set", "bound.ess_threshold=1.5"},
         "[bound] ess_threshold = '1.5': bound plugin 'fivo' expects a value in [0, 1]"},
        {{"--num_timesteps=0"},
         "--num_timesteps: [model] num_timesteps = '0': model plugin 'ghmm' expects a value in "
         "[1, 4096]"},
    };
    for (const Case &c : cases) {
        std::vector<std::string> args = ghmm(dir);
        args.insert(args.end(), c.args.begin(), c.args.end());
        Result r = run(args);
        EXPECT_EQ(r.status, 2) << c.message << "\n" << r.err;
        EXPECT_TRUE(has(r.err, c.message)) << r.err;
        EXPECT_FALSE(exists(dir + "/config.ini")) << "written for a refused config: " << c.message;
    }
    // shards must fit the batch: checked once, with the batch named
    Result r = run({"--model=ghmm", "--batch_size=4", "--shards=6", "--logdir=" + dir});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "[fivo] shards = 6 is more than [fivo] batch_size = 4")) << r.err;
}

// The modes are the choices of the [fivo] mode row, each with a runner.
TEST(SettingsModes, EveryModeOfTheRowRuns)
{
    Result help = run({"--help"});
    std::smatch m;
    ASSERT_TRUE(std::regex_search(help.out, m, std::regex(R"(--mode=([a-z|]+)\n)"))) << help.out;
    std::string choices = m[1];
    EXPECT_TRUE(has(help.out, "Usage: fivo [--mode=" + choices + "]"));
    fivo_test::TempDir tmp;
    std::stringstream ss(choices);
    std::string mode;
    int n = 0;
    while (std::getline(ss, mode, '|')) {
        Result r = run({"--mode=" + mode, "--logdir=" + tmp.path + "/" + mode,
                        "--dataset_path=" + tmp.path + "/absent.pkl", "--max_steps=0"});
        EXPECT_FALSE(has(r.err, "has no runner")) << mode << ": " << r.err;
        EXPECT_NE(r.status, 2) << mode << ": " << r.err;
        n++;
    }
    EXPECT_GE(n, 7);
    Result bad = run({"nonsense"});
    EXPECT_TRUE(has(bad.err, "(modes: " + choices + ")")) << bad.err;
}
