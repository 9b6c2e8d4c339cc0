// Reports: exact JSON numbers, escaping, null for non-finite, appends.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include <glib.h>
#include <glib/gstdio.h>

#include <fivo/fivo.h>
#include <fivo/internal/metrics.h>

namespace {

// The JSON without the time field, which changes from run to run.
std::string json_without_time(fivo_report *r)
{
    std::string j = fivo_report_json(r);
    size_t a = j.find(",\"time\":");
    size_t b = j.find(',', a + 1);
    return j.substr(0, a) + j.substr(b);
}

TEST(Metrics, ModeAndTimeComeFirst)
{
    fivo_report *r = fivo_report_new("train");
    std::string j = fivo_report_json(r);
    EXPECT_EQ(j.rfind("{\"mode\":\"train\",\"time\":", 0), 0u) << j;
    double t = 0;
    ASSERT_EQ(fivo_report_get_number(r, "time", &t), FIVO_OK);
    EXPECT_GT(t, 1.6e9); // Unix seconds
    EXPECT_EQ(fivo_report_count(r), 2);
    EXPECT_STREQ(fivo_report_name_at(r, 1), "time");
    fivo_report_free(r);
}

TEST(Metrics, NumbersRoundTripExactly)
{
    fivo_report *r = fivo_report_new("eval");
    fivo_report_set_int(r, "step", 1000000000000LL);
    fivo_report_set_number(r, "a", 0.1);
    fivo_report_set_number(r, "b", 0.30000000000000004);
    fivo_report_set_number(r, "c", -93.12345886230469);
    fivo_report_set_number(r, "d", 1e300);
    fivo_report_set_number(r, "e", 5e-324);
    fivo_report_set_number(r, "f", 2.0);
    EXPECT_EQ(json_without_time(r), "{\"mode\":\"eval\",\"step\":1000000000000,\"a\":0.1,"
                                    "\"b\":0.30000000000000004,\"c\":-93.12345886230469,"
                                    "\"d\":1e+300,\"e\":4.94065645841247e-324,\"f\":2}");
    // Every number reads back bit for bit.
    std::string j = fivo_report_json(r);
    for (const char *name : {"\"c\":", "\"e\":"}) {
        size_t p = j.find(name) + std::strlen(name);
        double back = g_ascii_strtod(j.c_str() + p, nullptr);
        double orig;
        fivo_report_get_number(r, std::string(name).substr(1, 1).c_str(), &orig);
        EXPECT_EQ(back, orig);
    }
    fivo_report_free(r);
}

TEST(Metrics, NonFiniteIsNullAndSetTwiceReplaces)
{
    fivo_report *r = fivo_report_new("train");
    fivo_report_set_number(r, "loss", std::nan(""));
    fivo_report_set_number(r, "big", std::numeric_limits<double>::infinity());
    fivo_report_set_number(r, "x", 1.0);
    fivo_report_set_number(r, "x", 3.5);
    EXPECT_EQ(json_without_time(r), "{\"mode\":\"train\",\"loss\":null,\"big\":null,\"x\":3.5}");
    double x = 0;
    EXPECT_EQ(fivo_report_get_number(r, "x", &x), FIVO_OK);
    EXPECT_EQ(x, 3.5);
    EXPECT_EQ(fivo_report_get_number(r, "nope", &x), FIVO_ERR_NOT_FOUND);
    fivo_report_free(r);
}

TEST(Metrics, StringsAreEscaped)
{
    fivo_report *r = fivo_report_new("convert");
    fivo_report_set_string(r, "path", "a\"b\\c\nd\te\x01");
    fivo_report_set_string(r, "bad_utf8", "x\xff");
    EXPECT_EQ(json_without_time(r), "{\"mode\":\"convert\",\"path\":\"a\\\"b\\\\c\\nd\\te\\u0001\","
                                    "\"bad_utf8\":\"x\xef\xbf\xbd\"}");
    EXPECT_STREQ(fivo_report_get_string(r, "path"), "a\"b\\c\nd\te\x01");
    fivo_report_free(r);
}

TEST(Metrics, HumanText)
{
    fivo_report *r = fivo_report_new("train");
    fivo_report_set_int(r, "step", 50);
    fivo_report_set_number(r, "log_p_hat", -93.12345886230469);
    fivo_report_set_string(r, "split", "valid");
    EXPECT_STREQ(fivo_report_text(r), "train step 50: log_p_hat -93.12346, split valid");
    fivo_report_free(r);
}

TEST(Metrics, AppendWritesOneLinePerReport)
{
    gchar *dir = g_dir_make_tmp("fivo_metrics_XXXXXX", nullptr);
    ASSERT_NE(dir, nullptr);
    std::string path = std::string(dir) + "/metrics.jsonl";
    for (int i = 0; i < 3; i++) {
        fivo_report *r = fivo_report_new("train");
        fivo_report_set_int(r, "step", i);
        fivo_error err{};
        ASSERT_EQ(fivo_report_append(r, path.c_str(), &err), FIVO_OK) << err.message;
        fivo_report_free(r);
    }
    gchar *text = nullptr;
    ASSERT_TRUE(g_file_get_contents(path.c_str(), &text, nullptr, nullptr));
    gchar **lines = g_strsplit(text, "\n", -1);
    ASSERT_EQ(g_strv_length(lines), 4u); // three lines and the empty tail
    EXPECT_NE(std::string(lines[2]).find("\"step\":2}"), std::string::npos) << lines[2];
    EXPECT_STREQ(lines[3], "");
    g_strfreev(lines);
    g_free(text);

    fivo_report *r = fivo_report_new("train");
    fivo_error err{};
    std::string bad = std::string(dir) + "/no/such/dir/metrics.jsonl";
    EXPECT_EQ(fivo_report_append(r, bad.c_str(), &err), FIVO_ERR_IO);
    EXPECT_NE(std::string(err.message).find(bad), std::string::npos) << err.message;
    fivo_report_free(r);
    g_remove(path.c_str());
    g_rmdir(dir);
    g_free(dir);
}

} // namespace
