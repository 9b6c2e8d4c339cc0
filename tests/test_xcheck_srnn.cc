// The SRNN's ELBO against an independent numpy re-implementation
// (tests/xcheck_srnn.py, written from the reference's models/srnn.py), for
// the filtering and the smoothing proposal: a tiny SRNN is trained a few
// steps with the host, evaluated with the host (elbo, 1 particle, train
// split), and the script recomputes the per-sequence bound from the
// checkpoint, the dumped eval batches and the exact eps of the eval pass
// (xcheck_util.h). A mutated script (prior without z_{t-1}; reverse LSTM
// inputs swapped) must disagree: the check can fail.
#include "xcheck_util.h"

namespace {

const char *kTiny = FIXTURE_TINY_PIANOROLL;
const int kLatent = 8;
const int kBatch = 4;
const uint64_t kSeed = 11;

double py_per_seq(const std::string &ckpt, const std::string &dump, const std::string &mutation)
{
    std::vector<std::string> args = {ckpt, dump};
    if (!mutation.empty())
        args.push_back(mutation);
    fivo_test::PyResult r = fivo_test::run_python("xcheck_srnn.py", args);
    EXPECT_EQ(r.status, 0) << r.out;
    const std::string &out = r.out;
    double sum = xck::json_number(out, "sum"), seqs = xck::json_number(out, "sequences");
    EXPECT_TRUE(std::isfinite(sum) && seqs > 0) << out;
    return sum / seqs;
}

} // namespace

TEST(XcheckSrnn, ElboMatchesNumpyReimplementation)
{
    for (const char *proposal : {"filtering", "smoothing"}) {
        fivo_test::TempDir dir;
        ASSERT_FALSE(dir.path.empty());
        const std::string data = fivo_test::fixture(kTiny);
        const std::string common = "--model=srnn --bound=elbo --proposal_type=" + std::string(proposal) +
                                   " --dataset_path='" + data + "' --latent_size=" +
                                   std::to_string(kLatent) + " --batch_size=" + std::to_string(kBatch) +
                                   " --random_seed=" + std::to_string(kSeed) + " --logdir='" +
                                   dir.path + "'";
        std::string log;
        ASSERT_EQ(fivo_test::run_host("--mode=train --max_steps=5 " + common, &log), 0) << log;
        const std::string ckpt = dir.path + "/ckpt-000000000005.fivo";
        ASSERT_TRUE(fivo_test::exists(ckpt)) << log;
        ASSERT_EQ(fivo_test::run_host("--mode=eval --num_samples=1 --split=train " + common, &log), 0)
            << log;
        std::string line = xck::last_line(dir.path + "/metrics.jsonl");
        double c_per_seq = xck::json_number(line, "elbo_ll_per_seq");
        ASSERT_TRUE(std::isfinite(c_per_seq)) << line;

        std::string dump;
        const std::string dump_path = dir.path + "/batches.bin";
        int nb = xck::dump_batches(dump_path, &dump, kTiny, kBatch, kSeed, kLatent);
        ASSERT_GT(nb, 0);
        double py = py_per_seq(ckpt, dump_path, "");
        double rel = std::fabs(c_per_seq - py) / std::fabs(py);
        std::printf("xcheck srnn %s: %d batches; elbo ll/seq fivo %.10f numpy %.10f (rel diff %.3g)\n",
                    proposal, nb, c_per_seq, py, rel);
        // float32 model arithmetic against float64: ~1e-6 relative expected.
        EXPECT_LT(rel, 1e-5) << proposal << ": fivo " << c_per_seq << " numpy " << py;

        for (const char *mutation : {"prior_without_z", "rev_inputs_swapped"}) {
            if (std::string(mutation) == "rev_inputs_swapped" && std::string(proposal) != "smoothing")
                continue;
            double m = py_per_seq(ckpt, dump_path, mutation);
            double mrel = std::fabs(c_per_seq - m) / std::fabs(m);
            std::printf("  mutated (%s): numpy %.10f (rel diff %.3g)\n", mutation, m, mrel);
            EXPECT_GT(mrel, 1e-4) << proposal << " " << mutation << ": the check should catch it";
        }
    }
}
