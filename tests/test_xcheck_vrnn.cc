// The VRNN's ELBO against an independent numpy re-implementation
// (tests/xcheck_vrnn.py, written from the reference's semantics): a tiny
// VRNN is trained a few steps with the host, evaluated with the host (elbo,
// 1 particle, train split), and the python script recomputes the same
// per-sequence bound from the checkpoint. The script cannot draw fivo's
// Philox noise, so this test dumps every eval batch and the exact eps the
// eval pass draws (same seed, global step 2^62 + batch, row key
// seq_id * N + p, purpose FIVO_RNG_PROPOSAL, stream t, Z values a row).
#include "xcheck_util.h"

namespace {

const char *kTiny = FIXTURE_TINY_PIANOROLL;
const int kLatent = 8;
const int kBatch = 4;
const uint64_t kSeed = 11;

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
    std::string line = xck::last_line(dir.path + "/metrics.jsonl");
    ASSERT_NE(line.find("\"mode\":\"eval\""), std::string::npos) << line;
    double c_per_seq = xck::json_number(line, "elbo_ll_per_seq");
    double c_per_t = xck::json_number(line, "elbo_ll_per_t");
    ASSERT_TRUE(std::isfinite(c_per_seq)) << line;

    std::string dump;
    const std::string dump_path = dir.path + "/batches.bin";
    int nb = xck::dump_batches(dump_path, &dump, kTiny, kBatch, kSeed, kLatent);
    ASSERT_GT(nb, 0);

    fivo_test::PyResult py = fivo_test::run_python("xcheck_vrnn.py", {ckpt, dump_path});
    ASSERT_EQ(py.status, 0) << py.out;
    const std::string &pout = py.out;

    double py_sum = xck::json_number(pout, "sum");
    double py_seqs = xck::json_number(pout, "sequences");
    double py_steps = xck::json_number(pout, "timesteps");
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
