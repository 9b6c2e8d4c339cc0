// The pianoroll dataset on the shared JSB chorales pickle and the tiny
// protocol-0 pickle: counts, notes, the train mean, batch layout (shifted,
// centred, zero past each length) and seeded shuffling.
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
const char *kTiny = "tiny_pianoroll.pkl";

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
    FIVO_REQUIRE_SHARED(kJsb);
    std::string path = fivo_test::shared_data(kJsb);
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
}

TEST(Pianoroll, JsbMeanIsTrainNoteFrequency)
{
    FIVO_REQUIRE_SHARED(kJsb);
    Split train(vt(), nullptr, fivo_test::shared_data(kJsb), "train");
    ASSERT_EQ(train.status, FIVO_OK) << train.err.message;
    auto seqs = read_all(train);
    ASSERT_EQ(seqs.size(), 229u);
    std::vector<double> count(88, 0.0);
    int64_t frames = 0, notes = 0;
    for (auto &s : seqs)
        for (auto &f : s) {
            frames++;
            for (int j = 0; j < 88; j++) {
                EXPECT_TRUE(f[j] == 0.0f || f[j] == 1.0f);
                count[j] += f[j];
                notes += f[j] != 0.0f;
            }
        }
    EXPECT_EQ(frames, 13807);
    EXPECT_GT(notes, 3 * frames); // four-part chorales
    // The pickle has no train_mean: the plugin computes it from train.
    fivo_dataset_info in = train.info();
    ASSERT_NE(in.mean, nullptr);
    for (int j = 0; j < 88; j++)
        EXPECT_EQ(in.mean[j], count[j] / 13807.0) << j;
    // Valid and test use the same (train) mean.
    Split valid(vt(), nullptr, fivo_test::shared_data(kJsb), "valid");
    ASSERT_EQ(valid.status, FIVO_OK);
    for (int j = 0; j < 88; j++)
        EXPECT_EQ(valid.info().mean[j], in.mean[j]);
}

TEST(Pianoroll, JsbBatchLayout)
{
    FIVO_REQUIRE_SHARED(kJsb);
    Split s(vt(), nullptr, fivo_test::shared_data(kJsb), "valid");
    ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
    const double *mean = s.info().mean;
    fivo_batch b{};
    fivo_error e{};
    ASSERT_EQ(vt()->batch(s.self, 5, false, 0, 3, &b, &e), FIVO_OK) << e.message;
    ASSERT_EQ(b.batch_size, 5);
    int T = 0;
    for (int i = 0; i < 5; i++)
        T = std::max(T, (int)b.lengths[i]);
    ASSERT_EQ(b.max_len, T);
    for (int i = 0; i < 5; i++) {
        EXPECT_EQ(b.seq_ids[i], 15 + i);
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
    // One pass: 76 sequences in batches of 5 -> 16 batches, the last has 1.
    ASSERT_EQ(vt()->batch(s.self, 5, false, 0, 15, &b, &e), FIVO_OK);
    EXPECT_EQ(b.batch_size, 1);
    EXPECT_EQ(b.seq_ids[0], 75);
    EXPECT_EQ(vt()->batch(s.self, 5, false, 0, 16, &b, &e), FIVO_END);
}

TEST(Pianoroll, ShuffleIsSeededRepeatingAndPure)
{
    FIVO_REQUIRE_SHARED(kJsb);
    Split s(vt(), nullptr, fivo_test::shared_data(kJsb), "train");
    ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
    const int B = 10, N = 229;
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
    // Pure in (seed, index): batch 37 alone, in another instance, is the same.
    Split s2(vt(), nullptr, fivo_test::shared_data(kJsb), "train");
    ASSERT_EQ(vt()->batch(s2.self, B, true, 42, 37, &b, &e), FIVO_OK);
    for (int i = 0; i < B; i++)
        EXPECT_EQ(b.seq_ids[i], order[37 * B + i]);
    // Targets match the file-order reading of the same sequence.
    auto all = read_all(s2);
    ASSERT_EQ(vt()->batch(s2.self, B, true, 42, 37, &b, &e), FIVO_OK);
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

TEST(Pianoroll, TinyProtocol0StoredMean)
{
    FIVO_REQUIRE_SHARED(kTiny);
    std::string path = fivo_test::shared_data(kTiny);
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
