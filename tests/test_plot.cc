// fivo plot: curves.png and samples.png decoded by an independent PNG reader
// (tests/read_png.py: zlib and the PNG filters, no imaging library); the
// drawn content follows the data: a rising bound is a rising curve, a held
// note is one horizontal bar at its pitch, the prefix boundary is marked.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>

extern "C" {
#include <fivo/internal/npz.h>
}

#include "host_runner.h"
#include "py_runner.h"

namespace {

using fivo_test::Result;
using fivo_test::run;

bool exists(const std::string &p)
{
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

#define NEED_CAIRO(r)                                                                        \
    if (fivo_test::has((r).err, "built without cairo"))                                      \
    GTEST_SKIP() << (r).err

} // namespace

TEST(Plot, CurvesFollowTheBoundsInMetrics)
{
    fivo_test::TempDir tmp;
    {
        std::ofstream f(tmp.path + "/metrics.jsonl");
        for (int step = 10; step <= 400; step += 10)
            f << "{\"mode\":\"train\",\"time\":1.5,\"step\":" << step
              << ",\"bound\":\"fivo\",\"bound_per_t\":" << (-8.0 + 0.01 * step)
              << ",\"steps_per_sec\":100}\n";
        for (int step = 100; step <= 400; step += 100)
            f << "{\"mode\":\"eval\",\"time\":2,\"step\":" << step
              << ",\"split\":\"valid\",\"bound\":\"fivo\",\"bound_mean\":" << (-7.0 + 0.001 * step)
              << ",\"elbo_ll_per_t\":" << (-7.5 + 0.001 * step) << "}\n";
        f << "{\"mode\":\"sample\",\"time\":3,\"file\":\"x\"}\n";
    }
    Result r = run({"plot", "--logdir=" + tmp.path});
    NEED_CAIRO(r);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(fivo_test::has(r.out, "curves.png (900x560, 3 curves)")) << r.out;
    EXPECT_TRUE(fivo_test::has(r.err, "no samples.png")) << r.err;
    FIVO_EXPECT_PY_OK(
        fivo_test::run_python("read_png.py", {"curves", tmp.path + "/curves.png", "900", "560"}));
}

TEST(Plot, SamplesShowHeldNotesAtTheirPitchAndTheBoundary)
{
    fivo_test::TempDir tmp;
    const int P = 3, L = 5, B = 1, N = 1, D = 88, hi = 60, lo = 10;
    std::vector<float> pre((size_t)P * B * D, 0.0f), smp((size_t)L * B * N * D, 0.0f);
    for (int t = 0; t < P; t++)
        pre[(size_t)t * D + hi] = 1.0f;
    for (int l = 0; l < L; l++)
        smp[(size_t)l * D + lo] = 1.0f;
    fivo_npz_array arrays[2] = {
        {.name = "prefixes", .ndim = 3, .shape = {P, B, D}, .data = pre.data()},
        {.name = "samples", .ndim = 4, .shape = {L, B, N, D}, .data = smp.data()},
    };
    fivo_error err{};
    ASSERT_EQ(fivo_npz_write((tmp.path + "/samples.npz").c_str(), arrays, 2, &err), FIVO_OK);
    Result r = run({"--mode=plot", "--logdir=" + tmp.path});
    NEED_CAIRO(r);
    ASSERT_EQ(r.status, 0) << r.err;
    // 8 frames: 8-pixel cells (capped), 88 keys: 3-pixel cells; one panel
    // plus margins (20 each side, 30 title, 18 label).
    EXPECT_TRUE(fivo_test::has(r.out, "samples.png (104x332")) << r.out;
    FIVO_EXPECT_PY_OK(fivo_test::run_python(
        "read_png.py", {"samples", tmp.path + "/samples.png", "104", "332", "3", "60", "10"}));
}

TEST(Plot, NothingToDrawIsAnError)
{
    fivo_test::TempDir tmp;
    Result r = run({"plot", "--logdir=" + tmp.path});
    NEED_CAIRO(r);
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(fivo_test::has(r.err, "nothing to draw")) << r.err;
}

TEST(Plot, GhmmRunGivesCurves)
{
    fivo_test::TempDir tmp;
    Result r = run({"--model=ghmm", "--max_steps=200", "--summarize_every=20",
                    "--eval_every=100", "--logdir=" + tmp.path});
    ASSERT_EQ(r.status, 0) << r.err;
    r = run({"plot", "--logdir=" + tmp.path});
    NEED_CAIRO(r);
    ASSERT_EQ(r.status, 0) << r.err;
    // train fivo, train exact, eval valid fivo, eval valid exact
    EXPECT_TRUE(fivo_test::has(r.out, "4 curves")) << r.out;
    EXPECT_TRUE(exists(tmp.path + "/curves.png"));
}
