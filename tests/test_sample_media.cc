// Samples you can hear: the sample mode's MIDI files (pianoroll, read back by
// mido) and WAV files (speech, read back by Python's wave module and sox)
// equal the sampled frames in samples.npz. Both come from the dataset
// plugins' write_sample slot; the host names no dataset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>

extern "C" {
#include <fivo/rng.h>
#include <fivo/tfrecord.h>
}

#include "host_runner.h"
#include "py_runner.h"
#include "test_data.h"

namespace {

using fivo_test::Result;
using fivo_test::run;

const std::string kPiano = FIVO_TEST_TINY_PIANOROLL;

bool exists(const std::string &p)
{
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

std::vector<std::string> files_in(const std::string &dir)
{
    std::vector<std::string> out;
    if (exists(dir))
        for (auto &e : std::filesystem::directory_iterator(dir))
            out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

// A speech folder: train file of `n` utterances of `len` frames of 200
// standardised-looking samples (tests/fixtures), and stats.json.
void write_speech(const std::string &dir, int n, int len, bool stats)
{
    ASSERT_EQ(fixture_write_speech_utterances((dir + "/train").c_str(), n, len), 0);
    if (stats) {
        std::ofstream f(dir + "/stats.json");
        f << "{\"mean\": 3.25, \"std\": 812.5, \"samples_per_timestep\": 200}\n";
    }
}

} // namespace

TEST(SampleMedia, PianorollSamplesAreMidiFilesOfTheSampledFrames)
{
    fivo_test::TempDir tmp;
    std::vector<std::string> common = {"--dataset_path=" + kPiano, "--logdir=" + tmp.path,
                                       "--latent_size=8", "--batch_size=2", "--num_samples=3",
                                       "--set", "dataset.midi_bpm=90"};
    std::vector<std::string> train = common;
    train.insert(train.end(), {"--max_steps=3", "--summarize_every=3"});
    Result r = run(train);
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> sample = common;
    sample.insert(sample.end(), {"--mode=sample", "--prefix_length=6", "--sample_length=10"});
    r = run(sample);
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> want;
    for (int b = 0; b < 2; b++)
        for (int n = 0; n < 3; n++)
            want.push_back("prefix" + std::to_string(b) + "_sample" + std::to_string(n) + ".mid");
    std::sort(want.begin(), want.end());
    EXPECT_EQ(files_in(tmp.path + "/samples"), want);
    FIVO_EXPECT_PY_OK(fivo_test::run_python("read_midi.py", {tmp.path, "21", "90"}));
}

TEST(SampleMedia, SpeechSamplesAreWavFilesAt16kHz)
{
    fivo_test::TempDir data, logs;
    write_speech(data.path, 3, 12, true);
    std::vector<std::string> common = {"--dataset_type=speech", "--dataset_path=" + data.path,
                                       "--logdir=" + logs.path, "--latent_size=4",
                                       "--batch_size=2", "--num_samples=2"};
    std::vector<std::string> train = common;
    train.insert(train.end(), {"--max_steps=2", "--summarize_every=2"});
    Result r = run(train);
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> sample = common;
    sample.insert(sample.end(), {"--mode=sample", "--prefix_length=4", "--sample_length=3"});
    r = run(sample);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(files_in(logs.path + "/samples").size(), 4u);
    FIVO_EXPECT_PY_OK(fivo_test::run_python("read_wav.py", {logs.path, "3.25", "812.5", "16000"}));
    // sox, a second independent reader, agrees on rate, channels and length.
    gchar *sox = g_find_program_in_path("sox");
    if (sox == nullptr)
        GTEST_SKIP() << "sox is not installed";
    g_free(sox);
    std::string wav = logs.path + "/samples/prefix1_sample0.wav";
    std::string out;
    for (const char *opt : {"-r", "-c", "-s"}) {
        std::string cmd = std::string("sox --i ") + opt + " " + wav;
        FILE *p = popen(cmd.c_str(), "r");
        ASSERT_NE(p, nullptr);
        char buf[256] = {0};
        while (fgets(buf, sizeof buf, p))
            out += buf;
        ASSERT_EQ(pclose(p), 0) << cmd << ": " << out;
    }
    EXPECT_EQ(out, "16000\n1\n1400\n") << out;
}

TEST(SampleMedia, SpeechWithoutStatsWritesNoWavButSucceeds)
{
    fivo_test::TempDir data, logs;
    write_speech(data.path, 2, 8, false);
    std::vector<std::string> common = {"--dataset_type=speech", "--dataset_path=" + data.path,
                                       "--logdir=" + logs.path, "--latent_size=4",
                                       "--batch_size=2", "--num_samples=1"};
    std::vector<std::string> train = common;
    train.insert(train.end(), {"--max_steps=1", "--summarize_every=1"});
    ASSERT_EQ(run(train).status, 0);
    std::vector<std::string> sample = common;
    sample.insert(sample.end(), {"--mode=sample", "--prefix_length=2", "--sample_length=2"});
    Result r = run(sample);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(exists(logs.path + "/samples.npz"));
    EXPECT_TRUE(files_in(logs.path + "/samples").empty());
    EXPECT_TRUE(fivo_test::has(r.err, "stats.json")) << r.err;
}
