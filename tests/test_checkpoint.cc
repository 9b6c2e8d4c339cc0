// Checkpoint files: exact round trip of parameters, Adam state and counters;
// truncated or corrupted files are refused with a message naming the file,
// and restore_latest falls back to the previous checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <fivo/internal/checkpoint.h>
#include <fivo/fivo.h>
#include <fivo/internal/npz.h>
#include <fivo/internal/optim.h>

namespace {

std::string temp_dir()
{
    char tmpl[] = "/tmp/fivo_ckpt_XXXXXX";
    const char *d = mkdtemp(tmpl);
    return d ? d : "/tmp";
}

struct Model {
    fivo_params *p = nullptr;
    fivo_adam *adam = nullptr;
    explicit Model(uint64_t seed, int rows = 3)
    {
        p = fivo_params_new(seed);
        fivo_error err{};
        fivo_params_add(p, "m/fc1/w", rows, 4, FIVO_INIT_XAVIER_UNIFORM, &err);
        fivo_params_add(p, "m/fc1/b", 1, 4, FIVO_INIT_ZEROS, &err);
        fivo_adam_options o;
        fivo_adam_options_default(&o);
        o.learning_rate = 0.01;
        adam = fivo_adam_new(p, &o);
    }
    ~Model()
    {
        fivo_adam_free(adam);
        fivo_params_free(p);
    }
    // A few Adam steps with made-up gradients so the moments are non-zero.
    void train(int steps)
    {
        for (int s = 0; s < steps; s++) {
            for (int i = 0; i < fivo_params_count(p); i++) {
                fivo_tensor *t = fivo_params_at(p, i, nullptr);
                for (size_t k = 0; k < fivo_tensor_size(t); k++)
                    t->grad[k] = std::sin(0.3f * (float)k + (float)s) + 0.1f * (float)i;
            }
            fivo_error err{};
            ASSERT_EQ(fivo_adam_step(adam, nullptr, &err), FIVO_OK) << err.message;
        }
    }
};

bool same_bits(const float *a, const float *b, size_t n) { return std::memcmp(a, b, n * 4) == 0; }

void expect_equal_models(Model &a, Model &b)
{
    ASSERT_EQ(fivo_params_count(a.p), fivo_params_count(b.p));
    for (int i = 0; i < fivo_params_count(a.p); i++) {
        fivo_tensor *x = fivo_params_at(a.p, i, nullptr), *y = fivo_params_at(b.p, i, nullptr);
        size_t n = fivo_tensor_size(x);
        EXPECT_TRUE(same_bits(x->data, y->data, n)) << "param " << i;
        EXPECT_TRUE(same_bits(fivo_adam_moment(a.adam, i, 0), fivo_adam_moment(b.adam, i, 0), n));
        EXPECT_TRUE(same_bits(fivo_adam_moment(a.adam, i, 1), fivo_adam_moment(b.adam, i, 1), n));
    }
    EXPECT_EQ(fivo_adam_get_step(a.adam), fivo_adam_get_step(b.adam));
}

long file_size(const std::string &path)
{
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        return -1;
    std::fseek(f, 0, SEEK_END);
    long n = std::ftell(f);
    std::fclose(f);
    return n;
}

TEST(Checkpoint, RoundTripIsBitExact)
{
    std::string dir = temp_dir();
    Model a(1);
    a.train(3);
    fivo_checkpoint_meta meta{};
    meta.step = 3;
    meta.seed = 77;
    meta.best_bound = -5.25;
    fivo_error err{};
    std::string path = dir + "/one.fivo";
    ASSERT_EQ(fivo_checkpoint_save(path.c_str(), a.p, a.adam, &meta, &err), FIVO_OK)
        << err.message;
    Model b(2); // different initial values
    fivo_checkpoint_meta got{};
    ASSERT_EQ(fivo_checkpoint_load(path.c_str(), b.p, b.adam, &got, &err), FIVO_OK) << err.message;
    expect_equal_models(a, b);
    EXPECT_EQ(got.step, 3u);
    EXPECT_EQ(got.seed, 77u);
    EXPECT_EQ(got.adam_step, 3u);
    EXPECT_EQ(got.best_bound, -5.25);
    // Training both further gives the same numbers: the Adam state is complete.
    a.train(2);
    b.train(2);
    expect_equal_models(a, b);
    // No temp files are left behind.
    EXPECT_EQ(file_size(path + ".tmp"), -1);
}

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

uint32_t u32_at(const std::string &b, size_t off)
{
    uint32_t v = 0;
    for (int k = 3; k >= 0; k--)
        v = (v << 8) | (unsigned char)b[off + (size_t)k];
    return v;
}

// The training layout (global batch, shards) is stored in full: past 2047
// shards it was packed into 11 bits as 0, and a resume warned of a changed
// layout. Layouts that fit version 1 keep its bytes (older fivo reads them).
TEST(Checkpoint, LayoutIsStoredInFull)
{
    std::string dir = temp_dir();
    Model a(1);
    const struct {
        int batch, shards;
        uint32_t version;
    } cases[] = {{8, 4, 1},      {0xFFFFF, 2047, 1},     {4096, 2048, 2},
                 {100000, 4000, 2}, {(1 << 20) + 6, 2, 2}, {2000000000, 1000000000, 2}};
    for (const auto &c : cases) {
        fivo_checkpoint_meta meta{};
        meta.step = 1;
        meta.flags = fivo_checkpoint_layout(c.batch, c.shards);
        int b = 0, sh = 0;
        ASSERT_TRUE(fivo_checkpoint_layout_get(meta.flags, &b, &sh)) << c.batch << "/" << c.shards;
        EXPECT_EQ(b, c.batch);
        EXPECT_EQ(sh, c.shards);
        fivo_error err{};
        std::string path = dir + "/layout.fivo";
        ASSERT_EQ(fivo_checkpoint_save(path.c_str(), a.p, a.adam, &meta, &err), FIVO_OK)
            << err.message;
        std::string bytes = slurp(path);
        EXPECT_EQ(u32_at(bytes, 8), c.version) << c.batch << "/" << c.shards;
        if (c.version == 1) { // the version-1 packing, as before
            EXPECT_EQ(u32_at(bytes, 48),
                      0x80000000u | (uint32_t)c.batch | ((uint32_t)c.shards << 20));
        }
        fivo_checkpoint_meta got{};
        ASSERT_EQ(fivo_checkpoint_verify(path.c_str(), &got, &err), FIVO_OK) << err.message;
        b = sh = 0;
        ASSERT_TRUE(fivo_checkpoint_layout_get(got.flags, &b, &sh));
        EXPECT_EQ(b, c.batch) << "version " << c.version;
        EXPECT_EQ(sh, c.shards) << "version " << c.version;
        Model m(2);
        ASSERT_EQ(fivo_checkpoint_load(path.c_str(), m.p, m.adam, &got, &err), FIVO_OK)
            << err.message;
        expect_equal_models(a, m);
        EXPECT_EQ(got.flags, meta.flags);
    }
    // One shard: no layout, flags 0, version 1.
    EXPECT_EQ(fivo_checkpoint_layout(64, 1), 0u);
    // A version this fivo does not know is refused, naming the versions it reads.
    fivo_checkpoint_meta meta{};
    fivo_error err{};
    std::string path = dir + "/v9.fivo";
    ASSERT_EQ(fivo_checkpoint_save(path.c_str(), a.p, nullptr, &meta, &err), FIVO_OK);
    std::string bytes = slurp(path);
    bytes[8] = 9;
    std::ofstream(path, std::ios::binary) << bytes;
    EXPECT_EQ(fivo_checkpoint_verify(path.c_str(), nullptr, &err), FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(err.message).find("version 9, this fivo reads versions 1 to 2"),
              std::string::npos)
        << err.message;
}

TEST(Checkpoint, KeepsTheLastK)
{
    std::string dir = temp_dir();
    Model a(1);
    fivo_error err{};
    for (uint64_t s = 10; s <= 50; s += 10) {
        fivo_checkpoint_meta meta{};
        meta.step = s;
        ASSERT_EQ(fivo_checkpoint_save_numbered(dir.c_str(), a.p, a.adam, &meta, 3, nullptr, &err),
                  FIVO_OK)
            << err.message;
    }
    uint64_t steps[10];
    ASSERT_EQ(fivo_checkpoint_list(dir.c_str(), steps, 10), 3);
    EXPECT_EQ(steps[0], 50u);
    EXPECT_EQ(steps[1], 40u);
    EXPECT_EQ(steps[2], 30u);
}

// Writes checkpoints at steps 10 (params of a) and 20 (params of c), then
// damages step 20 with `damage`; restore must refuse it and use step 10.
void check_fallback(void (*damage)(const std::string &), const char *expect_in_message)
{
    std::string dir = temp_dir();
    Model a(1), c(3);
    a.train(1);
    c.train(4);
    fivo_error err{};
    fivo_checkpoint_meta meta{};
    meta.step = 10;
    ASSERT_EQ(fivo_checkpoint_save_numbered(dir.c_str(), a.p, a.adam, &meta, 5, nullptr, &err),
              FIVO_OK);
    meta.step = 20;
    char *newest = nullptr;
    ASSERT_EQ(fivo_checkpoint_save_numbered(dir.c_str(), c.p, c.adam, &meta, 5, &newest, &err),
              FIVO_OK);
    std::string newest_path = newest;
    free(newest);
    damage(newest_path);

    Model b(2);
    fivo_error lerr{};
    EXPECT_EQ(fivo_checkpoint_load(newest_path.c_str(), b.p, b.adam, nullptr, &lerr),
              FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(lerr.message).find(newest_path), std::string::npos) << lerr.message;
    EXPECT_NE(std::string(lerr.message).find(expect_in_message), std::string::npos)
        << lerr.message;

    fivo_checkpoint_meta got{};
    char *used = nullptr;
    ASSERT_EQ(fivo_checkpoint_restore_latest(dir.c_str(), b.p, b.adam, &got, &used, &err), FIVO_OK)
        << err.message;
    EXPECT_EQ(got.step, 10u);
    EXPECT_NE(std::string(used).find("ckpt-000000000010.fivo"), std::string::npos) << used;
    free(used);
    expect_equal_models(a, b);
}

void truncate_half(const std::string &path)
{
    long n = file_size(path);
    ASSERT_EQ(truncate(path.c_str(), n / 2), 0);
}

void flip_a_byte(const std::string &path)
{
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(120);
    char c;
    f.read(&c, 1);
    c ^= 0x40;
    f.seekp(120);
    f.write(&c, 1);
}

void empty_file(const std::string &path) { ASSERT_EQ(truncate(path.c_str(), 0), 0); }

TEST(Checkpoint, TruncatedFileIsRefusedAndThePreviousUsed)
{
    check_fallback(truncate_half, "truncated");
}

TEST(Checkpoint, CorruptedFileIsRefusedAndThePreviousUsed)
{
    check_fallback(flip_a_byte, "checksum");
}

TEST(Checkpoint, EmptyFileIsRefused) { check_fallback(empty_file, "not a fivo checkpoint"); }

TEST(Checkpoint, ShapeMismatchNamesTheParameterAndChangesNothing)
{
    std::string dir = temp_dir();
    Model a(1, 3), b(2, 5);
    fivo_error err{};
    std::string path = dir + "/x.fivo";
    ASSERT_EQ(fivo_checkpoint_save(path.c_str(), a.p, a.adam, nullptr, &err), FIVO_OK);
    fivo_tensor *w = fivo_params_at(b.p, 0, nullptr);
    std::vector<float> before(w->data, w->data + fivo_tensor_size(w));
    EXPECT_EQ(fivo_checkpoint_load(path.c_str(), b.p, b.adam, nullptr, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("m/fc1/w"), std::string::npos) << err.message;
    EXPECT_TRUE(same_bits(before.data(), w->data, before.size()));
}

TEST(Checkpoint, EmptyFolderIsNotFound)
{
    std::string dir = temp_dir();
    Model b(2);
    fivo_error err{};
    EXPECT_EQ(fivo_checkpoint_restore_latest(dir.c_str(), b.p, b.adam, nullptr, nullptr, &err),
              FIVO_ERR_NOT_FOUND);
}

} // namespace
