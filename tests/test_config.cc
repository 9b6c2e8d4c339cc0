// The key-file config: typed getters, origins, and errors that name the
// file and line.
#include <gtest/gtest.h>

#include <string>

#include <glib.h>
#include <glib/gstdio.h>

#include <fivo/fivo.h>

namespace {

struct Cfg {
    Cfg() : c(fivo_config_new()) {}
    ~Cfg() { fivo_config_free(c); }
    fivo_config *c;
};

TEST(Config, TypedGettersAndDefaults)
{
    Cfg cfg;
    fivo_error err{};
    const char *text = "# comment\n"
                       "[train]\n"
                       "learning_rate = 2e-4\n"
                       "max_steps=1000\n"
                       "normalize_by_seq_len = false\n"
                       "\n"
                       "[model]\n"
                       "plugin = vrnn\n"
                       "path = /tmp/a\\sb\n";
    ASSERT_EQ(fivo_config_load_data(cfg.c, text, "t.ini", false, &err), FIVO_OK) << err.message;
    double lr = 0;
    EXPECT_EQ(fivo_config_get_double(cfg.c, "train", "learning_rate", 1, &lr, &err), FIVO_OK);
    EXPECT_EQ(lr, 2e-4);
    long steps = 0;
    EXPECT_EQ(fivo_config_get_int(cfg.c, "train", "max_steps", 0, &steps, &err), FIVO_OK);
    EXPECT_EQ(steps, 1000);
    bool norm = true;
    EXPECT_EQ(fivo_config_get_bool(cfg.c, "train", "normalize_by_seq_len", true, &norm, &err),
              FIVO_OK);
    EXPECT_FALSE(norm);
    const char *s = nullptr;
    EXPECT_EQ(fivo_config_get_string(cfg.c, "model", "plugin", "x", &s, &err), FIVO_OK);
    EXPECT_STREQ(s, "vrnn");
    EXPECT_EQ(fivo_config_get_string(cfg.c, "model", "path", "x", &s, &err), FIVO_OK);
    EXPECT_STREQ(s, "/tmp/a b"); // GKeyFile escapes are decoded

    // Absent keys: NOT_FOUND from get_*, OK from *_or; both give the default.
    long v = 0;
    EXPECT_EQ(fivo_config_get_int(cfg.c, "train", "nope", 7, &v, &err), FIVO_ERR_NOT_FOUND);
    EXPECT_EQ(v, 7);
    v = 0;
    EXPECT_EQ(fivo_config_int_or(cfg.c, "nosection", "nope", 9, &v, &err), FIVO_OK);
    EXPECT_EQ(v, 9);
    EXPECT_TRUE(fivo_config_has(cfg.c, "train", "max_steps"));
    EXPECT_FALSE(fivo_config_has(cfg.c, "model", "max_steps"));

    // Origins carry the line of each key.
    EXPECT_STREQ(fivo_config_origin(cfg.c, "train", "max_steps"), "t.ini:4");
    EXPECT_STREQ(fivo_config_origin(cfg.c, "model", "plugin"), "t.ini:8");
}

TEST(Config, BadValuesNameOriginSectionKeyAndType)
{
    Cfg cfg;
    fivo_error err{};
    ASSERT_EQ(fivo_config_load_data(cfg.c, "[fivo]\nbatch_size = four\nx = 1.5q\nb = maybe\n",
                                    "run.ini", false, &err),
              FIVO_OK);
    long v = 3;
    EXPECT_EQ(fivo_config_get_int(cfg.c, "fivo", "batch_size", 3, &v, &err), FIVO_ERR_INVALID);
    EXPECT_EQ(v, 3);
    EXPECT_STREQ(err.message, "run.ini:2: [fivo] batch_size = 'four': expected an integer");
    EXPECT_EQ(fivo_config_int_or(cfg.c, "fivo", "batch_size", 3, &v, &err), FIVO_ERR_INVALID);
    double d;
    EXPECT_EQ(fivo_config_get_double(cfg.c, "fivo", "x", 0, &d, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("expected a number"), std::string::npos);
    bool b;
    EXPECT_EQ(fivo_config_get_bool(cfg.c, "fivo", "b", false, &b, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("run.ini:4: [fivo] b = 'maybe'"), std::string::npos)
        << err.message;
    // Overflow is not silently wrapped.
    fivo_config_set_from(cfg.c, "fivo", "big", "99999999999999999999999", "--big");
    EXPECT_EQ(fivo_config_get_int(cfg.c, "fivo", "big", 0, &v, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("--big"), std::string::npos) << err.message;
}

TEST(Config, BoolSpellings)
{
    Cfg cfg;
    const char *yes[] = {"true", "True", "1", "yes", "on"};
    const char *no[] = {"false", "FALSE", "0", "no", "off"};
    for (const char *y : yes) {
        fivo_config_set(cfg.c, "s", "k", y);
        bool b = false;
        EXPECT_EQ(fivo_config_get_bool(cfg.c, "s", "k", false, &b, nullptr), FIVO_OK) << y;
        EXPECT_TRUE(b) << y;
    }
    for (const char *n : no) {
        fivo_config_set(cfg.c, "s", "k", n);
        bool b = true;
        EXPECT_EQ(fivo_config_get_bool(cfg.c, "s", "k", true, &b, nullptr), FIVO_OK) << n;
        EXPECT_FALSE(b) << n;
    }
}

TEST(Config, MalformedKeyFileNamesFileAndLine)
{
    Cfg cfg;
    fivo_error err{};
    const char *text = "[fivo]\nbatch_size = 4\nthis line is junk\n";
    EXPECT_EQ(fivo_config_load_data(cfg.c, text, "bad.ini", false, &err), FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(err.message).find("bad.ini:3:"), std::string::npos) << err.message;
    // Nothing was applied from the broken file.
    EXPECT_FALSE(fivo_config_has(cfg.c, "fivo", "batch_size"));

    EXPECT_EQ(fivo_config_load_data(cfg.c, "key = 1\n", "nogroup.ini", false, &err),
              FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(err.message).find("nogroup.ini:1:"), std::string::npos)
        << err.message;
    EXPECT_EQ(fivo_config_load_data(cfg.c, "[ok]\n[broken\n", "hdr.ini", false, &err),
              FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(err.message).find("hdr.ini:2:"), std::string::npos) << err.message;
}

// Counts GLib warnings (e.g. "GError set over the top of a previous GError").
static int g_glib_warnings = 0;
static void count_warning(const gchar *, GLogLevelFlags, const gchar *, gpointer)
{
    g_glib_warnings++;
}

// Regression: g_key_file_get_string returns a string and sets a GError for an
// invalid escape; the value used to be accepted and the GError leaked (a
// second such value made GLib warn "GError set over the top").
TEST(Config, InvalidEscapeIsRefusedNamingFileAndLine)
{
    guint h = g_log_set_handler("GLib", (GLogLevelFlags)(G_LOG_LEVEL_WARNING |
                                                         G_LOG_LEVEL_CRITICAL),
                                count_warning, nullptr);
    g_glib_warnings = 0;
    Cfg cfg;
    fivo_error err{};
    const char *text = "[fivo]\n"
                       "batch_size = 4\n"
                       "logdir = runs/esc\\qdir\n"
                       "master = a\\qb\n";
    EXPECT_EQ(fivo_config_load_data(cfg.c, text, "esc.ini", false, &err), FIVO_ERR_FORMAT);
    std::string msg = err.message;
    EXPECT_NE(msg.find("esc.ini:3:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("logdir"), std::string::npos) << msg;
    // Nothing applied, and GLib saw no GError overwritten.
    EXPECT_FALSE(fivo_config_has(cfg.c, "fivo", "batch_size"));
    EXPECT_FALSE(fivo_config_has(cfg.c, "fivo", "logdir"));
    EXPECT_EQ(g_glib_warnings, 0);
    g_log_remove_handler("GLib", h);
}

// Found by fuzz_config: GLib itself sets its GError twice for a value with
// an invalid escape followed by a trailing backslash ("GError set over the
// top"), so invalid escapes are refused before GLib decodes the value.
TEST(Config, InvalidEscapeAndTrailingBackslashAreRefusedBeforeGLib)
{
    guint h = g_log_set_handler("GLib", (GLogLevelFlags)(G_LOG_LEVEL_WARNING |
                                                         G_LOG_LEVEL_CRITICAL),
                                count_warning, nullptr);
    for (const char *v : {"a\\qb\\", "c\\", "\\x\\y"}) {
        g_glib_warnings = 0;
        Cfg cfg;
        fivo_error err{};
        std::string text = std::string("[fivo]\n# c\nlogdir = ") + v + "\n";
        EXPECT_EQ(fivo_config_load_data(cfg.c, text.c_str(), "esc2.ini", false, &err),
                  FIVO_ERR_FORMAT)
            << v;
        EXPECT_NE(std::string(err.message).find("esc2.ini:3:"), std::string::npos)
            << err.message;
        EXPECT_NE(std::string(err.message).find("escape"), std::string::npos) << err.message;
        EXPECT_EQ(g_glib_warnings, 0) << v;
    }
    // Valid escapes still decode.
    Cfg ok;
    fivo_error err{};
    ASSERT_EQ(fivo_config_load_data(ok.c, "[m]\nk = a\\sb\\tc\\\\d\\ne\\rf\n", "ok.ini", false,
                                    &err),
              FIVO_OK)
        << err.message;
    const char *s = nullptr;
    fivo_config_get_string(ok.c, "m", "k", nullptr, &s, &err);
    EXPECT_STREQ(s, "a b\tc\\d\ne\rf");
    g_log_remove_handler("GLib", h);
}

TEST(Config, LoadFileNamesMissingAndMalformedFiles)
{
    Cfg cfg;
    fivo_error err{};
    EXPECT_EQ(fivo_config_load_file(cfg.c, "/nonexistent/x.ini", false, &err), FIVO_ERR_IO);
    EXPECT_NE(std::string(err.message).find("/nonexistent/x.ini"), std::string::npos);

    gchar *dir = g_dir_make_tmp("fivo_cfg_XXXXXX", nullptr);
    ASSERT_NE(dir, nullptr);
    std::string path = std::string(dir) + "/bad.ini";
    ASSERT_TRUE(g_file_set_contents(path.c_str(), "[a]\nx=1\n\n[b]\n= 3\n", -1, nullptr));
    EXPECT_EQ(fivo_config_load_file(cfg.c, path.c_str(), false, &err), FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(err.message).find(path + ":5:"), std::string::npos) << err.message;
    g_remove(path.c_str());
    g_rmdir(dir);
    g_free(dir);
}

TEST(Config, KeepExistingLetsFlagsOverrideTheFile)
{
    Cfg cfg;
    fivo_error err{};
    fivo_config_set_from(cfg.c, "fivo", "batch_size", "16", "--batch_size");
    ASSERT_EQ(fivo_config_load_data(cfg.c, "[fivo]\nbatch_size=4\nnum_samples=8\n", "f.ini",
                                    true, &err),
              FIVO_OK);
    long b = 0, n = 0;
    fivo_config_get_int(cfg.c, "fivo", "batch_size", 0, &b, &err);
    fivo_config_get_int(cfg.c, "fivo", "num_samples", 0, &n, &err);
    EXPECT_EQ(b, 16);
    EXPECT_EQ(n, 8);
    EXPECT_STREQ(fivo_config_origin(cfg.c, "fivo", "batch_size"), "--batch_size");
    // Without keep_existing the file wins.
    ASSERT_EQ(fivo_config_load_data(cfg.c, "[fivo]\nbatch_size=4\n", "f.ini", false, &err),
              FIVO_OK);
    fivo_config_get_int(cfg.c, "fivo", "batch_size", 0, &b, &err);
    EXPECT_EQ(b, 4);
}

TEST(Config, IterationListsSectionsAndKeysInOrder)
{
    Cfg cfg;
    fivo_error err{};
    ASSERT_EQ(fivo_config_load_data(cfg.c, "[b]\nz=1\na=2\n[a]\n[c]\nk=v\n", "o.ini", false, &err),
              FIVO_OK);
    const char *const *s = fivo_config_sections(cfg.c);
    ASSERT_STREQ(s[0], "b");
    ASSERT_STREQ(s[1], "a"); // empty sections are kept (the host validates names)
    ASSERT_STREQ(s[2], "c");
    EXPECT_EQ(s[3], nullptr);
    const char *const *k = fivo_config_keys(cfg.c, "b");
    EXPECT_STREQ(k[0], "z");
    EXPECT_STREQ(k[1], "a");
    EXPECT_EQ(k[2], nullptr);
    EXPECT_EQ(fivo_config_keys(cfg.c, "nope")[0], nullptr);
    // Values handed out stay valid after the key is set again.
    const char *old = nullptr;
    fivo_config_get_string(cfg.c, "c", "k", nullptr, &old, nullptr);
    fivo_config_set(cfg.c, "c", "k", "w");
    EXPECT_STREQ(old, "v");
}

} // namespace
