// The TIMIT converter on a synthetic TIMIT tree written here with libsndfile
// (NIST SPHERE, 16-bit PCM, sample_min/sample_max added to the header as in
// the real corpus): counts, the valid hold-out, exact statistics, frames,
// and bad input that must fail naming the file and leave nothing behind.
#include <sndfile.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "dataset_test_util.h"
#include "py_runner.h"

extern "C" {
#include <fivo/config.h>
#include <fivo/internal/metrics.h>
#include <fivo/tfrecord.h>
}

using fivo_test::TempDir;

namespace {

const fivo_dataset_vtable *vt()
{
    static const fivo_dataset_vtable *v = fivo_test::dataset_vtable("timit");
    return v;
}

void mkdirs(const std::string &p)
{
    for (size_t i = 1; i <= p.size(); i++)
        if (i == p.size() || p[i] == '/')
            mkdir(p.substr(0, i).c_str(), 0755);
}

// File number k: distinct length, deterministic content in [-3000, 3000].
std::vector<short> samples(int k)
{
    std::vector<short> s(100 + 37 * k + (k % 3) * 200);
    uint32_t x = 12345u + 7919u * (uint32_t)k;
    for (auto &v : s) {
        x = x * 1664525u + 1013904223u;
        v = (short)((int)(x >> 16) % 6001 - 3000 + (k % 5));
    }
    return s;
}

// Writes a NIST SPHERE file and adds sample_min/sample_max to its header.
void write_sphere(const std::string &path, const std::vector<short> &s)
{
    SF_INFO info{};
    info.samplerate = 16000;
    info.channels = 1;
    info.format = SF_FORMAT_NIST | SF_FORMAT_PCM_16;
    SNDFILE *f = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
    ASSERT_EQ(sf_write_short(f, s.data(), (sf_count_t)s.size()), (sf_count_t)s.size());
    sf_close(f);
    std::string bytes = fivo_test::read_bytes(path);
    size_t end = bytes.find("end_head\n");
    ASSERT_NE(end, std::string::npos);
    short lo = *std::min_element(s.begin(), s.end()), hi = *std::max_element(s.begin(), s.end());
    std::string extra =
        "sample_min -i " + std::to_string(lo) + "\nsample_max -i " + std::to_string(hi) + "\n";
    bytes.insert(end, extra);
    bytes.erase(end + extra.size() + 9, extra.size()); // keep the 1024-byte header
    fivo_test::write_bytes(path, bytes);
}

struct Tree {
    TempDir dir;
    std::string raw, out;
    std::map<size_t, int> by_length; // utterance length -> file number
    std::vector<int> train_files, test_files;
    Tree()
    {
        raw = dir / "raw";
        out = dir / "out";
        // 20 TRAIN files in mixed letter case, 3 TEST files.
        const char *dirs[] = {"TIMIT/TRAIN/DR1/FAKS0", "TIMIT/TRAIN/DR1/MDAB0",
                              "TIMIT/TRAIN/dr2/fcjf0", "TIMIT/TRAIN/DR3/MJSW0"};
        int k = 0;
        for (int d = 0; d < 4; d++) {
            mkdirs(raw + "/" + dirs[d]);
            for (int j = 0; j < 5; j++, k++) {
                std::string name = (d == 2 ? "sx" : "SI") + std::to_string(100 + j) +
                                   (d == 2 ? ".wav" : ".WAV");
                write_sphere(raw + "/" + dirs[d] + "/" + name, samples(k));
                train_files.push_back(k);
            }
        }
        mkdirs(raw + "/TIMIT/TEST/DR1/FDAC1");
        for (int j = 0; j < 3; j++, k++) {
            write_sphere(raw + "/TIMIT/TEST/DR1/FDAC1/SA" + std::to_string(j + 1) + ".WAV",
                         samples(k));
            test_files.push_back(k);
        }
        // Not audio, not in a DR folder: ignored.
        fivo_test::write_bytes(raw + "/TIMIT/TRAIN/DR1/FAKS0/SI100.TXT", "text");
        fivo_test::write_bytes(raw + "/TIMIT/TRAIN/README.WAV", "not here");
        for (int i = 0; i < k; i++)
            by_length[samples(i).size()] = i;
    }
};

struct Convert {
    fivo_config *cfg = fivo_config_new();
    fivo_report *rep = fivo_report_new("convert");
    fivo_error err{};
    fivo_status st = FIVO_ERR_INVALID;
    std::string out_text;
    Convert(const std::string &raw, const std::string &out, const char *spt = nullptr)
    {
        if (!raw.empty())
            fivo_config_set(cfg, "dataset", "raw_timit_dir", raw.c_str());
        fivo_config_set(cfg, "dataset", "out_dir", out.c_str());
        if (spt)
            fivo_config_set(cfg, "dataset", "samples_per_timestep", spt);
    }
    void run()
    {
        testing::internal::CaptureStdout();
        st = vt()->convert(cfg, rep, &err);
        out_text = testing::internal::GetCapturedStdout();
    }
    double num(const char *k)
    {
        double v = NAN;
        EXPECT_EQ(fivo_report_get_number(rep, k, &v), FIVO_OK) << k;
        return v;
    }
    ~Convert()
    {
        fivo_report_free(rep);
        fivo_config_free(cfg);
    }
};

std::vector<std::vector<float>> records(const std::string &path)
{
    std::vector<std::vector<float>> out;
    fivo_tfrecord_reader *r = nullptr;
    fivo_error err{};
    EXPECT_EQ(fivo_tfrecord_reader_open(path.c_str(), &r, &err), FIVO_OK) << err.message;
    if (r == nullptr)
        return out;
    const uint8_t *d;
    size_t n;
    fivo_status st;
    while ((st = fivo_tfrecord_reader_next(r, &d, &n, &err)) == FIVO_OK) {
        std::vector<float> v(n / 4);
        memcpy(v.data(), d, n);
        out.push_back(v);
    }
    EXPECT_EQ(st, FIVO_END) << err.message;
    fivo_tfrecord_reader_close(r);
    return out;
}

} // namespace

TEST(Timit, ConvertsSyntheticTree)
{
    Tree t;
    Convert c(t.raw, t.out);
    c.run();
    ASSERT_EQ(c.st, FIVO_OK) << c.err.message;
    // int(20 * 0.05) = 1 valid file.
    EXPECT_NE(c.out_text.find("19 train / 1 valid / 3 test\n"), std::string::npos) << c.out_text;
    EXPECT_EQ(c.num("num_train"), 19);
    EXPECT_EQ(c.num("num_valid"), 1);
    EXPECT_EQ(c.num("num_test"), 3);
    auto tr = records(t.out + "/train"), va = records(t.out + "/valid"),
         te = records(t.out + "/test");
    ASSERT_EQ(tr.size(), 19u);
    ASSERT_EQ(va.size(), 1u);
    ASSERT_EQ(te.size(), 3u);

    // Each record must equal one file's samples standardised with the
    // reported statistics, zero-padded to whole timesteps.
    std::set<int> in_train;
    double mean = c.num("train_mean"), sd = c.num("train_std");
    auto match = [&](const std::vector<float> &rec, const std::vector<int> &candidates) {
        for (int k : candidates) {
            auto s = samples(k);
            if ((s.size() + 199) / 200 * 200 != rec.size())
                continue;
            bool ok = true;
            for (size_t i = 0; ok && i < rec.size(); i++) {
                float want = i < s.size() ? (float)(((double)s[i] - mean) / sd) : 0.0f;
                ok = rec[i] == want;
            }
            if (ok)
                return k;
        }
        return -1;
    };
    for (auto &rec : tr) {
        int k = match(rec, t.train_files);
        ASSERT_GE(k, 0) << "a train record matches no TRAIN file exactly";
        in_train.insert(k);
    }
    ASSERT_EQ(in_train.size(), 19u);
    int kv = match(va[0], t.train_files);
    ASSERT_GE(kv, 0);
    EXPECT_EQ(in_train.count(kv), 0u);
    for (size_t i = 0; i < 3; i++) // test in sorted path order
        EXPECT_EQ(match(te[i], t.test_files), t.test_files[i]);

    // Statistics over all 19 train files' samples, in long double.
    long double sum = 0, n = 0;
    for (int k : in_train)
        for (short x : samples(k)) {
            sum += x;
            n += 1;
        }
    long double m = sum / n, ss = 0;
    for (int k : in_train)
        for (short x : samples(k))
            ss += (x - m) * (x - m);
    EXPECT_EQ(mean, (double)(sum / n)); // exact: integer sum / count
    EXPECT_NEAR(sd, (double)std::sqrt(ss / n), 1e-12 * sd);
    EXPECT_EQ(c.num("train_samples"), (double)n);
    char line[128];
    snprintf(line, sizeof line, "train mean: %f  train std: %f\n", mean, sd);
    EXPECT_NE(c.out_text.find(line), std::string::npos) << c.out_text;

    // Same seed, same split; the speech plugin reads the output.
    TempDir again;
    Convert c2(t.raw, again.path + "/o");
    c2.run();
    ASSERT_EQ(c2.st, FIVO_OK) << c2.err.message;
    EXPECT_EQ(fivo_test::read_bytes(again.path + "/o/valid"), fivo_test::read_bytes(t.out + "/valid"));
    EXPECT_EQ(fivo_test::read_bytes(again.path + "/o/train"), fivo_test::read_bytes(t.out + "/train"));
    const fivo_dataset_vtable *speech = fivo_test::dataset_vtable("speech");
    fivo_test::Split sp(speech, nullptr, t.out, "test");
    ASSERT_EQ(sp.status, FIVO_OK) << sp.err.message;
    EXPECT_EQ(sp.info().num_sequences, 3);
    EXPECT_EQ(sp.info().dim, 200);
    // And the timit plugin itself points there.
    fivo_test::Split self(vt(), nullptr, t.out, "test");
    EXPECT_EQ(self.status, FIVO_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(self.err.message).find("speech"), std::string::npos);
}

TEST(Timit, SamplesPerTimestepOption)
{
    Tree t;
    Convert c(t.raw, t.out, "50");
    c.run();
    ASSERT_EQ(c.st, FIVO_OK) << c.err.message;
    for (auto &rec : records(t.out + "/test"))
        EXPECT_EQ(rec.size() % 50, 0u);
    EXPECT_EQ(records(t.out + "/test")[0].size(), (samples(20).size() + 49) / 50 * 50);
}

namespace {

// Converting must fail with FIVO_ERR_FORMAT/NOT_FOUND naming `needles`, and out_dir
// must hold nothing (not even temporaries).
void expect_fail(Tree &t, std::vector<std::string> needles)
{
    Convert c(t.raw, t.out);
    c.run();
    ASSERT_NE(c.st, FIVO_OK);
    std::string msg = c.err.message;
    for (auto &n : needles)
        EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    struct stat st;
    if (stat(t.out.c_str(), &st) == 0) {
        FILE *p = popen(("ls -A '" + t.out + "'").c_str(), "r");
        char buf[256];
        std::string left;
        while (p && fgets(buf, sizeof buf, p))
            left += buf;
        if (p)
            pclose(p);
        EXPECT_EQ(left, "") << "partial output left behind";
    }
}

std::string patch(std::string bytes, const std::string &from, const std::string &to)
{
    size_t at = bytes.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    EXPECT_EQ(from.size(), to.size());
    if (at != std::string::npos)
        bytes.replace(at, from.size(), to);
    return bytes;
}

} // namespace

TEST(Timit, HeaderDisagreesWithData)
{
    Tree t;
    // A TEST file (read last, after train output was started) with a wrong max.
    std::string f = t.raw + "/TIMIT/TEST/DR1/FDAC1/SA2.WAV";
    std::string b = fivo_test::read_bytes(f);
    auto s = samples(21);
    std::string mx = "sample_max -i " + std::to_string(*std::max_element(s.begin(), s.end()));
    std::string bad = mx;
    bad.back() = bad.back() == '0' ? '1' : '0';
    fivo_test::write_bytes(f, patch(b, mx, bad));
    expect_fail(t, {f, "sample_max"});
    fivo_test::write_bytes(f, b);
    // sample_count that disagrees with the data size, in a TRAIN file.
    std::string g = t.raw + "/TIMIT/TRAIN/DR1/FAKS0/SI101.WAV";
    std::string gb = fivo_test::read_bytes(g);
    std::string cnt = "sample_count -i " + std::to_string(samples(1).size());
    std::string cnt2 = cnt;
    cnt2.back() = cnt2.back() == '9' ? '8' : (char)(cnt2.back() + 1);
    fivo_test::write_bytes(g, patch(gb, cnt, cnt2));
    expect_fail(t, {g, "sample_count"});
    // A wrong sample_min.
    auto s1 = samples(1);
    std::string mn = "sample_min -i " + std::to_string(*std::min_element(s1.begin(), s1.end()));
    std::string mn2 = mn;
    mn2.back() = mn2.back() == '0' ? '1' : '0';
    fivo_test::write_bytes(g, patch(gb, mn, mn2));
    expect_fail(t, {g, "sample_min"});
    // Not a SPHERE file at all.
    fivo_test::write_bytes(g, "RIFF....WAVEfmt garbage that is not NIST");
    expect_fail(t, {g, "NIST"});
}

TEST(Timit, EmptyAndMissingFolders)
{
    TempDir d;
    mkdirs(d.path + "/raw/TIMIT/TRAIN");
    mkdirs(d.path + "/raw/TIMIT/TEST/DR1/X");
    Tree t; // reuse its helpers for paths only
    t.raw = d.path + "/raw";
    t.out = d.path + "/out";
    expect_fail(t, {"no .WAV files", "TRAIN"});
    t.raw = d.path + "/nothing";
    expect_fail(t, {"no TIMIT folder", t.raw});
    Convert c("", t.out);
    c.run();
    EXPECT_EQ(c.st, FIVO_ERR_INVALID);
    EXPECT_NE(std::string(c.err.message).find("raw_timit_dir"), std::string::npos);
}

TEST(Timit, HostConvertMode)
{
    Tree t;
    std::string out;
    std::string logdir = t.dir / "log";
    int rc = fivo_test::run_host("--mode=convert --dataset_type=timit --raw_timit_dir='" + t.raw +
                                     "' --out_dir='" + t.out + "' --logdir='" + logdir + "'",
                                 &out);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("19 train / 1 valid / 3 test"), std::string::npos) << out;
    EXPECT_NE(out.find("train mean: "), std::string::npos) << out;
    std::string jsonl = fivo_test::read_bytes(logdir + "/metrics.jsonl");
    for (const char *k : {"\"mode\":\"convert\"", "\"num_train\":19", "\"num_valid\":1",
                          "\"num_test\":3", "\"train_mean\":", "\"train_std\":"})
        EXPECT_NE(jsonl.find(k), std::string::npos) << k << " not in " << jsonl;
    EXPECT_EQ(records(t.out + "/train").size(), 19u);
    // The converted folder inspects as speech data, split by split.
    rc = fivo_test::run_host("--mode=inspect --dataset_type=speech --dataset_path='" + t.out +
                                 "' --logdir='" + logdir + "'",
                             &out);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("split train, num_sequences 19, dim 200"), std::string::npos) << out;
    EXPECT_NE(out.find("split valid, num_sequences 1,"), std::string::npos) << out;
    EXPECT_NE(out.find("split test, num_sequences 3,"), std::string::npos) << out;
    // Standardised train data: mean 0 and std 1 up to the zero padding.
    EXPECT_NE(out.find("data_mean"), std::string::npos) << out;
    // Failures exit non-zero with the message; a reader cannot convert.
    rc = fivo_test::run_host("--mode=convert --dataset_type=timit --raw_timit_dir='" + t.dir.path +
                                 "/nothing' --out_dir='" + t.out + "' --logdir='" + logdir + "'",
                             &out);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("no TIMIT folder"), std::string::npos) << out;
    rc = fivo_test::run_host("--mode=convert --dataset_type=speech --logdir='" + logdir + "'", &out);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("cannot convert"), std::string::npos) << out;
}

// The converter's statistics go to OUT/stats.json (exact doubles), which the
// speech reader uses to turn sampled frames back into audio: the whole chain
// TIMIT -> convert -> train -> sample -> WAV, the WAV read by Python's wave
// module (tests/read_wav.py) against samples.npz and those statistics.
TEST(Timit, StatsJsonCarriesTheStandardisationToWavSamples)
{
    Tree t;
    Convert c(t.raw, t.out);
    c.run();
    ASSERT_EQ(c.st, FIVO_OK) << c.err.message;
    std::string js = fivo_test::read_bytes(t.out + "/stats.json");
    auto field = [&](const char *k) {
        size_t at = js.find(std::string("\"") + k + "\": ");
        EXPECT_NE(at, std::string::npos) << k << " in " << js;
        return at == std::string::npos ? NAN : std::strtod(js.c_str() + at + strlen(k) + 4, nullptr);
    };
    double mean = field("mean"), sd = field("std");
    EXPECT_EQ(mean, c.num("train_mean"));
    EXPECT_EQ(sd, c.num("train_std"));
    EXPECT_EQ(field("samples_per_timestep"), 200);

    std::string logdir = t.dir / "log", out;
    std::string common = " --dataset_type=speech --dataset_path='" + t.out + "' --logdir='" +
                         logdir + "' --latent_size=4 --batch_size=2 --num_samples=2";
    ASSERT_EQ(fivo_test::run_host(common + " --max_steps=2 --summarize_every=2", &out), 0) << out;
    ASSERT_EQ(fivo_test::run_host(common + " --mode=sample --prefix_length=3 --sample_length=2",
                                  &out),
              0)
        << out;
    char m[64], s[64];
    snprintf(m, sizeof m, "%.17g", mean);
    snprintf(s, sizeof s, "%.17g", sd);
    fivo_test::PyResult py = fivo_test::run_python("read_wav.py", {logdir, m, s, "16000"});
    FIVO_EXPECT_PY_OK(py);
    EXPECT_NE(py.out.find("ok 4 WAV files, 1000 samples each"), std::string::npos) << py.out;
}

// Convert under a file-size limit (ulimit -f) smaller than its train file:
// exit 1 naming the file (the host ignores SIGXFSZ, so the write fails with
// EFBIG instead of the process being killed), no temp file left, and the
// previous conversion's files byte-identical.
TEST(Timit, ConvertUnderAFileSizeLimitFailsCleanly)
{
    Tree t;
    std::string out, logdir = t.dir / "log";
    std::string args = "--mode=convert --dataset_type=timit --raw_timit_dir='" + t.raw +
                       "' --out_dir='" + t.out + "' --logdir='" + logdir + "'";
    ASSERT_EQ(fivo_test::run_host(args, &out), 0) << out;
    std::map<std::string, std::string> before;
    for (const char *s : {"train", "valid", "test"})
        before[s] = fivo_test::read_bytes(t.out + "/" + s);
    ASSERT_GT(before["train"].size(), 8192u);
    // ulimit -f counts 512-byte blocks in POSIX sh: 8 blocks = 4096 bytes.
    std::string log = t.dir / "limited.out";
    int rc = system(("ulimit -f 8 && exec " FIVO_TEST_HOST " " + args + " >'" + log + "' 2>&1")
                        .c_str());
    out = fivo_test::read_bytes(log);
    ASSERT_TRUE(WIFEXITED(rc)) << "killed by a signal (SIGXFSZ?)\n" << out;
    EXPECT_EQ(WEXITSTATUS(rc), 1) << out;
    EXPECT_NE(out.find(t.out + "/train"), std::string::npos) << out;
    EXPECT_NE(out.find("File too large"), std::string::npos) << out;
    for (const char *s : {"train", "valid", "test"})
        EXPECT_TRUE(fivo_test::read_bytes(t.out + "/" + s) == before[s]) << s;
    std::string ls;
    if (DIR *d = opendir(t.out.c_str())) {
        while (struct dirent *e = readdir(d))
            if (strstr(e->d_name, ".tmp") != nullptr)
                ls += std::string(e->d_name) + " ";
        closedir(d);
    }
    EXPECT_EQ(ls, "") << "temp files left";
}
