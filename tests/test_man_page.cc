// fivo(1) is generated from the flag table at build time: every flag that
// `fivo --help` lists is in the page with its config key, and man renders it.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <glib.h>

#include "host_runner.h"

namespace {

std::string roff(const std::string &s)
{
    std::string out;
    for (char c : s) {
        if (c == '-')
            out += "\\-";
        else
            out += c;
    }
    return out;
}

} // namespace

TEST(ManPage, ListsEveryFlagOfHelp)
{
    std::ifstream f(std::string(FIVO_TEST_BINARY_DIR) + "/share/man/man1/fivo.1");
    ASSERT_TRUE(f.good()) << "no build/share/man/man1/fivo.1";
    std::stringstream ss;
    ss << f.rdbuf();
    std::string page = ss.str();
    EXPECT_EQ(page.rfind(".TH FIVO 1 ", 0), 0u);
    fivo_test::Result r = fivo_test::run({"--help"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::istringstream help(r.out);
    std::string line;
    int flags = 0;
    while (std::getline(help, line)) {
        if (line.rfind("  --", 0) != 0 || line.find('=') == std::string::npos)
            continue;
        std::string flag = line.substr(4, line.find_first_of(" =", 4) - 4);
        EXPECT_TRUE(fivo_test::has(page, "\\fB\\-\\-" + roff(flag) + "\\fR")) << flag;
        flags++;
    }
    EXPECT_GT(flags, 30);
    EXPECT_TRUE(fivo_test::has(page, "\\-\\-tensorboard")) << "the tensorboard row";
    // man renders it without complaint
    gchar *man = g_find_program_in_path("man");
    if (man == nullptr)
        GTEST_SKIP() << "man is not installed";
    g_free(man);
    std::string cmd = "MANWIDTH=100 man -l " + std::string(FIVO_TEST_BINARY_DIR) +
                      "/share/man/man1/fivo.1 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << out;
    EXPECT_TRUE(fivo_test::has(out, "--learning_rate=NUMBER")) << out.substr(0, 2000);
    EXPECT_FALSE(fivo_test::has(out, "warning")) << out.substr(0, 2000);
}
