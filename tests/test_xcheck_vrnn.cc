// The VRNN's ELBO against an independent numpy re-implementation
// (tests/xcheck_vrnn.py, written from the reference's semantics): a tiny
// VRNN is trained a few steps with the host, evaluated with the host (elbo,
// 1 particle, train split), and the python script recomputes the same
// per-sequence bound from the checkpoint. The script cannot draw fivo's
// Philox noise, so this test dumps every eval batch and the exact eps the
// eval pass draws (same seed, global step 2^62 + batch, row key
// seq_id * N + p, purpose FIVO_RNG_PROPOSAL, stream t, Z values a row).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <glib.h>
#include <gtest/gtest.h>

#include "dataset_test_util.h"

extern "C" {
#include <fivo/rng.h>
#include <fivo/tensor.h>
}

namespace {

const char *kTiny = FIXTURE_TINY_PIANOROLL;
const int kLatent = 8;
const int kBatch = 4;
const uint64_t kSeed = 11;
const uint64_t kEvalStepBase = UINT64_C(1) << 62; // host/evaluate.c

// The number after "key": in a one-line JSON object (NaN when absent).
double json_number(const std::string &line, const std::string &key)
{
    std::string pat = "\"" + key + "\":";
    size_t at = line.find(pat);
    if (at == std::string::npos)
        return NAN;
    return std::strtod(line.c_str() + at + pat.size(), nullptr);
}

std::string last_line(const std::string &path)
{
    std::ifstream f(path);
    std::string line, last;
    while (std::getline(f, line))
        if (!line.empty())
            last = line;
    return last;
}

template <typename T> void put(std::string &out, const T *p, size_t n)
{
    out.append(reinterpret_cast<const char *>(p), sizeof(T) * n);
}

// Every batch of the train split in eval order, with the eval pass's eps.
// Returns the number of batches (-1 on failure).
int dump_batches(const std::string &path, std::string *out)
{
    const fivo_dataset_vtable *vt = fivo_test::dataset_vtable("pianoroll");
    if (vt == nullptr)
        return -1;
    fivo_test::Split split(vt, nullptr, fivo_test::fixture(kTiny), "train");
    EXPECT_EQ(split.status, FIVO_OK) << split.err.message;
    if (split.status != FIVO_OK)
        return -1;
    fivo_ctx *ctx = fivo_ctx_new(0, 0);
    EXPECT_NE(ctx, nullptr);
    if (ctx == nullptr)
        return -1;
    std::string body;
    int n = 0;
    for (uint64_t index = 0;; index++) {
        fivo_batch b{};
        fivo_error e{};
        fivo_status st = vt->batch(split.self, kBatch, false, kSeed, index, &b, &e);
        if (st == FIVO_END)
            break;
        EXPECT_EQ(st, FIVO_OK) << e.message;
        if (st != FIVO_OK) {
            n = -1;
            break;
        }
        const int T = b.max_len, B = b.batch_size, D = b.dim, N = 1;
        int32_t hdr[3] = {T, B, D};
        put(body, hdr, 3);
        put(body, b.lengths, (size_t)B);
        std::vector<int32_t> ids(B);
        for (int i = 0; i < B; i++)
            ids[i] = b.seq_ids != nullptr ? b.seq_ids[i] : i;
        put(body, ids.data(), (size_t)B);
        put(body, b.inputs, (size_t)T * B * D);
        put(body, b.targets, (size_t)T * B * D);
        // As eval_pass + fivo_smc_run + fivo_normal_res_q_sample draw them.
        fivo_ctx_set_seed(ctx, kSeed, kEvalStepBase + index);
        std::vector<float> eps((size_t)T * B * kLatent);
        for (int t = 0; t < T; t++) {
            fivo_rng r = fivo_ctx_rng(ctx, FIVO_RNG_PROPOSAL, (uint32_t)t);
            for (int p = 0; p < N; p++)
                for (int i = 0; i < B; i++) {
                    uint32_t key = b.seq_ids != nullptr
                                       ? (uint32_t)b.seq_ids[i] * (uint32_t)N + (uint32_t)p
                                       : (uint32_t)(p * B + i);
                    fivo_rng_normal(&r, key, eps.data() + ((size_t)t * B + i) * kLatent, kLatent);
                }
        }
        put(body, eps.data(), eps.size());
        n++;
    }
    fivo_ctx_free(ctx);
    int32_t head[2] = {n, kLatent};
    out->assign("FXCK", 4);
    put(*out, head, 2);
    out->append(body);
    fivo_test::write_bytes(path, *out);
    return n;
}

} // namespace

TEST(XcheckVrnn, ElboMatchesNumpyReimplementation)
{
    fivo_test::TempDir dir;
    ASSERT_FALSE(dir.path.empty());
    const std::string data = fivo_test::fixture(kTiny);
    const std::string common = "--model=vrnn --bound=elbo --dataset_path='" + data +
                               "' --latent_size=" + std::to_string(kLatent) +
                               " --batch_size=" + std::to_string(kBatch) +
                               " --random_seed=" + std::to_string(kSeed) + " --logdir='" +
                               dir.path + "'";
    std::string log;
    ASSERT_EQ(fivo_test::run_host("--mode=train --max_steps=5 " + common, &log), 0) << log;
    const std::string ckpt = dir.path + "/ckpt-000000000005.fivo";
    ASSERT_TRUE(fivo_test::exists(ckpt)) << log;
    ASSERT_EQ(fivo_test::run_host("--mode=eval --num_samples=1 --split=train " + common, &log), 0)
        << log;
    std::string line = last_line(dir.path + "/metrics.jsonl");
    ASSERT_NE(line.find("\"mode\":\"eval\""), std::string::npos) << line;
    double c_per_seq = json_number(line, "elbo_ll_per_seq");
    double c_per_t = json_number(line, "elbo_ll_per_t");
    ASSERT_TRUE(std::isfinite(c_per_seq)) << line;

    std::string dump;
    const std::string dump_path = dir.path + "/batches.bin";
    int nb = dump_batches(dump_path, &dump);
    ASSERT_GT(nb, 0);

    std::vector<std::string> py = {"/usr/bin/python3",
                                   std::string(FIVO_TEST_SOURCE_DIR) + "/tests/xcheck_vrnn.py",
                                   ckpt, dump_path};
    std::vector<char *> argv;
    for (auto &s : py)
        argv.push_back(const_cast<char *>(s.c_str()));
    argv.push_back(nullptr);
    gchar *out = nullptr, *err = nullptr;
    gint wait = 0;
    GError *gerr = nullptr;
    ASSERT_TRUE(g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_DEFAULT, nullptr, nullptr,
                             &out, &err, &wait, &gerr))
        << (gerr ? gerr->message : "");
    std::string pout = out ? out : "", perr = err ? err : "";
    g_free(out);
    g_free(err);
    ASSERT_TRUE(WIFEXITED(wait) && WEXITSTATUS(wait) == 0) << perr;

    double py_sum = json_number(pout, "sum");
    double py_seqs = json_number(pout, "sequences");
    double py_steps = json_number(pout, "timesteps");
    ASSERT_TRUE(std::isfinite(py_sum) && py_seqs > 0 && py_steps > 0) << pout;
    double py_per_seq = py_sum / py_seqs, py_per_t = py_sum / py_steps;
    double rel = std::fabs(c_per_seq - py_per_seq) / std::fabs(py_per_seq);
    std::printf("xcheck vrnn: %d batches, %g sequences; elbo ll/seq fivo %.10f numpy %.10f "
                "(rel diff %.3g); ll/t fivo %.10f numpy %.10f\n",
                nb, py_seqs, c_per_seq, py_per_seq, rel, c_per_t, py_per_t);
    // float32 model arithmetic against float64: ~1e-6 relative expected.
    EXPECT_LT(rel, 1e-5) << "fivo " << c_per_seq << " numpy " << py_per_seq;
    EXPECT_LT(std::fabs(c_per_t - py_per_t) / std::fabs(py_per_t), 1e-5);
}
