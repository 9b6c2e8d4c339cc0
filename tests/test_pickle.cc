// The pianoroll plugin's safe pickle reader: every protocol CPython writes
// for these files (0, 2, 3, 4; numpy 1 and numpy 2 module names) gives the
// same data, and malformed or hostile pickles fail cleanly, naming the file
// and the byte offset, without executing anything.
#include <cmath>
#include <string>

#include "dataset_test_util.h"
#include "pickle_fixtures.h"

using fivo_test::Split;
using fivo_test::TempDir;

namespace {

const fivo_dataset_vtable *vt()
{
    static const fivo_dataset_vtable *v = fivo_test::dataset_vtable("pianoroll");
    return v;
}

struct Case {
    const char *name;
    const std::string *bytes;
    bool has_mean;
};

// Frame t of sequence `seq` in a batch read in file order with one sequence per batch.
std::vector<float> target_frame(const fivo_batch &b, int t)
{
    const float *x = fivo_batch_at(b.targets, &b, t, 0);
    return std::vector<float>(x, x + b.dim);
}

void check_fixture(const Case &c)
{
    SCOPED_TRACE(c.name);
    TempDir dir;
    std::string path = dir / (std::string(c.name) + ".pkl");
    fivo_test::write_bytes(path, *c.bytes);

    Split train(vt(), nullptr, path, "train");
    ASSERT_EQ(train.status, FIVO_OK) << train.err.message;
    fivo_dataset_info in = train.info();
    EXPECT_EQ(in.dim, 88);
    EXPECT_EQ(in.num_sequences, 2);
    EXPECT_EQ(in.total_timesteps, 5);
    EXPECT_EQ(in.min_len, 2);
    EXPECT_EQ(in.max_len, 3);
    ASSERT_NE(in.mean, nullptr);
    for (int j = 0; j < 88; j++) {
        double want;
        if (c.has_mean) {
            want = (double)j / 100.0 + 1.0 / 3.0; // stored f8, read exactly
        } else { // note frequency over the 5 train frames
            int note = j + 21;
            int count = (note == 60) + (note == 64) + (note == 62) + (note == 21) +
                        (note == 108) + (note == 70);
            want = count / 5.0;
        }
        EXPECT_EQ(in.mean[j], want) << "mean[" << j << "]";
    }

    fivo_batch b{};
    fivo_error e{};
    ASSERT_EQ(vt()->batch(train.self, 1, false, 0, 0, &b, &e), FIVO_OK) << e.message;
    ASSERT_EQ(b.max_len, 2);
    std::vector<float> f0 = target_frame(b, 0), f1 = target_frame(b, 1);
    for (int j = 0; j < 88; j++) {
        EXPECT_EQ(f0[j], (j == 60 - 21 || j == 64 - 21) ? 1.0f : 0.0f);
        EXPECT_EQ(f1[j], j == 62 - 21 ? 1.0f : 0.0f);
    }
    ASSERT_EQ(vt()->batch(train.self, 1, false, 0, 1, &b, &e), FIVO_OK) << e.message;
    ASSERT_EQ(b.max_len, 3);
    f0 = target_frame(b, 0);
    EXPECT_EQ(f0[0], 1.0f);
    EXPECT_EQ(f0[87], 1.0f);
    for (int j = 0; j < 88; j++)
        EXPECT_EQ(target_frame(b, 1)[j], 0.0f);
    EXPECT_EQ(target_frame(b, 2)[70 - 21], 1.0f);

    Split valid(vt(), nullptr, path, "valid");
    ASSERT_EQ(valid.status, FIVO_OK) << valid.err.message;
    EXPECT_EQ(valid.info().num_sequences, 1);
    Split test(vt(), nullptr, path, "test");
    ASSERT_EQ(test.status, FIVO_OK) << test.err.message;
    EXPECT_EQ(test.info().total_timesteps, 2);
    ASSERT_EQ(vt()->batch(test.self, 4, false, 0, 0, &b, &e), FIVO_OK) << e.message;
    EXPECT_EQ(target_frame(b, 1)[101 - 21], 1.0f);
}

} // namespace

TEST(Pickle, Protocol0) { check_fixture({"p0", &k_p0, true}); }
TEST(Pickle, Protocol2) { check_fixture({"p2", &k_p2, true}); }
TEST(Pickle, Protocol3WithoutMean) { check_fixture({"p3nomean", &k_p3nomean, false}); }
TEST(Pickle, Protocol4) { check_fixture({"p4", &k_p4, true}); }
TEST(Pickle, Numpy2ModuleNames) { check_fixture({"p2np2", &k_p2np2, false}); }

namespace {

// Opens `bytes` as a pickle and expects an error mentioning every `needle`.
void expect_bad(const std::string &bytes, std::vector<std::string> needles)
{
    TempDir dir;
    std::string path = dir / "bad.pkl";
    fivo_test::write_bytes(path, bytes);
    Split s(vt(), nullptr, path, "train");
    ASSERT_NE(s.status, FIVO_OK);
    EXPECT_EQ(s.self, nullptr);
    std::string msg = s.err.message;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const auto &n : needles)
        EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
}

} // namespace

TEST(PickleBad, Truncated)
{
    for (size_t cut : {k_p2.size() - 1, k_p2.size() / 2, (size_t)3, (size_t)1}) {
        SCOPED_TRACE(cut);
        expect_bad(k_p2.substr(0, cut), {"truncated"});
    }
    // Cut inside a length-prefixed string: offset of the opcode is named.
    expect_bad(std::string("\x80\x02X\x10\x00\x00\x00" "abc", 10), {"offset 2", "truncated"});
}

TEST(PickleBad, UnknownOpcode)
{
    expect_bad(std::string("\x80\x02}q\x00\xff" ".", 7), {"offset 5", "opcode 0xff"});
    // PERSID is a real opcode outside the supported subset.
    expect_bad("P1\n.", {"offset 0", "unsupported"});
}

TEST(PickleBad, DisallowedGlobal)
{
    expect_bad("cos\nsystem\n(S'touch pwned'\ntR.", {"offset 0", "disallowed global 'os.system'"});
    expect_bad("cbuiltins\neval\n.", {"disallowed global 'builtins.eval'"});
    // STACK_GLOBAL (protocol 4) goes through the same allowlist.
    expect_bad(std::string("\x80\x04\x8c\x02os\x8c\x06system\x93.", 15),
               {"disallowed global 'os.system'"});
    // A permitted global applied to the wrong thing is rejected too.
    expect_bad("cnumpy\nndarray\n)R.", {"numpy.ndarray called directly"});
}

TEST(PickleBad, DeepNesting)
{
    std::string marks(100, '(');
    expect_bad(marks + ".", {"nesting deeper"});
    std::string tuples = std::string("\x80\x02K\x00", 4) + std::string(100, '\x85') + ".";
    expect_bad(tuples, {"nesting deeper"});
    std::string lists = "\x80\x02" + std::string(100, ']') + std::string(99, 'a') + ".";
    expect_bad(lists, {"nesting deeper"});
}

TEST(PickleBad, StackAndMemoMisuse)
{
    expect_bad("a.", {"offset 0", "stack underflow"});
    expect_bad(std::string("\x80\x02h\x05.", 5), {"memo key 5"});
    expect_bad("N.N.", {}); // garbage after STOP is ignored, but N is no dict
    expect_bad("NN.", {"expected exactly one value"});
    expect_bad(std::string("\x80\x09N.", 4), {"protocol 9"});
}

TEST(PickleBad, WrongStructure)
{
    expect_bad("(dp0\nS'train'\np1\nI5\ns.", {"split 'train'", "int"});
    expect_bad("(dp0\nS'train'\n((I200\ntttls.", {});
    expect_bad("(dp0\nS'train'\n(((I200\ntlls.", {"note 200 outside 21..108"});
    expect_bad("(dp0\nS'valid'\n(ls.", {"no split 'train'"});
}
