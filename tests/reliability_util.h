// Shared by the reliability tests (write faults, kill -9, NaN, logdir
// lock): start the fivo executable with extra environment (e.g. the
// LD_PRELOAD write-fault shim) and an optional file-size limit, collect its
// exit and output, and look at the files a run left.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace rel {

const std::string kShim = std::string(FIVO_TEST_RELIABILITY_DIR) + "/fault_write.so";
const std::string kNanPlugins = std::string(FIVO_TEST_RELIABILITY_DIR) + "/plugins";

struct Run {
    int status = -1; // exit code; 128 + signal when killed
    std::string out;  // stdout and stderr together
};

struct Options {
    std::map<std::string, std::string> env; // set in the child
    long fsize_limit = -1;                  // RLIMIT_FSIZE in bytes (ulimit -f)
    std::string program = FIVO_TEST_HOST;   // what runs (a test helper instead of fivo)
};

inline std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline bool exists(const std::string &path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// Starts fivo (or o.program) with args; returns the pid (output goes to out_file).
inline pid_t spawn(const std::vector<std::string> &args, const Options &o,
                   const std::string &out_file)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    for (auto &kv : o.env)
        setenv(kv.first.c_str(), kv.second.c_str(), 1);
    // An ASan build of fivo refuses a preloaded library listed before its
    // runtime unless told that this is intended.
    if (o.env.count("LD_PRELOAD"))
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=1", 1);
    unsetenv("FIVO_PLUGIN_PATH");
    if (o.fsize_limit >= 0) {
        struct rlimit rl = {(rlim_t)o.fsize_limit, (rlim_t)o.fsize_limit};
        setrlimit(RLIMIT_FSIZE, &rl);
    }
    std::vector<char *> argv;
    argv.push_back(const_cast<char *>(o.program.c_str()));
    for (auto &a : args)
        argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    execv(o.program.c_str(), argv.data());
    _exit(127);
}

inline int wait_status(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

inline Run run(const std::vector<std::string> &args, const Options &o = {})
{
    char tmpl[] = "/tmp/fivo_rel_out_XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd >= 0)
        close(fd);
    Run r;
    r.status = wait_status(spawn(args, o, tmpl));
    r.out = slurp(tmpl);
    unlink(tmpl);
    return r;
}

inline std::vector<std::string> list_dir(const std::string &dir)
{
    std::vector<std::string> v;
    DIR *d = opendir(dir.c_str());
    if (d == nullptr)
        return v;
    while (struct dirent *e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..")
            v.push_back(n);
    }
    closedir(d);
    std::sort(v.begin(), v.end());
    return v;
}

// Names in dir containing ".tmp" (temp files of the atomic writers).
inline std::vector<std::string> temps(const std::string &dir)
{
    std::vector<std::string> v;
    for (auto &n : list_dir(dir))
        if (n.find(".tmp") != std::string::npos)
            v.push_back(n);
    return v;
}

inline std::string ckpt_name(long step)
{
    char b[64];
    snprintf(b, sizeof b, "ckpt-%012ld.fivo", step);
    return b;
}

// Newest numbered checkpoint's step in dir, or -1.
inline long newest_step(const std::string &dir)
{
    long best = -1;
    for (auto &n : list_dir(dir))
        if (n.rfind("ckpt-", 0) == 0 && n.size() == 5 + 12 + 5 &&
            n.compare(n.size() - 5, 5, ".fivo") == 0)
            best = std::max(best, std::atol(n.c_str() + 5));
    return best;
}

inline bool has(const std::string &hay, const std::string &needle)
{
    return hay.find(needle) != std::string::npos;
}

inline std::string join(const std::vector<std::string> &v)
{
    std::string s;
    for (auto &x : v)
        s += x + " ";
    return s;
}

} // namespace rel
