// libfivo's prefix sampling in process (fivo/sample_prefix.h): the prefixes
// are the batch's first steps, the samples are finite and repeat their bits
// for a seed, and a one-particle bound (ELBO) is tiled up to N particles.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "vrnn_unit.h"

extern "C" {
#include <fivo/sample_prefix.h>
}

namespace {

struct Sampled {
    fivo_status st = FIVO_OK;
    std::vector<float> prefixes, samples;
};

// P = 3 prefix steps, L = 4 sampled steps, N = 3 particles of a batch of 2.
Sampled sample(fivo_test::VrnnData &d, const char *bound, const fivo_batch &full, uint64_t seed)
{
    const int P = 3, L = 4, N = 3;
    fivo_error err{};
    fivo_test::Unit u(d.r.reg, d.config.cfg, &d.spec, &err, bound);
    EXPECT_TRUE(u.ok) << err.message;
    Sampled out;
    size_t step = (size_t)full.batch_size * (size_t)full.dim;
    out.prefixes.assign((size_t)P * step, -1.0f);
    out.samples.assign((size_t)L * (size_t)N * step, -1.0f);
    fivo_sample_setup s = {&u.model, &u.bound, &u.resampler, u.ctx, seed, N};
    out.st = fivo_sample_prefix(&s, &full, P, L, out.prefixes.data(), out.samples.data(), &err);
    EXPECT_EQ(out.st, FIVO_OK) << err.message;
    return out;
}

} // namespace

TEST(SamplePrefix, PrefixesAreTheBatchAndSamplesRepeat)
{
    fivo_test::VrnnData d;
    ASSERT_TRUE(d.have_ds);
    fivo_batch full{};
    fivo_error err{};
    ASSERT_EQ(fivo_dataset_read_batch(&d.ds, 2, true, 5, 0, &full, &err), FIVO_OK) << err.message;
    for (const char *bound : {"fivo", "elbo"}) {
        Sampled a = sample(d, bound, full, 9);
        ASSERT_EQ(a.st, FIVO_OK) << bound;
        size_t step = (size_t)full.batch_size * (size_t)full.dim;
        for (int t = 0; t < 3; t++)
            for (size_t k = 0; k < step; k++) {
                float want = t < full.max_len ? full.targets[t * step + k] : 0.0f;
                EXPECT_EQ(a.prefixes[t * step + k], want) << bound << " step " << t;
            }
        for (float v : a.samples)
            EXPECT_TRUE(std::isfinite(v) && v != -1.0f) << bound << ": sample " << v;
        Sampled b = sample(d, bound, full, 9);
        EXPECT_EQ(std::memcmp(a.samples.data(), b.samples.data(), sizeof(float) * a.samples.size()),
                  0)
            << bound;
        EXPECT_NE(a.samples, sample(d, bound, full, 10).samples) << bound << ": the seed matters";
    }
}
