// Helpers shared by the dataset tests: load a dataset plugin module directly
// (dlopen + fivo_plugin_query), open splits, temp folders, files as bytes.
#pragma once

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_data.h"

extern "C" {
#include <fivo/plugin_dataset.h>
}

namespace fivo_test {

inline const fivo_plugin_descriptor *load_plugin(const std::string &name)
{
    std::string path = std::string(FIVO_TEST_PLUGIN_DIR) + "/" + name + ".so";
    void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
        ADD_FAILURE() << "dlopen " << path << ": " << dlerror();
        return nullptr;
    }
    auto q = reinterpret_cast<fivo_plugin_query_fn>(dlsym(h, FIVO_PLUGIN_QUERY_SYMBOL));
    if (q == nullptr) {
        ADD_FAILURE() << path << ": no " << FIVO_PLUGIN_QUERY_SYMBOL;
        return nullptr;
    }
    return q(FIVO_ABI_MAJOR, FIVO_ABI_MINOR);
}

inline const fivo_dataset_vtable *dataset_vtable(const std::string &name)
{
    const fivo_plugin_descriptor *d = load_plugin(name);
    if (d == nullptr)
        return nullptr;
    EXPECT_EQ(d->kind, (uint32_t)FIVO_PLUGIN_DATASET);
    EXPECT_EQ(std::string(d->name), name);
    return static_cast<const fivo_dataset_vtable *>(d->vtable);
}

inline bool exists(const std::string &p)
{
    return file_exists(p);
}

inline std::string read_bytes(const std::string &p)
{
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline void write_bytes(const std::string &p, const std::string &bytes)
{
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), (std::streamsize)bytes.size());
}

// A fresh folder under the build tree's Testing area, removed on destruction.
struct TempDir {
    std::string path;
    TempDir()
    {
        std::string tmpl = std::string(FIVO_TEST_BINARY_DIR) + "/tmp_dataset_XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) != nullptr)
            path = buf.data();
    }
    ~TempDir()
    {
        if (!path.empty())
            (void)system(("rm -rf '" + path + "'").c_str());
    }
    std::string operator/(const std::string &name) const { return path + "/" + name; }
    // Entries in the folder (names), sorted.
    std::vector<std::string> list() const
    {
        std::vector<std::string> out;
        FILE *p = popen(("ls -A '" + path + "'").c_str(), "r");
        char line[4096];
        while (p && fgets(line, sizeof line, p)) {
            std::string s(line);
            if (!s.empty() && s.back() == '\n')
                s.pop_back();
            out.push_back(s);
        }
        if (p)
            pclose(p);
        return out;
    }
};

// An open split that closes itself.
struct Split {
    const fivo_dataset_vtable *vt = nullptr;
    void *self = nullptr;
    fivo_error err{};
    fivo_status status = FIVO_ERR_INVALID;
    Split(const fivo_dataset_vtable *v, const fivo_config *cfg, const std::string &path,
          const char *split)
        : vt(v)
    {
        if (vt != nullptr)
            status = vt->open(cfg, path.c_str(), split, &self, &err);
    }
    ~Split()
    {
        if (vt != nullptr)
            vt->close(self);
    }
    fivo_dataset_info info()
    {
        fivo_dataset_info in{};
        fivo_error e{};
        EXPECT_EQ(vt->info(self, &in, &e), FIVO_OK);
        return in;
    }
};

// Runs the built `fivo` with `args`; returns the exit code, stdout and
// stderr (2>&1 into *out).
inline int run_host(const std::string &args, std::string *out)
{
    std::string cmd = std::string("'") + FIVO_TEST_HOST + "' " + args + " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    if (p == nullptr)
        return -1;
    char buf[4096];
    size_t n;
    out->clear();
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        out->append(buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

} // namespace fivo_test
