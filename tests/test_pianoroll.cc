// The pianoroll dataset on the build's fixtures (tests/fixtures: a JSB-like
// protocol-2 pickle of numpy int64 notes, and a tiny protocol-0 pickle with a
// stored train_mean, like the reference's): counts, notes, the train mean,
// batch layout (shifted, centred, zero past each length) and seeded
// shuffling. The real JSB chorales pickle's own facts (229/76/77 sequences,
// 13807 train steps) are checked when that file is present.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "dataset_test_util.h"

using fivo_test::Split;

namespace {

const fivo_dataset_vtable *vt()
{
    static const fivo_dataset_vtable *v = fivo_test::dataset_vtable("pianoroll");
    return v;
}

const char *kJsb = "jsb_chorales.pickle";

std::string jsb_like() { return fivo_test::fixture(FIXTURE_JSB_LIKE); }
std::string tiny() { return fivo_test::fixture(FIXTURE_TINY_PIANOROLL); }

int split_of(const char *name)
{
    return std::string(name) == "train" ? FIXTURE_TRAIN
           : std::string(name) == "valid" ? FIXTURE_VALID
                                          : FIXTURE_TEST;
}

int64_t fixture_steps(int split)
{
    int64_t n = 0;
    for (int s = 0; s < fixture_jsb_count(split); s++)
        n += fixture_jsb_length(split, s);
    return n;
}

// All sequences of a split in file order, as dense frames [len][88].
std::vector<std::vector<std::vector<float>>> read_all(Split &s)
{
    std::vector<std::vector<std::vector<float>>> out;
    fivo_batch b{};
    fivo_error e{};
    for (uint64_t k = 0;; k++) {
        fivo_status st = vt()->batch(s.self, 7, false, 0, k, &b, &e);
        if (st == FIVO_END)
            break;
        EXPECT_EQ(st, FIVO_OK) << e.message;
        if (st != FIVO_OK)
            break;
        for (int i = 0; i < b.batch_size; i++) {
            EXPECT_EQ(b.seq_ids[i], (int32_t)(k * 7 + i));
            std::vector<std::vector<float>> seq;
            for (int t = 0; t < b.lengths[i]; t++) {
                const float *x = fivo_batch_at(b.targets, &b, t, i);
                seq.emplace_back(x, x + b.dim);
            }
            out.push_back(seq);
        }
    }
    return out;
}

} // namespace

TEST(Pianoroll, JsbCounts)
{
    FIVO_REQUIRE_REAL_FILE(kJsb);
    std::string path = fivo_test::real_file(kJsb);
    const std::map<std::string, int> want = {{"train", 229}, {"valid", 76}, {"test", 77}};
    for (const auto &kv : want) {
        Split s(vt(), nullptr, path, kv.first.c_str());
        ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
        fivo_dataset_info in = s.info();
        EXPECT_EQ(in.num_sequences, kv.second) << kv.first;
        EXPECT_EQ(in.dim, 88);
        EXPECT_STREQ(in.kind, "binary");
    }
    Split train(vt(), nullptr, path, "train");
    ASSERT_EQ(train.status, FIVO_OK);
    EXPECT_EQ(train.info().total_timesteps, 13807);
    auto seqs = read_all(train);
    ASSERT_EQ(seqs.size(), 229u);
    int64_t frames = 0, notes = 0;
    for (auto &q : seqs)
        for (auto &f : q) {
            frames++;
            for (int j = 0; j < 88; j++)
                notes += f[j] != 0.0f;
        }
    EXPECT_EQ(frames, 13807);
    EXPECT_GT(notes, 3 * frames); // four-part chorales
}

// The same reading on the JSB-like fixture, whose notes are known.
TEST(Pianoroll, FixtureCountsAndNotes)
{
    for (const char *name : {"train", "valid", "test"}) {
        int sp = split_of(name);
        Split s(vt(), nullptr, jsb_like(), name);
        ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
        fivo_dataset_info in = s.info();
        EXPECT_EQ(in.num_sequences, fixture_jsb_count(sp)) << name;
        EXPECT_EQ(in.total_timesteps, fixture_steps(sp)) << name;
        EXPECT_EQ(in.dim, 88);
        EXPECT_STREQ(in.kind, "binary");
        auto seqs = read_all(s);
        ASSERT_EQ(seqs.size(), (size_t)fixture_jsb_count(sp));
        for (size_t q = 0; q < seqs.size(); q++) {
            ASSERT_EQ(seqs[q].size(), (size_t)fixture_jsb_length(sp, (int)q));
            for (size_t t = 0; t < seqs[q].size(); t++) {
                int notes[4], k = fixture_chord(sp, (int)q, (int)t, notes);
                std::vector<float> want(88, 0.0f);
                for (int i = 0; i < k; i++)
                    want[notes[i] - 21] = 1.0f;
                ASSERT_EQ(seqs[q][t], want) << name << " seq " << q << " step " << t;
            }
        }
    }
}

TEST(Pianoroll, MeanIsTrainNoteFrequency)
{
    Split train(vt(), nullptr, jsb_like(), "train");
    ASSERT_EQ(train.status, FIVO_OK) << train.err.message;
    auto seqs = read_all(train);
    const int64_t steps = fixture_steps(FIXTURE_TRAIN);
    ASSERT_EQ(seqs.size(), (size_t)fixture_jsb_count(FIXTURE_TRAIN));
    std::vector<double> count(88, 0.0);
    int64_t frames = 0;
    for (auto &q : seqs)
        for (auto &f : q) {
            frames++;
            for (int j = 0; j < 88; j++) {
                EXPECT_TRUE(f[j] == 0.0f || f[j] == 1.0f);
                count[j] += f[j];
            }
        }
    EXPECT_EQ(frames, steps);
    // The pickle has no train_mean: the plugin computes it from train.
    fivo_dataset_info in = train.info();
    ASSERT_NE(in.mean, nullptr);
    for (int j = 0; j < 88; j++)
        EXPECT_EQ(in.mean[j], count[j] / (double)steps) << j;
    // Valid and test use the same (train) mean.
    Split valid(vt(), nullptr, jsb_like(), "valid");
    ASSERT_EQ(valid.status, FIVO_OK);
    for (int j = 0; j < 88; j++)
        EXPECT_EQ(valid.info().mean[j], in.mean[j]);
}

TEST(Pianoroll, BatchLayout)
{
    // Batches of 2 over the 7 valid sequences: batch 1 is sequences 2 and 3.
    Split s(vt(), nullptr, jsb_like(), "valid");
    ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
    ASSERT_EQ(fixture_jsb_count(FIXTURE_VALID), 7);
    const double *mean = s.info().mean;
    fivo_batch b{};
    fivo_error e{};
    ASSERT_EQ(vt()->batch(s.self, 2, false, 0, 1, &b, &e), FIVO_OK) << e.message;
    ASSERT_EQ(b.batch_size, 2);
    int T = 0;
    for (int i = 0; i < 2; i++)
        T = std::max(T, (int)b.lengths[i]);
    ASSERT_EQ(b.max_len, T);
    EXPECT_NE(b.lengths[0], b.lengths[1]); // so padding is checked
    for (int i = 0; i < 2; i++) {
        EXPECT_EQ(b.seq_ids[i], 2 + i);
        EXPECT_EQ(b.lengths[i], fixture_jsb_length(FIXTURE_VALID, 2 + i));
        for (int t = 0; t < T; t++)
            for (int j = 0; j < 88; j++) {
                float x = fivo_batch_at(b.inputs, &b, t, i)[j];
                float y = fivo_batch_at(b.targets, &b, t, i)[j];
                if (t >= b.lengths[i]) {
                    EXPECT_EQ(x, 0.0f);
                    EXPECT_EQ(y, 0.0f);
                } else if (t == 0) {
                    EXPECT_EQ(x, 0.0f);
                } else {
                    float prev = fivo_batch_at(b.targets, &b, t - 1, i)[j];
                    EXPECT_EQ(x, prev - (float)mean[j]);
                }
            }
    }
    // One pass: 7 sequences in batches of 2 -> 4 batches, the last has 1.
    ASSERT_EQ(vt()->batch(s.self, 2, false, 0, 3, &b, &e), FIVO_OK);
    EXPECT_EQ(b.batch_size, 1);
    EXPECT_EQ(b.seq_ids[0], 6);
    EXPECT_EQ(vt()->batch(s.self, 2, false, 0, 4, &b, &e), FIVO_END);
}

TEST(Pianoroll, ShuffleIsSeededRepeatingAndPure)
{
    Split s(vt(), nullptr, jsb_like(), "train");
    ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
    const int B = 5, N = fixture_jsb_count(FIXTURE_TRAIN);
    fivo_batch b{};
    fivo_error e{};
    // 3 epochs' worth of positions: each epoch is a permutation of 0..N-1.
    std::vector<int32_t> order;
    for (uint64_t k = 0; k < (uint64_t)(3 * N + B - 1) / B; k++) {
        ASSERT_EQ(vt()->batch(s.self, B, true, 42, k, &b, &e), FIVO_OK) << e.message;
        ASSERT_EQ(b.batch_size, B);
        order.insert(order.end(), b.seq_ids, b.seq_ids + B);
    }
    for (int ep = 0; ep < 3; ep++) {
        std::set<int32_t> seen(order.begin() + ep * N, order.begin() + (ep + 1) * N);
        EXPECT_EQ(seen.size(), (size_t)N) << "epoch " << ep;
        EXPECT_EQ(*seen.begin(), 0);
        EXPECT_EQ(*seen.rbegin(), N - 1);
    }
    EXPECT_NE(std::vector<int32_t>(order.begin(), order.begin() + N),
              std::vector<int32_t>(order.begin() + N, order.begin() + 2 * N));
    bool identity = true;
    for (int i = 0; i < N; i++)
        identity = identity && order[i] == i;
    EXPECT_FALSE(identity);
    // Pure in (seed, index): batch 7 alone, in another instance, is the same.
    Split s2(vt(), nullptr, jsb_like(), "train");
    ASSERT_EQ(vt()->batch(s2.self, B, true, 42, 7, &b, &e), FIVO_OK);
    for (int i = 0; i < B; i++)
        EXPECT_EQ(b.seq_ids[i], order[7 * B + i]);
    // Targets match the file-order reading of the same sequence.
    auto all = read_all(s2);
    ASSERT_EQ(vt()->batch(s2.self, B, true, 42, 7, &b, &e), FIVO_OK);
    for (int i = 0; i < B; i++) {
        auto &seq = all[b.seq_ids[i]];
        ASSERT_EQ((size_t)b.lengths[i], seq.size());
        for (int t = 0; t < b.lengths[i]; t++)
            for (int j = 0; j < 88; j++)
                ASSERT_EQ(fivo_batch_at(b.targets, &b, t, i)[j], seq[t][j]);
    }
    // Another seed, another order.
    ASSERT_EQ(vt()->batch(s2.self, B, true, 43, 0, &b, &e), FIVO_OK);
    EXPECT_NE(std::vector<int32_t>(b.seq_ids, b.seq_ids + B),
              std::vector<int32_t>(order.begin(), order.begin() + B));
}

// A protocol-0 pickle with a stored train_mean and the reference tiny file's
// sequence lengths: counts, and the mean decoded from the file's escaped
// STRING independently of the plugin.
static void check_tiny(const std::string &path)
{
    Split s(vt(), nullptr, path, "train");
    ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
    fivo_dataset_info in = s.info();
    EXPECT_EQ(in.num_sequences, 10);
    EXPECT_EQ(in.total_timesteps, 129 + 65 + 49 + 65 + 114 + 33 + 57 + 49 + 64 + 33);
    // The stored train_mean: 88 little-endian doubles, found in the file's
    // escaped STRING and decoded here independently of the plugin.
    std::string raw = fivo_test::read_bytes(path);
    size_t at = raw.find("tS'b'");
    ASSERT_NE(at, std::string::npos);
    size_t q = raw.find("I00\nS'", at); // is_fortran False, then the data
    ASSERT_NE(q, std::string::npos);
    q += 6;
    std::string bytes;
    while (raw[q] != '\'') {
        if (raw[q] != '\\') {
            bytes += raw[q++];
            continue;
        }
        char c = raw[q + 1];
        if (c == 'x') {
            bytes += (char)std::stoi(raw.substr(q + 2, 2), nullptr, 16);
            q += 4;
        } else if (c >= '0' && c <= '7') {
            size_t n = 1;
            while (n < 3 && raw[q + 1 + n] >= '0' && raw[q + 1 + n] <= '7')
                n++;
            bytes += (char)std::stoi(raw.substr(q + 1, n), nullptr, 8);
            q += 1 + n;
        } else {
            bytes += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
            q += 2;
        }
    }
    ASSERT_EQ(bytes.size(), 88u * 8u);
    ASSERT_NE(in.mean, nullptr);
    int nonzero = 0;
    for (int j = 0; j < 88; j++) {
        double want;
        memcpy(&want, bytes.data() + 8 * j, 8);
        EXPECT_EQ(in.mean[j], want) << j;
        nonzero += want != 0.0;
    }
    EXPECT_GT(nonzero, 10);
    // A split the file lacks is a clear error.
    Split v(vt(), nullptr, path, "valid");
    EXPECT_EQ(v.status, FIVO_ERR_NOT_FOUND);
    EXPECT_NE(std::string(v.err.message).find("no split 'valid'"), std::string::npos)
        << v.err.message;
}

TEST(Pianoroll, TinyProtocol0StoredMean)
{
    check_tiny(tiny());
    // The stored mean is the fixture's, as fixtures.h defines it.
    Split s(vt(), nullptr, tiny(), "train");
    ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
    for (int j = 0; j < 88; j++)
        EXPECT_EQ(s.info().mean[j], fixture_tiny_mean(j)) << j;
}

// The reference's own tiny file (written by Python 2 and numpy).
TEST(Pianoroll, ReferenceTinyFile)
{
    FIVO_REQUIRE_REAL_FILE(FIXTURE_TINY_PIANOROLL);
    check_tiny(fivo_test::real_file(FIXTURE_TINY_PIANOROLL));
}

// inspect's report of the real JSB file.
TEST(Pianoroll, HostInspectJsb)
{
    FIVO_REQUIRE_REAL_FILE(kJsb);
    fivo_test::TempDir dir;
    std::string out;
    int rc = fivo_test::run_host("--mode=inspect --dataset_type=pianoroll --dataset_path='" +
                                     fivo_test::real_file(kJsb) + "' --logdir='" + dir.path + "'",
                                 &out);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("split train, num_sequences 229, dim 88, kind binary, min_len 25"),
              std::string::npos) << out;
    EXPECT_NE(out.find("total_timesteps 13807"), std::string::npos) << out;
    EXPECT_NE(out.find("split valid, num_sequences 76"), std::string::npos) << out;
    EXPECT_NE(out.find("split test, num_sequences 77"), std::string::npos) << out;
}

TEST(Pianoroll, HostInspectMode)
{
    fivo_test::TempDir dir;
    std::string out;
    int rc = fivo_test::run_host("--mode=inspect --dataset_type=pianoroll --dataset_path='" +
                                     jsb_like() + "' --logdir='" + dir.path + "'",
                                 &out);
    ASSERT_EQ(rc, 0) << out;
    int min_len = 1 << 30;
    for (int q = 0; q < fixture_jsb_count(FIXTURE_TRAIN); q++)
        min_len = std::min(min_len, fixture_jsb_length(FIXTURE_TRAIN, q));
    EXPECT_NE(out.find("split train, num_sequences " +
                       std::to_string(fixture_jsb_count(FIXTURE_TRAIN)) +
                       ", dim 88, kind binary, min_len " + std::to_string(min_len)),
              std::string::npos) << out;
    EXPECT_NE(out.find("total_timesteps " + std::to_string(fixture_steps(FIXTURE_TRAIN))),
              std::string::npos) << out;
    EXPECT_NE(out.find("split valid, num_sequences 7"), std::string::npos) << out;
    EXPECT_NE(out.find("split test, num_sequences 5"), std::string::npos) << out;
    std::string jsonl = fivo_test::read_bytes(dir / "metrics.jsonl");
    EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 3) << jsonl;
    // --split picks one split; a missing one is then an error.
    rc = fivo_test::run_host("--mode=inspect --dataset_path='" + tiny() +
                                 "' --split=valid --logdir='" + dir.path + "'",
                             &out);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("no split 'valid'"), std::string::npos) << out;
    // A hostile pickle is refused by the host with the file and offset.
    std::string bad = dir / "evil.pkl";
    fivo_test::write_bytes(bad, "cos\nsystem\n(S'true'\ntR.");
    rc = fivo_test::run_host("--mode=inspect --dataset_path='" + bad + "' --logdir='" + dir.path +
                                 "'",
                             &out);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("disallowed global 'os.system'"), std::string::npos) << out;
    EXPECT_NE(out.find("offset 0"), std::string::npos) << out;
}
