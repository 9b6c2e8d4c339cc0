// Runs one of the tests' Python readers (tests/*.py) with Debian's
// /usr/bin/python3, whose python3-protobuf, python3-mido and numpy are the
// independent readers of fivo's outputs. Exit 77 from the script means a
// reader is not installed: the calling test skips.
#pragma once

#include <sys/wait.h>

#include <string>
#include <vector>

#include <glib.h>

namespace fivo_test {

struct PyResult {
    int status = -1;
    std::string out;
};

inline PyResult run_python(const std::string &script, const std::vector<std::string> &args)
{
    std::string py = g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)
                         ? "/usr/bin/python3"
                         : "python3";
    std::vector<std::string> store = {py, std::string(FIVO_TEST_SOURCE_DIR) + "/tests/" + script};
    store.insert(store.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &s : store)
        argv.push_back(const_cast<char *>(s.c_str()));
    argv.push_back(nullptr);
    gchar *out = nullptr, *err = nullptr;
    gint wait = 0;
    PyResult r;
    if (g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_SEARCH_PATH, nullptr, nullptr, &out,
                     &err, &wait, nullptr)) {
        r.status = WIFEXITED(wait) ? WEXITSTATUS(wait) : 128 + WTERMSIG(wait);
        r.out = std::string(out) + err;
    } else {
        r.out = "cannot run " + py;
    }
    g_free(out);
    g_free(err);
    return r;
}

} // namespace fivo_test

#define FIVO_EXPECT_PY_OK(res)                                                                    \
    do {                                                                                          \
        const fivo_test::PyResult &r_ = (res);                                                    \
        if (r_.status == 77)                                                                      \
            GTEST_SKIP() << r_.out;                                                               \
        ASSERT_EQ(r_.status, 0) << r_.out;                                                        \
        std::printf("%s", r_.out.c_str());                                                        \
    } while (0)
