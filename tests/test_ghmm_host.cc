// The fivo host on the Gaussian HMM, run as a process: FIVO training of the
// learned filtering proposal shrinks the gap to the exact likelihood; eval
// reports the reference's statistics; observations read from a speech-format
// TFRecord give the exact likelihood that numpy computes independently.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <glib.h>

extern "C" {
#include <fivo/rng.h>
#include <fivo/tfrecord.h>
}

#include "host_runner.h"

namespace {

using fivo_test::Result;
using fivo_test::run;

std::vector<std::string> lines_of(const std::string &path, const std::string &mode)
{
    std::ifstream f(path);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(f, line))
        if (line.find("\"mode\":\"" + mode + "\"") != std::string::npos)
            out.push_back(line);
    return out;
}

// The number after "name": in a flat JSON line (NaN if absent or null).
double number(const std::string &line, const std::string &name)
{
    size_t at = line.find("\"" + name + "\":");
    if (at == std::string::npos)
        return std::nan("");
    return std::strtod(line.c_str() + at + name.size() + 3, nullptr);
}

std::string string_field(const std::string &line, const std::string &name)
{
    size_t at = line.find("\"" + name + "\":\"");
    if (at == std::string::npos)
        return "";
    size_t from = at + name.size() + 4;
    return line.substr(from, line.find('"', from) - from);
}

class GhmmHost : public ::testing::Test {
protected:
    fivo_test::TempDir tmp;
    std::string dir = tmp.path, metrics = dir + "/metrics.jsonl";
    void SetUp() override { ASSERT_FALSE(dir.empty()); }
};

} // namespace

TEST_F(GhmmHost, FivoTrainingOfTheFilteringProposalShrinksTheGap)
{
    Result r = run({"--model=ghmm", "--bound=fivo", "--proposal_type=filtering",
                    "--learning_rate=0.003", "--max_steps=6000", "--summarize_every=500",
                    "--eval_every=6000", "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> train = lines_of(metrics, "train");
    ASSERT_EQ(train.size(), 12u);
    double first = number(train.front(), "gap_per_t"), last = number(train.back(), "gap_per_t");
    for (const char *f : {"bound_per_t", "true_ll_per_t", "gap_per_t", "steps_per_sec",
                          "timesteps_per_sec"})
        EXPECT_TRUE(std::isfinite(number(train.back(), f))) << f << " in " << train.back();
    EXPECT_EQ(number(train.back(), "step"), 6000);
    // gap = true_ll - bound, per timestep
    EXPECT_NEAR(number(train.back(), "gap_per_t"),
                number(train.back(), "true_ll_per_t") - number(train.back(), "bound_per_t"),
                1e-9);
    std::printf("gap per timestep: first window %.4f, last window %.4f\n", first, last);
    EXPECT_GT(first, 1.0);
    EXPECT_LT(last, 0.15);
    EXPECT_LT(last, first / 10);

    std::vector<std::string> eval = lines_of(metrics, "eval");
    ASSERT_EQ(eval.size(), 1u);
    const std::string &e = eval[0];
    for (const char *f : {"bound_mean", "bound_std", "true_ll_per_t", "gap_per_t",
                          "log_weight_var", "resample_rate", "num_samples"})
        EXPECT_TRUE(std::isfinite(number(e, f))) << f << " in " << e;
    EXPECT_EQ(string_field(e, "bound"), "fivo");
    EXPECT_EQ(string_field(e, "proposal_type"), "filtering");
    EXPECT_EQ(string_field(e, "resampler"), "multinomial");
    EXPECT_EQ(string_field(e, "split"), "valid");
    EXPECT_LT(number(e, "gap_per_t"), 0.15);
    EXPECT_GT(number(e, "gap_per_t"), 0.0);
}

// Relaxed resampling: gradients flow through the blends and training still
// closes most of the gap (the relaxed bound is not exactly FIVO's).
TEST_F(GhmmHost, RelaxedResamplingTrains)
{
    Result r = run({"--model=ghmm", "--bound=fivo", "--resampling_type=relaxed",
                    "--relaxed_resampling_temperature=0.5", "--learning_rate=0.003",
                    "--max_steps=4000", "--summarize_every=1000", "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> train = lines_of(metrics, "train");
    ASSERT_EQ(train.size(), 4u);
    double first = number(train.front(), "gap_per_t"), last = number(train.back(), "gap_per_t");
    std::printf("relaxed: gap per timestep %.4f -> %.4f\n", first, last);
    EXPECT_LT(last, first / 4);
    EXPECT_GT(number(train.back(), "resample_rate"), 0.0);
}

TEST_F(GhmmHost, EvalReportsTheReferenceStatistics)
{
    // true-smoothing ELBO: zero gap, zero log-weight variance, no resampling.
    Result r = run({"--mode=eval", "--model=ghmm", "--bound=elbo",
                    "--proposal_type=true-smoothing", "--split=test", "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err;
    // prior proposal, FIVO with systematic resampling via the reference's flag
    r = run({"--mode=eval", "--model=ghmm", "--bound=fivo", "--proposal_type=prior",
             "--resampling_type=systematic", "--num_samples=8", "--split=test",
             "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> eval = lines_of(metrics, "eval");
    ASSERT_EQ(eval.size(), 2u);
    EXPECT_NEAR(number(eval[0], "bound_mean"), number(eval[0], "true_ll_per_t"), 1e-5);
    EXPECT_EQ(number(eval[0], "log_weight_var"), 0.0);
    EXPECT_EQ(number(eval[0], "resample_rate"), 0.0);
    EXPECT_GT(number(eval[0], "bound_std"), 0.0); // spread over sequences, not draws
    EXPECT_EQ(string_field(eval[1], "resampler"), "systematic");
    EXPECT_EQ(number(eval[1], "num_samples"), 8);
    EXPECT_EQ(number(eval[1], "true_ll_per_t"), number(eval[0], "true_ll_per_t"));
    EXPECT_LT(number(eval[1], "bound_mean"), number(eval[1], "true_ll_per_t"));
    EXPECT_GT(number(eval[1], "log_weight_var"), 0.0);
    EXPECT_GT(number(eval[1], "resample_rate"), 0.0);
    EXPECT_LT(number(eval[1], "resample_rate"), 1.0);
}

// Observations from a speech-format TFRecord (one float32 sample per
// timestep, sequences of different lengths): the exact likelihood the GHMM
// reports equals numpy's dense multivariate-normal log-density built as the
// reference builds its covariance, and the true-smoothing ELBO equals it.
TEST_F(GhmmHost, FileObservationsMatchAnOutsideComputation)
{
    const int K = 6;
    const int lens[K] = {7, 3, 5, 7, 1, 6};
    std::string rec = dir + "/ghmm.tfrecord", txt = dir + "/ghmm.txt";
    fivo_tfrecord_writer *w = nullptr;
    fivo_error err{};
    ASSERT_EQ(fivo_tfrecord_writer_open(rec.c_str(), &w, &err), FIVO_OK) << err.message;
    std::ofstream text(txt);
    text.precision(9);
    fivo_rng rng = fivo_rng_make(3, FIVO_RNG_USER, 0);
    for (int k = 0; k < K; k++) {
        std::vector<float> x(lens[k]);
        fivo_rng_normal(&rng, (uint32_t)k, x.data(), lens[k]);
        for (float &v : x)
            v *= 0.8f;
        ASSERT_EQ(fivo_tfrecord_writer_write(w, x.data(), x.size() * sizeof(float), &err), FIVO_OK);
        for (int t = 0; t < lens[k]; t++)
            text << (t ? " " : "") << x[t];
        text << "\n";
    }
    text.close();
    ASSERT_EQ(fivo_tfrecord_writer_commit(w, &err), FIVO_OK) << err.message;

    const std::string vz = "0.3,0.2,0.5,0.1,0.25,0.4,0.15", vx = "0.2,0.1,0.3,0.2,0.5,0.1,0.25",
                      wz = "0.9,1.2,0.7,1.1,0.8,1.0", wx = "1.0,0.6,1.3,0.9,1.1,0.7,1.2";
    Result r = run({"--mode=eval", "--model=ghmm", "--bound=elbo", "--proposal_type=true-smoothing",
                    "--dataset_path=" + rec, "--batch_size=4", "--num_timesteps=7",
                    "--set", "model.transition_variances=" + vz, "--set",
                    "model.emission_variances=" + vx, "--set", "model.transition_weights=" + wz,
                    "--set", "model.emission_weights=" + wx, "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err << r.out;
    std::vector<std::string> eval = lines_of(metrics, "eval");
    ASSERT_EQ(eval.size(), 1u);
    EXPECT_EQ(number(eval[0], "num_sequences"), K);

    // numpy: Sigma_z[i][j] = var(z_min) * prod wz over (min, max], then
    // Sigma_x = wx wx^T * Sigma_z + diag(vx); log N(x; 0, Sigma_x[:L, :L]).
    std::string py =
        "import numpy as np\n"
        "vz=np.array([" + vz + "]);vx=np.array([" + vx + "]);wz=np.array([" + wz + "]);"
        "wx=np.array([" + wx + "])\n"
        "T=len(vz);v=[vz[0]]\n"
        "for i in range(1,T): v.append(v[-1]*wz[i-1]**2+vz[i])\n"
        "Sz=np.zeros((T,T))\n"
        "for i in range(T):\n"
        "  for j in range(T):\n"
        "    lo,hi=min(i,j),max(i,j);Sz[i,j]=v[lo]*np.prod(wz[lo:hi])\n"
        "Sx=np.outer(wx,wx)*Sz+np.diag(vx)\n"
        "tot=0.0;n=0\n"
        "for line in open('" + txt + "'):\n"
        "  x=np.array([float(a) for a in line.split()]);L=len(x);S=Sx[:L,:L]\n"
        "  ll=-0.5*(L*np.log(2*np.pi)+np.linalg.slogdet(S)[1]+x@np.linalg.solve(S,x))\n"
        "  tot+=ll/L;n+=1\n"
        "print(repr(tot/n))\n";
    std::string pyfile = dir + "/check.py";
    std::ofstream(pyfile) << py;
    gchar *out = nullptr;
    gint status = 0;
    std::string cmd = "/usr/bin/python3 " + pyfile;
    ASSERT_TRUE(g_spawn_command_line_sync(cmd.c_str(), &out, nullptr, &status, nullptr));
    double numpy_ll = std::strtod(out, nullptr);
    g_free(out);
    ASSERT_EQ(status, 0) << "python3 with numpy failed";
    std::printf("true_ll_per_t: fivo %.12f, numpy %.12f\n", number(eval[0], "true_ll_per_t"),
                numpy_ll);
    EXPECT_NEAR(number(eval[0], "true_ll_per_t"), numpy_ll, 1e-6 * std::fabs(numpy_ll));
    EXPECT_NEAR(number(eval[0], "bound_mean"), numpy_ll, 1e-5);
}

TEST_F(GhmmHost, BadModelValuesAreNamed)
{
    Result r = run({"--model=ghmm", "--max_steps=1", "--set", "model.emission_variances=0.1,-2",
                    "--logdir=" + dir});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("emission_variances"), std::string::npos) << r.err;
    r = run({"--model=ghmm", "--max_steps=1", "--num_timesteps=3", "--set",
             "model.transition_weights=1,2,3,4", "--logdir=" + dir});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("transition_weights"), std::string::npos) << r.err;
}
