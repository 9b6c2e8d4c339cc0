// Bad input to the fivo executable with the real plugins: wrong value types
// for plugin options in a config file, unknown plugins, missing or malformed
// dataset files, a model that does not fit the data. Each must exit non-zero
// (never by a signal) with a message naming the key, file or plugin, and
// leave no metrics behind.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <glib.h>

extern "C" {
#include <fivo/tfrecord.h>
}

#include "host_runner.h"
#include "pickle_fixtures.h"

namespace {

using fivo_test::has;
using fivo_test::Result;

class HostBadInput : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_FALSE(dir.empty()); }
    std::string write(const std::string &name, const std::string &bytes)
    {
        std::string path = dir + "/" + name;
        EXPECT_TRUE(g_file_set_contents(path.c_str(), bytes.data(), (gssize)bytes.size(), nullptr));
        return path;
    }
    // A speech-format TFRecord of two 1-D sequences (one float per timestep).
    std::string write_tfrecord(const std::string &name)
    {
        std::string path = dir + "/" + name;
        fivo_tfrecord_writer *w = nullptr;
        fivo_error err{};
        EXPECT_EQ(fivo_tfrecord_writer_open(path.c_str(), &w, &err), FIVO_OK) << err.message;
        const float a[3] = {0.1f, -0.2f, 0.3f}, b[2] = {1.0f, 0.5f};
        EXPECT_EQ(fivo_tfrecord_writer_write(w, a, sizeof a, &err), FIVO_OK);
        EXPECT_EQ(fivo_tfrecord_writer_write(w, b, sizeof b, &err), FIVO_OK);
        EXPECT_EQ(fivo_tfrecord_writer_commit(w, &err), FIVO_OK) << err.message;
        return path;
    }
    // Runs the host with the build's own plugins; a failed run must have
    // exited (1 or 2, not a signal) and written no metrics.
    Result fail(std::vector<std::string> args)
    {
        args.push_back("--logdir=" + logdir);
        Result r = fivo_test::run(args);
        EXPECT_TRUE(r.status == 1 || r.status == 2) << "status " << r.status << "\n" << r.err;
        EXPECT_TRUE(has(r.err, "fivo: error: ")) << r.err;
        EXPECT_FALSE(g_file_test((logdir + "/metrics.jsonl").c_str(), G_FILE_TEST_EXISTS));
        return r;
    }
    fivo_test::TempDir tmp;
    std::string dir = tmp.path, logdir = dir + "/log";
};

TEST_F(HostBadInput, WrongValueTypeForAPluginOptionInTheConfigFile)
{
    std::string ini = write("run.ini", "[model]\nplugin = ghmm\nvariance = abc\n");
    Result r = fail({"--config", ini, "--max_steps=1"});
    EXPECT_TRUE(has(r.err, ini + ":3: [model] variance = 'abc': model plugin 'ghmm' expects a number")) << r.err;

    ini = write("bound.ini", "[bound]\nplugin = fivo\ness_threshold = half\n");
    r = fail({"--config", ini, "--model=ghmm", "--max_steps=1"});
    EXPECT_TRUE(has(r.err, ini + ":3: [bound] ess_threshold = 'half'")) << r.err;

    ini = write("res.ini", "[resampler]\nplugin = relaxed\ntemperature = hot\n");
    r = fail({"--config", ini, "--model=ghmm", "--max_steps=1"});
    EXPECT_TRUE(has(r.err, "[resampler] temperature = 'hot'")) << r.err;

    ini = write("ds.ini", "[dataset]\nplugin = chain\nnum_sequences = 1.5\n");
    r = fail({"--config", ini, "--mode=eval", "--model=ghmm"});
    EXPECT_TRUE(has(r.err, "[dataset] num_sequences = '1.5': dataset plugin 'chain' expects an integer")) << r.err;

    // Right type, value out of range: named by the plugin that checks it.
    r = fail({"--model=ghmm", "--ess_threshold=2", "--max_steps=1"});
    EXPECT_TRUE(has(r.err, "ess_threshold = '2'")) << r.err;
    r = fail({"--model=ghmm", "--resampling_type=relaxed", "--relaxed_resampling_temperature=-1",
              "--max_steps=1"});
    EXPECT_TRUE(has(r.err, "temperature = '-1'")) << r.err;
}

TEST_F(HostBadInput, UnknownResamplerIsNamedWithTheAvailableOnes)
{
    for (const char *mode : {"--mode=train", "--mode=eval"}) {
        Result r = fail({mode, "--model=ghmm", "--resampling_type=bogus", "--max_steps=1"});
        EXPECT_TRUE(has(r.err, "missing resampler plugin 'bogus' (chosen by --resampling_type)"))
            << r.err;
        EXPECT_TRUE(has(r.err, "multinomial")) << r.err;
        EXPECT_TRUE(has(r.err, "systematic")) << r.err;
    }
    Result r = fail({"--model=ghmm", "--resampling_criterion=sometimes", "--max_steps=1"});
    EXPECT_TRUE(has(r.err, "resampling_criterion")) << r.err;
    EXPECT_TRUE(has(r.err, "sometimes")) << r.err;
}

TEST_F(HostBadInput, MissingDatasetFileIsNamed)
{
    const std::string missing = dir + "/no_such_file";
    // GHMM given only a path reads a speech TFRecord.
    Result r = fail({"--model=ghmm", "--dataset_path=" + missing, "--max_steps=1"});
    EXPECT_TRUE(has(r.err, missing)) << r.err;
    for (const char *type : {"pianoroll", "speech"}) {
        for (const char *mode : {"--mode=train", "--mode=eval"}) {
            r = fail({mode, "--model=ghmm", std::string("--dataset_type=") + type,
                      "--dataset_path=" + missing, "--max_steps=1"});
            EXPECT_TRUE(has(r.err, "dataset '" + std::string(type) + "': " + missing)) << r.err;
        }
        // inspect: every split absent means a wrong path, not an empty dataset.
        r = fail({"--mode=inspect", std::string("--dataset_type=") + type,
                  "--dataset_path=" + missing});
        EXPECT_TRUE(has(r.err, missing)) << r.err;
    }
}

TEST_F(HostBadInput, DatasetFileOfTheWrongFormatIsNamed)
{
    std::string pkl = write("jsb.pkl", k_p0);
    std::string rec = write_tfrecord("obs.tfrecord");
    Result r = fail({"--mode=inspect", "--dataset_type=pianoroll", "--dataset_path=" + rec});
    EXPECT_TRUE(has(r.err, rec + ": pickle offset 0")) << r.err;
    r = fail({"--mode=inspect", "--dataset_type=speech", "--dataset_path=" + pkl});
    EXPECT_TRUE(has(r.err, pkl + ": record 0")) << r.err;
    // A truncated pickle names the file and the offset where it ends.
    std::string cut = write("cut.pkl", k_p0.substr(0, k_p0.size() / 2));
    r = fail({"--mode=inspect", "--dataset_type=pianoroll", "--dataset_path=" + cut});
    EXPECT_TRUE(has(r.err, cut + ": ")) << r.err;
    EXPECT_TRUE(has(r.err, "offset")) << r.err;
}

TEST_F(HostBadInput, ModelDataDimensionMismatchIsNamed)
{
    std::string pkl = write("jsb.pkl", k_p0);
    for (const char *mode : {"--mode=train", "--mode=eval"}) {
        Result r = fail({mode, "--model=ghmm", "--dataset_type=pianoroll", "--dataset_path=" + pkl,
                         "--max_steps=1", "--split=valid"});
        EXPECT_TRUE(has(r.err, "model 'ghmm'")) << r.err;
        EXPECT_TRUE(has(r.err, "dimension 88")) << r.err;
    }
    // Speech frames of 2 samples per timestep do not fit the 1-D GHMM either.
    std::string rec = write_tfrecord("obs.tfrecord");
    Result r = fail({"--model=ghmm", "--dataset_type=speech", "--dataset_path=" + rec,
                     "--samples_per_timestep=2", "--max_steps=1"});
    EXPECT_TRUE(has(r.err, rec)) << r.err; // 3 floats are not whole 2-sample frames
    // The synthetic chain reads no file: a path is refused, not ignored.
    r = fail({"--model=ghmm", "--dataset_type=chain", "--dataset_path=" + pkl, "--max_steps=1"});
    EXPECT_TRUE(has(r.err, "chain")) << r.err;
    EXPECT_TRUE(has(r.err, pkl)) << r.err;
}

} // namespace
