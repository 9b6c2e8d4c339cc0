// Shared by the cross-checks against independent numpy re-implementations
// (test_xcheck_vrnn, test_xcheck_srnn): metrics.jsonl reading, the dump of
// every eval batch with the exact eps the eval pass draws (format read by
// tests/xcheck_vrnn.py's read_dump); the scripts run through py_runner.h.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dataset_test_util.h"
#include "py_runner.h"

extern "C" {
#include <fivo/rng.h>
#include <fivo/tensor.h>
}

namespace xck {

const uint64_t kXcheckEvalStepBase = UINT64_C(1) << 62; // core/inference/eval_loop.c

// The number after "key": in a one-line JSON object (NaN when absent).
inline double json_number(const std::string &line, const std::string &key)
{
    std::string pat = "\"" + key + "\":";
    size_t at = line.find(pat);
    if (at == std::string::npos)
        return NAN;
    return std::strtod(line.c_str() + at + pat.size(), nullptr);
}

inline std::string last_line(const std::string &path)
{
    std::ifstream f(path);
    std::string line, last;
    while (std::getline(f, line))
        if (!line.empty())
            last = line;
    return last;
}

template <typename T> inline void put(std::string &out, const T *p, size_t n)
{
    out.append(reinterpret_cast<const char *>(p), sizeof(T) * n);
}

// Every batch of the train split in eval order, with the eval pass's eps.
// Returns the number of batches (-1 on failure).
inline int dump_batches(const std::string &path, std::string *out, const char *data, int batch_size,
                        uint64_t seed, int latent)
{
    const fivo_dataset_vtable *vt = fivo_test::dataset_vtable("pianoroll");
    if (vt == nullptr)
        return -1;
    fivo_test::Split split(vt, nullptr, fivo_test::fixture(data), "train");
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
        fivo_status st = vt->batch(split.self, batch_size, false, seed, index, &b, &e);
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
        fivo_ctx_set_seed(ctx, seed, kXcheckEvalStepBase + index);
        std::vector<float> eps((size_t)T * B * latent);
        for (int t = 0; t < T; t++) {
            fivo_rng r = fivo_ctx_rng(ctx, FIVO_RNG_PROPOSAL, (uint32_t)t);
            for (int p = 0; p < N; p++)
                for (int i = 0; i < B; i++) {
                    uint32_t key = b.seq_ids != nullptr
                                       ? (uint32_t)b.seq_ids[i] * (uint32_t)N + (uint32_t)p
                                       : (uint32_t)(p * B + i);
                    fivo_rng_normal(&r, key, eps.data() + ((size_t)t * B + i) * latent, latent);
                }
        }
        put(body, eps.data(), eps.size());
        n++;
    }
    fivo_ctx_free(ctx);
    int32_t head[2] = {n, latent};
    out->assign("FXCK", 4);
    put(*out, head, 2);
    out->append(body);
    fivo_test::write_bytes(path, *out);
    return n;
}

} // namespace xck
