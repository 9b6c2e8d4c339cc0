// The conformance kit can fail: fivo-model-check passes a correct model
// (tests/plugins/faulty_model.c without a fault) and fails each deliberately
// faulty variant on the check meant to catch it, naming the problem; the
// library entry point (fivo/conformance.h) reports the same in-process.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <string>

#include <fivo/conformance.h>

#include "sdk_test_util.h"

namespace {

using sdk_test::Quote;
using sdk_test::RunResult;
using sdk_test::Shell;

std::string Kit() { return FIVO_TEST_MODEL_CHECK; }
std::string Faulty(const std::string &fault)
{
    return std::string(FIVO_TEST_KIT_PLUGIN_DIR) + "/faulty_" + fault + ".so";
}

RunResult Check(const std::string &fault, const std::string &args = "")
{
    return Shell(Quote(Kit()) + " --kind real " + args + " " + Quote(Faulty(fault)));
}

// Names of the checks on "FAIL <name>:" lines.
std::set<std::string> Failed(const std::string &out)
{
    std::set<std::string> names;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("FAIL ", 0) == 0)
            names.insert(line.substr(5, line.find(':') - 5));
    return names;
}

TEST(ModelCheck, ListsItsChecks)
{
    RunResult r = Shell(Quote(Kit()) + " --list");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const char *name : {"descriptor", "create", "choices", "bad_options", "shapes", "lengths",
                             "determinism", "gradient", "gradient_resampled", "gradient_reach",
                             "sample_step",
                             "log_likelihood"})
        EXPECT_NE(r.output.find(name), std::string::npos) << name;
}

TEST(ModelCheck, PassesTheCorrectModel)
{
    RunResult r = Check("none", "--strict-options --bad init_scale=-1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(Failed(r.output).empty()) << r.output;
    EXPECT_NE(r.output.find("PASS gradient:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("PASS gradient_resampled:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("PASS log_likelihood:"), std::string::npos) << r.output;
}

TEST(ModelCheck, FailsADoubledGradient)
{
    RunResult r = Check("gradient");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(Failed(r.output), (std::set<std::string>{"gradient", "gradient_resampled"}))
        << r.output;
    EXPECT_NE(r.output.find("faulty/c["), std::string::npos) << r.output; // names the parameter
}

TEST(ModelCheck, FailsAStateModifiedInPlace)
{
    RunResult r = Check("inplace");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(Failed(r.output).count("shapes"), 1u) << r.output;
    EXPECT_NE(r.output.find("modified state tensor 0 in place"), std::string::npos) << r.output;
}

TEST(ModelCheck, FailsAnUnknownChoiceTheModelAcceptsWhenStrict)
{
    RunResult r = Check("options", "--strict-options");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(Failed(r.output), std::set<std::string>{"bad_options"}) << r.output;
    EXPECT_NE(r.output.find("flavour=no-such-choice"), std::string::npos) << r.output;
    // Without it the host's own check is enough (fivo/abi.h), and it says so.
    r = Check("options", "--only bad_options");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("relying on the host's checks"), std::string::npos) << r.output;
    // The correct model passes strict.
    r = Check("none", "--strict-options --only bad_options");
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ModelCheck, FailsARangeTheModelDoesNotCheck)
{
    RunResult r = Check("options", "--bad init_scale=0 --only bad_options");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("init_scale=0 (--bad) through the host's checks: accepted"),
              std::string::npos)
        << r.output;
}

TEST(ModelCheck, FailsNoiseNotFromTheContext)
{
    RunResult r = Check("noise", "--only determinism");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(Failed(r.output), std::set<std::string>{"determinism"}) << r.output;
}

TEST(ModelCheck, FailsALogWeightOfTheWrongShape)
{
    RunResult r = Check("weight_shape", "--only shapes");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("log weight is 4x5, expected 4x1"), std::string::npos) << r.output;
}

TEST(ModelCheck, FailsAnExactLikelihoodOffByHalfANat)
{
    RunResult r = Check("likelihood", "--dim 1 --only log_likelihood,gradient");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(Failed(r.output), std::set<std::string>{"log_likelihood"}) << r.output;
}

TEST(ModelCheck, AnAbortInThePluginIsAFailNotTheEndOfTheReport)
{
    RunResult r = Check("abort", "--bad init_scale=-1 --only bad_options,shapes");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("FAIL bad_options:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("PASS shapes:"), std::string::npos) << r.output; // it went on
}

TEST(ModelCheck, RefusesWhatIsNotAModelPlugin)
{
    RunResult r = Shell(Quote(Kit()) + " " +
                        Quote(std::string(FIVO_TEST_PLUGIN_DIR) + "/multinomial.so"));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("not a model"), std::string::npos) << r.output;
    r = Shell(Quote(Kit()) + " /nonexistent/model.so");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    r = Check("none", "--only no_such_check");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("no_such_check"), std::string::npos) << r.output;
}

// A plugin author's own test calls the kit as a library.
TEST(ModelCheck, LibraryEntryPoint)
{
    fivo_conformance_options o;
    fivo_conformance_defaults(&o);
    o.kind = "real";
    const std::string good = Faulty("none"), bad = Faulty("gradient");
    const char *only[] = {"gradient", "shapes", nullptr};
    o.only = only;
    o.plugin_file = good.c_str();
    fivo_error err{};
    FILE *devnull = std::fopen("/dev/null", "w");
    ASSERT_NE(devnull, nullptr);
    EXPECT_EQ(fivo_conformance_run(&o, devnull, &err), 0) << err.message;
    o.plugin_file = bad.c_str();
    EXPECT_EQ(fivo_conformance_run(&o, devnull, &err), 1) << err.message;
    const char *unknown[] = {"no_such_check", nullptr};
    o.only = unknown;
    EXPECT_EQ(fivo_conformance_run(&o, devnull, &err), -1);
    EXPECT_NE(std::string(err.message).find("no_such_check"), std::string::npos) << err.message;
    std::fclose(devnull);
}

} // namespace
