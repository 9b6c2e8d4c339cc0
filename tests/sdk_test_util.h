// Helpers for the SDK tests: run a shell command capturing its output, make
// and remove temporary folders, read metrics.jsonl lines.
#ifndef FIVO_TESTS_SDK_TEST_UTIL_H
#define FIVO_TESTS_SDK_TEST_UTIL_H

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace sdk_test {

struct RunResult {
    int exit_code = -1; // -1: did not exit normally
    std::string output; // stdout and stderr together
};

// Runs `cmd` through /bin/sh with stderr merged into stdout.
inline RunResult Shell(const std::string &cmd)
{
    RunResult r;
    FILE *p = popen(("(" + cmd + ") 2>&1").c_str(), "r");
    if (p == nullptr)
        return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        r.output.append(buf, n);
    int status = pclose(p);
    if (status != -1 && WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    return r;
}

// Single-quotes a path for the shell.
inline std::string Quote(const std::string &s)
{
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

// A fresh folder under TMPDIR (or /tmp), removed by the destructor.
class TempDir {
  public:
    explicit TempDir(const char *tag)
    {
        const char *base = std::getenv("TMPDIR");
        std::string templ = std::string(base != nullptr ? base : "/tmp") + "/fivo_" + tag + "_XXXXXX";
        std::vector<char> buf(templ.begin(), templ.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) != nullptr)
            path_ = buf.data();
    }
    ~TempDir()
    {
        if (!path_.empty() && std::getenv("FIVO_TEST_KEEP_TMP") == nullptr)
            Shell("rm -rf " + Quote(path_));
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }

  private:
    std::string path_;
};

inline bool WriteFile(const std::string &path, const std::string &text)
{
    std::ofstream f(path);
    f << text;
    return static_cast<bool>(f);
}

inline std::vector<std::string> ReadLines(const std::string &path)
{
    std::vector<std::string> lines;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line))
        if (!line.empty())
            lines.push_back(line);
    return lines;
}

// The raw JSON text of `"key": value` in a one-line object, or "" when absent.
// Enough for the flat objects of metrics.jsonl (no nesting, no escaped quotes
// inside the values we read).
inline std::string JsonValue(const std::string &line, const std::string &key)
{
    const std::string needle = "\"" + key + "\"";
    size_t k = line.find(needle);
    if (k == std::string::npos)
        return "";
    size_t i = line.find(':', k + needle.size());
    if (i == std::string::npos)
        return "";
    i++;
    while (i < line.size() && line[i] == ' ')
        i++;
    if (i < line.size() && line[i] == '"') {
        size_t end = line.find('"', i + 1);
        return end == std::string::npos ? "" : line.substr(i + 1, end - i - 1);
    }
    size_t end = line.find_first_of(",}", i);
    return line.substr(i, end == std::string::npos ? std::string::npos : end - i);
}

} // namespace sdk_test

#endif
