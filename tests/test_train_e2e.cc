// End to end through the fivo executable on the tiny pianoroll fixture (tests/fixtures):
// training raises the bound; eval reports finite ELBO <= IWAE; an interrupted
// (SIGTERM) and resumed run ends bit-identical to an uninterrupted one; a
// damaged newest checkpoint is refused and the previous one used; a NaN
// stops training naming the step and keeps the last good checkpoint;
// samples.npz is a valid stored zip of .npy files with the documented shapes.
#include <gtest/gtest.h>
#include "test_data.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fivo/internal/crc32.h>

namespace {

const std::string kData = FIVO_TEST_TINY_PIANOROLL;

std::string temp_dir()
{
    char tmpl[] = "/tmp/fivo_e2e_XXXXXX";
    const char *d = mkdtemp(tmpl);
    return d ? d : "/tmp";
}

std::string base_flags(const std::string &logdir)
{
    return std::string(" --dataset_path=") + kData + " --logdir=" + logdir +
           " --latent_size=8 --batch_size=4 --num_samples=4 --random_seed=3" +
           " --learning_rate=0.003";
}

struct HostRun {
    int status;
    std::string out;
};

HostRun run(const std::string &args)
{
    std::string cmd = std::string(FIVO_TEST_HOST) + args + " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    HostRun r{-1, ""};
    if (!p)
        return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        r.out.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<std::string> lines_with(const std::string &path, const std::string &needle)
{
    std::vector<std::string> v;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line))
        if (line.find(needle) != std::string::npos)
            v.push_back(line);
    return v;
}

double number(const std::string &json, const std::string &key)
{
    std::string k = "\"" + key + "\":";
    size_t at = json.find(k);
    if (at == std::string::npos)
        return NAN;
    return std::strtod(json.c_str() + at + k.size(), nullptr);
}

TEST(TrainE2E, TrainingRaisesTheBoundAndEvalIsConsistent)
{
    std::string dir = temp_dir();
    HostRun t = run(" --mode=train" + base_flags(dir) + " --max_steps=300 --summarize_every=25");
    ASSERT_EQ(t.status, 0) << t.out;
    EXPECT_NE(t.out.find("Step 25, fivo bound per timestep: "), std::string::npos) << t.out;
    auto train = lines_with(dir + "/metrics.jsonl", "\"mode\":\"train\"");
    ASSERT_GE(train.size(), 12u);
    double first = number(train.front(), "bound_per_t"), last = number(train.back(), "bound_per_t");
    EXPECT_GT(number(train.back(), "timesteps_per_sec"), 0);
    EXPECT_EQ(number(train.back(), "step"), 300);
    // About -12 nats per timestep at the start; up by well over a nat.
    EXPECT_GT(last, first + 1.5) << "first " << first << " last " << last;

    HostRun e = run(" --mode=eval" + base_flags(dir) + " --split=train");
    ASSERT_EQ(e.status, 0) << e.out;
    EXPECT_NE(e.out.find("train elbo ll/t: "), std::string::npos) << e.out;
    EXPECT_NE(e.out.find("iwae ll/t: "), std::string::npos) << e.out;
    EXPECT_NE(e.out.find("train elbo ll/seq: "), std::string::npos) << e.out;
    auto ev = lines_with(dir + "/metrics.jsonl", "\"mode\":\"eval\"");
    ASSERT_EQ(ev.size(), 1u);
    double elbo = number(ev[0], "elbo_ll_per_t"), iwae = number(ev[0], "iwae_ll_per_t"),
           fivo = number(ev[0], "fivo_ll_per_t");
    EXPECT_TRUE(std::isfinite(elbo) && std::isfinite(iwae) && std::isfinite(fivo)) << ev[0];
    EXPECT_LE(elbo, iwae) << ev[0];
    EXPECT_TRUE(std::isfinite(number(ev[0], "fivo_ll_per_seq"))) << ev[0];
    EXPECT_EQ(number(ev[0], "checkpoint_step"), 300) << ev[0];
    EXPECT_NE(ev[0].find("\"split\":\"train\""), std::string::npos) << ev[0];
}

std::string ckpt(const std::string &dir, int step)
{
    char name[64];
    std::snprintf(name, sizeof name, "/ckpt-%012d.fivo", step);
    return dir + name;
}

TEST(TrainE2E, KilledAndResumedRunIsBitIdentical)
{
    const int kSteps = 150;
    std::string a = temp_dir(), b = temp_dir();
    HostRun ra = run(" --mode=train" + base_flags(a) + " --max_steps=" + std::to_string(kSteps));
    ASSERT_EQ(ra.status, 0) << ra.out;

    // HostRun b: SIGTERM part way, then resume to the same length.
    std::string cmd = std::string(FIVO_TEST_HOST) + " --mode=train" + base_flags(b) +
                      " --max_steps=100000 --summarize_every=10";
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), (char *)nullptr);
        _exit(127);
    }
    // Stop it once it has made some progress but before kSteps.
    for (int i = 0; i < 600 && lines_with(b + "/metrics.jsonl", "\"mode\":\"train\"").empty();
         i++)
        usleep(50 * 1000);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st)) << "the host did not exit cleanly on SIGTERM";
    EXPECT_EQ(WEXITSTATUS(st), 0);
    // Exactly one checkpoint, at the step where it stopped.
    HostRun ls = {0, ""};
    {
        FILE *p = popen(("ls " + b).c_str(), "r");
        char buf[256];
        while (p && fgets(buf, sizeof buf, p))
            ls.out += buf;
        if (p)
            pclose(p);
    }
    size_t at = ls.out.find("ckpt-");
    ASSERT_NE(at, std::string::npos) << "no checkpoint written on SIGTERM: " << ls.out;
    int stopped = std::atoi(ls.out.c_str() + at + 5);
    ASSERT_GT(stopped, 0);
    if (stopped >= kSteps)
        GTEST_FAIL() << "the run reached step " << stopped << " before SIGTERM; raise kSteps";
    HostRun rb = run(" --mode=train" + base_flags(b) + " --max_steps=" + std::to_string(kSteps));
    ASSERT_EQ(rb.status, 0) << rb.out;
    EXPECT_NE(rb.out.find("resuming from"), std::string::npos) << rb.out;
    std::string fa = slurp(ckpt(a, kSteps)), fb = slurp(ckpt(b, kSteps));
    ASSERT_GT(fa.size(), 1000u);
    EXPECT_TRUE(fa == fb) << "stopped at " << stopped
                          << ": parameters, Adam state or counters differ after resume";
}

TEST(TrainE2E, DamagedNewestCheckpointIsRefusedAndThePreviousUsed)
{
    std::string dir = temp_dir();
    ASSERT_EQ(run(" --mode=train" + base_flags(dir) + " --max_steps=5").status, 0);
    ASSERT_EQ(run(" --mode=train" + base_flags(dir) + " --max_steps=9").status, 0);
    std::string newest = ckpt(dir, 9);
    ASSERT_EQ(truncate(newest.c_str(), 300), 0);
    HostRun e = run(" --mode=eval" + base_flags(dir) + " --split=train");
    ASSERT_EQ(e.status, 0) << e.out;
    EXPECT_NE(e.out.find(newest), std::string::npos) << e.out;
    EXPECT_NE(e.out.find("truncated"), std::string::npos) << e.out;
    auto ev = lines_with(dir + "/metrics.jsonl", "\"mode\":\"eval\"");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(number(ev[0], "checkpoint_step"), 5) << ev[0];
}

TEST(TrainE2E, NanStopsNamingTheStepAndKeepsTheLastGoodCheckpoint)
{
    std::string dir = temp_dir();
    ASSERT_EQ(run(" --mode=train" + base_flags(dir) + " --max_steps=4").status, 0);
    std::string good = slurp(ckpt(dir, 4));
    // An absurd learning rate blows the parameters up within a few steps.
    HostRun r = run(" --mode=train --dataset_path=" + kData + " --logdir=" + dir +
                " --latent_size=8 --random_seed=3 --learning_rate=1e30 --max_steps=200");
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("step "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("last good checkpoint"), std::string::npos) << r.out;
    EXPECT_EQ(slurp(ckpt(dir, 4)), good);
}

uint16_t u16(const std::string &s, size_t at)
{
    return (uint16_t)((unsigned char)s[at] | (unsigned char)s[at + 1] << 8);
}
uint32_t u32(const std::string &s, size_t at) { return u16(s, at) | (uint32_t)u16(s, at + 2) << 16; }

TEST(TrainE2E, SamplesNpzIsAValidZipOfNpyFiles)
{
    std::string dir = temp_dir();
    ASSERT_EQ(run(" --mode=train" + base_flags(dir) + " --max_steps=5").status, 0);
    HostRun s = run(" --mode=sample" + base_flags(dir) + " --prefix_length=6 --sample_length=9");
    ASSERT_EQ(s.status, 0) << s.out;
    std::string z = slurp(dir + "/samples.npz");
    ASSERT_GT(z.size(), 22u);
    // End of central directory -> central directory -> local headers.
    size_t eocd = z.size() - 22;
    ASSERT_EQ(u32(z, eocd), 0x06054b50u);
    int entries = u16(z, eocd + 10);
    ASSERT_EQ(entries, 2);
    size_t cd = u32(z, eocd + 16);
    std::vector<std::pair<std::string, std::string>> members;
    for (int i = 0; i < entries; i++) {
        ASSERT_EQ(u32(z, cd), 0x02014b50u);
        EXPECT_EQ(u16(z, cd + 10), 0); // stored
        uint32_t crc = u32(z, cd + 16), size = u32(z, cd + 20);
        uint16_t nlen = u16(z, cd + 28);
        uint32_t local = u32(z, cd + 42);
        std::string name = z.substr(cd + 46, nlen);
        ASSERT_EQ(u32(z, local), 0x04034b50u);
        size_t data = local + 30 + u16(z, local + 26) + u16(z, local + 28);
        std::string body = z.substr(data, size);
        EXPECT_EQ(fivo_crc32_update(0, body.data(), body.size()), crc) << name;
        members.emplace_back(name, body);
        cd += 46 + nlen + u16(z, cd + 30) + u16(z, cd + 32);
    }
    auto header_of = [](const std::string &npy) {
        EXPECT_EQ(npy.substr(0, 6), "\x93NUMPY");
        uint16_t hl = u16(npy, 8);
        EXPECT_EQ((10 + hl) % 64, 0);
        return npy.substr(10, hl);
    };
    ASSERT_EQ(members[0].first, "prefixes.npy");
    ASSERT_EQ(members[1].first, "samples.npy");
    std::string hp = header_of(members[0].second), hs = header_of(members[1].second);
    EXPECT_NE(hp.find("'descr': '<f4'"), std::string::npos) << hp;
    EXPECT_NE(hp.find("'shape': (6, 4, 88)"), std::string::npos) << hp;
    EXPECT_NE(hs.find("'shape': (9, 4, 4, 88)"), std::string::npos) << hs;
    size_t hl = 10 + u16(members[1].second, 8);
    EXPECT_EQ(members[1].second.size() - hl, (size_t)9 * 4 * 4 * 88 * 4);
    // Sampled frames are binary.
    const float *x = reinterpret_cast<const float *>(members[1].second.data() + hl);
    for (size_t i = 0; i < (size_t)9 * 4 * 4 * 88; i++)
        ASSERT_TRUE(x[i] == 0.0f || x[i] == 1.0f) << i;

    if (access("/usr/bin/python3", X_OK) == 0) {
        std::string py = "/usr/bin/python3 -c \"import numpy as np; d = np.load('" + dir +
                         "/samples.npz'); print(d['prefixes'].shape, d['samples'].shape)\" 2>&1";
        FILE *p = popen(py.c_str(), "r");
        std::string out;
        char buf[256];
        while (p && fgets(buf, sizeof buf, p))
            out += buf;
        int st = p ? pclose(p) : -1;
        if (out.find("No module named") == std::string::npos) {
            EXPECT_EQ(st, 0) << out;
            EXPECT_NE(out.find("(6, 4, 88) (9, 4, 4, 88)"), std::string::npos) << out;
        }
    }
}

} // namespace
