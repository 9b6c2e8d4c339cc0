// The SDK as a third party sees it: install the current build into a
// temporary prefix, build the example plugin (sdk/examples/lgssm, from the
// installed copy of its sources) against that prefix with CMake
// (find_package(fivo)) and with pkg-config, load it into the INSTALLED host,
// train a few steps and evaluate.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <string>
#include <vector>

#include "sdk_test_util.h"

namespace {

using sdk_test::Quote;
using sdk_test::Shell;
using sdk_test::RunResult;

bool Exists(const std::string &path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// One install shared by the tests of this file (installing is the slow part).
class SdkInstall : public ::testing::Test {
  protected:
    static void SetUpTestSuite()
    {
        tmp_ = new sdk_test::TempDir("sdk_install");
        prefix_ = tmp_->path() + "/prefix";
        install_ = Shell("cmake --install " + Quote(FIVO_TEST_BINARY_DIR) + " --prefix " +
                       Quote(prefix_));
        // libdir is lib/ unless the build was configured for /usr (multiarch).
        RunResult pc = Shell("cd " + Quote(prefix_) + " && find . -name fivo.pc");
        std::string rel = pc.output.substr(0, pc.output.find('\n'));
        if (rel.size() > 2 && rel.compare(rel.size() - 18, 18, "/pkgconfig/fivo.pc") == 0)
            libdir_ = prefix_ + "/" + rel.substr(2, rel.size() - 2 - 18);
    }
    static void TearDownTestSuite()
    {
        delete tmp_;
        tmp_ = nullptr;
    }
    void SetUp() override
    {
        ASSERT_EQ(install_.exit_code, 0) << install_.output;
        ASSERT_FALSE(libdir_.empty()) << "no fivo.pc under " << prefix_;
    }

    static std::string Tmp() { return tmp_->path(); }
    static std::string ExampleSrc() { return prefix_ + "/share/fivo/examples/lgssm"; }
    static std::string Host() { return prefix_ + "/bin/fivo"; }

    // Builds the example with CMake into <tmp>/cmake-build once.
    static const RunResult &CMakeBuild()
    {
        static RunResult r = Shell(
            "cmake -S " + Quote(ExampleSrc()) + " -B " + Quote(Tmp() + "/cmake-build") +
            " -DCMAKE_PREFIX_PATH=" + Quote(prefix_) +
            " -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DCMAKE_BUILD_TYPE=Release" +
            " && cmake --build " + Quote(Tmp() + "/cmake-build"));
        return r;
    }
    // Builds the example with one compiler line from pkg-config into <tmp>/pc-build.
    static const RunResult &PkgConfigBuild()
    {
        static RunResult r = Shell(
            "mkdir -p " + Quote(Tmp() + "/pc-build") + " && export PKG_CONFIG_PATH=" +
            Quote(libdir_ + "/pkgconfig") + " && cc -std=c11 -O2 -Wall -Wextra -Werror -shared " +
            "-fPIC -fvisibility=hidden -o " + Quote(Tmp() + "/pc-build/lgssm.so") + " " +
            Quote(ExampleSrc() + "/lgssm.c") + " $(pkg-config --cflags --libs fivo)");
        return r;
    }

    // A config for the example; only plugin_path and logdir vary.
    static std::string WriteConfig(const std::string &name, const std::string &plugin_dir,
                                   const std::string &logdir, int max_steps)
    {
        const std::string path = Tmp() + "/" + name + ".ini";
        sdk_test::WriteFile(path, "[fivo]\n"
                                  "plugin_path = " + plugin_dir + "\n"
                                  "logdir = " + logdir + "\n"
                                  "batch_size = 4\n"
                                  "num_samples = 4\n"
                                  "random_seed = 3\n"
                                  "[train]\n"
                                  "learning_rate = 0.01\n"
                                  "max_steps = " + std::to_string(max_steps) + "\n"
                                  "summarize_every = 5\n"
                                  "[model]\n"
                                  "plugin = lgssm\n"
                                  "variance = 0.1\n"
                                  "[bound]\n"
                                  "plugin = fivo\n"
                                  "[resampler]\n"
                                  "plugin = multinomial\n"
                                  "[dataset]\n"
                                  "plugin = chain\n"
                                  "num_timesteps = 5\n");
        return path;
    }

    // Runs the installed host with a clean plugin environment.
    static RunResult Fivo(const std::string &args)
    {
        return Shell("cd " + Quote(Tmp()) + " && env -u FIVO_PLUGIN_PATH " + Quote(Host()) + " " +
                   args);
    }

    static sdk_test::TempDir *tmp_;
    static std::string prefix_, libdir_;
    static RunResult install_;
};

sdk_test::TempDir *SdkInstall::tmp_ = nullptr;
std::string SdkInstall::prefix_;
std::string SdkInstall::libdir_;
RunResult SdkInstall::install_;

TEST_F(SdkInstall, PutsHostLibraryPluginsHeadersAndPackageFilesUnderThePrefix)
{
    EXPECT_TRUE(Exists(Host()));
    EXPECT_TRUE(Exists(libdir_ + "/libfivo.so"));
    for (const char *h : {"abi.h", "fivo.h", "plugin_model.h", "report.h", "tensor.h",
                          "seqmodel.h", "conformance.h"})
        EXPECT_TRUE(Exists(prefix_ + "/include/fivo/" + h)) << h;
    // The host's and libfivo's own headers are not part of the SDK.
    for (const char *h : {"registry.h", "metrics.h", "internal/registry.h"})
        EXPECT_FALSE(Exists(prefix_ + "/include/fivo/" + h)) << h;
    EXPECT_TRUE(Exists(libdir_ + "/pkgconfig/fivo.pc"));
    EXPECT_TRUE(Exists(libdir_ + "/cmake/fivo/fivoConfig.cmake"));
    EXPECT_TRUE(Exists(libdir_ + "/cmake/fivo/fivoConfigVersion.cmake"));
    EXPECT_TRUE(Exists(libdir_ + "/cmake/fivo/fivoTargets.cmake"));
    for (const char *p : {"fivo_bound", "iwae", "elbo", "multinomial", "systematic", "chain"})
        EXPECT_TRUE(Exists(libdir_ + "/fivo/plugins/" + p + ".so")) << p;
    EXPECT_TRUE(Exists(ExampleSrc() + "/CMakeLists.txt"));
    EXPECT_TRUE(Exists(ExampleSrc() + "/lgssm.c"));
}

TEST_F(SdkInstall, PkgConfigPointsIntoThePrefix)
{
    RunResult r = Shell("PKG_CONFIG_PATH=" + Quote(libdir_ + "/pkgconfig") +
                      " pkg-config --cflags --libs --variable=plugindir fivo && PKG_CONFIG_PATH=" +
                      Quote(libdir_ + "/pkgconfig") + " pkg-config --cflags --libs fivo");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("-lfivo"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(prefix_), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find(FIVO_TEST_SOURCE_DIR), std::string::npos) << r.output;
}

TEST_F(SdkInstall, InstalledHostUsesTheInstalledPluginsOnly)
{
    RunResult r = Fivo("--mode=plugins");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(libdir_ + "/fivo/plugins/fivo_bound.so"), std::string::npos) << r.output;
    // The build tree's modules must not be what the installed host loads.
    EXPECT_EQ(r.output.find(std::string(FIVO_TEST_BINARY_DIR) + "/lib/fivo/plugins"),
              std::string::npos)
        << r.output;
}

TEST_F(SdkInstall, ExampleBuildsWithCMakeAgainstThePrefixOnly)
{
    const RunResult &b = CMakeBuild();
    ASSERT_EQ(b.exit_code, 0) << b.output;
    ASSERT_TRUE(Exists(Tmp() + "/cmake-build/lgssm.so"));
    // It found the package in the prefix, not in our build or source tree.
    RunResult cache = Shell("grep '^fivo_DIR' " + Quote(Tmp() + "/cmake-build/CMakeCache.txt"));
    EXPECT_NE(cache.output.find(prefix_), std::string::npos) << cache.output;
    RunResult nm = Shell("nm -D --defined-only " + Quote(Tmp() + "/cmake-build/lgssm.so") +
                       " | awk '{print $3}'");
    EXPECT_EQ(nm.output, "fivo_plugin_query\n");
}

TEST_F(SdkInstall, ExampleBuildsWithPkgConfig)
{
    const RunResult &b = PkgConfigBuild();
    ASSERT_EQ(b.exit_code, 0) << b.output;
    RunResult nm = Shell("nm -D --defined-only " + Quote(Tmp() + "/pc-build/lgssm.so") +
                       " | awk '{print $3}'");
    EXPECT_EQ(nm.output, "fivo_plugin_query\n");
}

// The example's own ctest entry (fivo_add_model_check) runs the INSTALLED
// fivo-model-check on the module built against the prefix.
TEST_F(SdkInstall, InstalledModelCheckPassesTheExample)
{
    ASSERT_EQ(CMakeBuild().exit_code, 0) << CMakeBuild().output;
    EXPECT_TRUE(Exists(prefix_ + "/bin/fivo-model-check"));
    EXPECT_TRUE(Exists(prefix_ + "/include/fivo/conformance.h"));
    RunResult r = Shell("ctest --test-dir " + Quote(Tmp() + "/cmake-build") +
                        " --output-on-failure -V -R lgssm_conformance");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(prefix_ + "/bin/fivo-model-check"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("PASS gradient:"), std::string::npos) << r.output;
    // Through FIVO with the INSTALLED bundled multinomial resampler.
    EXPECT_NE(r.output.find("PASS gradient_resampled:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("lgssm: 12 passed, 0 failed"), std::string::npos) << r.output;
    RunResult pc = Shell("PKG_CONFIG_PATH=" + Quote(libdir_ + "/pkgconfig") +
                         " pkg-config --variable=model_check fivo");
    ASSERT_EQ(pc.exit_code, 0) << pc.output;
    EXPECT_NE(pc.output.find(prefix_), std::string::npos) << pc.output;
    const std::string tool = pc.output.substr(0, pc.output.find('\n'));
    EXPECT_EQ(Shell(Quote(tool) + " --list").exit_code, 0) << tool;
}

TEST_F(SdkInstall, InstalledHostListsTheExampleFromPluginPath)
{
    ASSERT_EQ(CMakeBuild().exit_code, 0) << CMakeBuild().output;
    const std::string ini = WriteConfig("list", Tmp() + "/cmake-build", Tmp() + "/logs-list", 1);
    RunResult r = Fivo("--config " + Quote(ini) + " --mode=plugins");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("lgssm"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(Tmp() + "/cmake-build/lgssm.so"), std::string::npos) << r.output;
}

// Every metrics line of `mode` in <logdir>/metrics.jsonl.
std::vector<std::string> Lines(const std::string &logdir, const std::string &mode)
{
    std::vector<std::string> out;
    for (const std::string &l : sdk_test::ReadLines(logdir + "/metrics.jsonl"))
        if (sdk_test::JsonValue(l, "mode") == mode)
            out.push_back(l);
    return out;
}

double Number(const std::string &line, const std::string &key)
{
    const std::string v = sdk_test::JsonValue(line, key);
    return v.empty() || v == "null" ? NAN : std::stod(v);
}

void TrainAndEval(const std::string &host_args_prefix, const std::string &ini,
                  const std::string &logdir, RunResult (*fivo)(const std::string &))
{
    RunResult train = fivo(host_args_prefix + "--config " + Quote(ini) + " --mode=train");
    ASSERT_EQ(train.exit_code, 0) << train.output;
    std::vector<std::string> lines = Lines(logdir, "train");
    ASSERT_FALSE(lines.empty()) << train.output;
    const std::string &last = lines.back();
    EXPECT_EQ(sdk_test::JsonValue(last, "model"), "lgssm") << last;
    EXPECT_EQ(sdk_test::JsonValue(last, "resampler"), "multinomial") << last;
    EXPECT_TRUE(std::isfinite(Number(last, "bound_per_t"))) << last;
    // The model's exact likelihood reached the host through the optional slot.
    EXPECT_TRUE(std::isfinite(Number(last, "true_ll_per_t"))) << last;

    RunResult eval = fivo(host_args_prefix + "--config " + Quote(ini) + " --mode=eval");
    ASSERT_EQ(eval.exit_code, 0) << eval.output;
    std::vector<std::string> evals = Lines(logdir, "eval");
    ASSERT_FALSE(evals.empty()) << eval.output;
    EXPECT_EQ(sdk_test::JsonValue(evals.back(), "model"), "lgssm") << evals.back();
    double bound = Number(evals.back(), "bound_mean"); // per timestep
    if (std::isnan(bound))
        bound = Number(evals.back(), "bound_per_t");
    const double exact = Number(evals.back(), "true_ll_per_t");
    EXPECT_TRUE(std::isfinite(bound)) << evals.back();
    // lgssm has an exact Kalman log-likelihood: the bound stays below it.
    ASSERT_TRUE(std::isfinite(exact)) << evals.back();
    EXPECT_LE(bound, exact) << evals.back();
    EXPECT_GT(bound, exact - 1.0) << evals.back();
}

TEST_F(SdkInstall, CMakeBuiltExampleTrainsAndEvaluatesInTheInstalledHost)
{
    ASSERT_EQ(CMakeBuild().exit_code, 0) << CMakeBuild().output;
    const std::string logdir = Tmp() + "/logs-cmake";
    const std::string ini = WriteConfig("cmake", Tmp() + "/cmake-build", logdir, 20);
    TrainAndEval("", ini, logdir, &SdkInstall::Fivo);
}

TEST_F(SdkInstall, PkgConfigBuiltExampleTrainsAndEvaluatesInTheInstalledHost)
{
    ASSERT_EQ(PkgConfigBuild().exit_code, 0) << PkgConfigBuild().output;
    const std::string logdir = Tmp() + "/logs-pc";
    const std::string ini = WriteConfig("pc", Tmp() + "/pc-build", logdir, 10);
    TrainAndEval("", ini, logdir, &SdkInstall::Fivo);
}

} // namespace
