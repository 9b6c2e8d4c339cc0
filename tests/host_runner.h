// Runs the built fivo executable (FIVO_TEST_HOST) as a process for the host
// tests: exit status, stdout and stderr. FIVO_PLUGIN_PATH is set to
// `plugin_path`, or removed when it is empty, so the user's environment
// cannot leak in.
#pragma once

#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <glib.h>

namespace fivo_test {

struct Result {
    int status = -1; // exit code, or 128 + signal
    std::string out, err;
};

inline Result run(const std::vector<std::string> &args, const std::string &plugin_path = "")
{
    std::vector<std::string> store = {FIVO_TEST_HOST};
    store.insert(store.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &s : store)
        argv.push_back(const_cast<char *>(s.c_str()));
    argv.push_back(nullptr);
    gchar **env = g_get_environ();
    env = plugin_path.empty()
              ? g_environ_unsetenv(env, "FIVO_PLUGIN_PATH")
              : g_environ_setenv(env, "FIVO_PLUGIN_PATH", plugin_path.c_str(), TRUE);
    gchar *out = nullptr, *err = nullptr;
    gint wait = 0;
    GError *gerr = nullptr;
    Result r;
    if (g_spawn_sync(nullptr, argv.data(), env, G_SPAWN_DEFAULT, nullptr, nullptr, &out, &err,
                     &wait, &gerr)) {
        r.status = WIFEXITED(wait) ? WEXITSTATUS(wait) : 128 + WTERMSIG(wait);
        r.out = out;
        r.err = err;
    } else {
        r.err = gerr->message;
        g_error_free(gerr);
    }
    g_free(out);
    g_free(err);
    g_strfreev(env);
    return r;
}

// A fresh temporary folder, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir()
    {
        gchar *d = g_dir_make_tmp("fivo_test_XXXXXX", nullptr);
        if (d != nullptr)
            path = d;
        g_free(d);
    }
    ~TempDir()
    {
        std::error_code ec;
        if (!path.empty())
            std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
};

inline bool has(const std::string &hay, const std::string &needle)
{
    return hay.find(needle) != std::string::npos;
}

} // namespace fivo_test
