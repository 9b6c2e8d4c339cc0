// The open host: a third-party model and bound, built in tests/third_party
// with the SDK only, work like bundled ones (their own option values and
// keys accepted by flag and key file, listed in --help, trained, evaluated,
// reported); each plugin section is checked against the chosen plugin's own
// options; every bundled plugin's declared defaults and choices are the ones
// the host applies; and the host's sources name no bundled plugin.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fivo/fivo.h>
#include <fivo/internal/registry.h>

#include "host_runner.h"

namespace {

using fivo_test::has;
using fivo_test::Result;
using fivo_test::run;
using fivo_test::TempDir;

const std::string kThirdParty = std::string(FIVO_TEST_BINARY_DIR) + "/third_party_plugins";

std::string write(const TempDir &d, const std::string &name, const std::string &text)
{
    std::string p = d.path + "/" + name;
    std::ofstream(p) << text;
    return p;
}

std::string slurp(const std::string &path)
{
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// The value of "key": NUMBER in the last line of metrics.jsonl of `mode`.
double last_number(const std::string &metrics, const std::string &mode, const std::string &key)
{
    std::istringstream in(metrics);
    std::string line, hit;
    while (std::getline(in, line))
        if (has(line, "\"mode\":\"" + mode + "\"") && has(line, "\"" + key + "\":"))
            hit = line;
    if (hit.empty())
        return std::nan("");
    size_t at = hit.find("\"" + key + "\":") + key.size() + 3;
    return std::stod(hit.substr(at));
}

double first_number(const std::string &metrics, const std::string &mode, const std::string &key)
{
    std::istringstream in(metrics);
    std::string line;
    while (std::getline(in, line))
        if (has(line, "\"mode\":\"" + mode + "\"") && has(line, "\"" + key + "\":")) {
            size_t at = line.find("\"" + key + "\":") + key.size() + 3;
            return std::stod(line.substr(at));
        }
    return std::nan("");
}

TEST(OpenHost, ThirdPartyModelWithItsOwnProposalValueAndOptionTrainsAndEvaluates)
{
    TempDir d;
    // By flag: its own proposal_type value and its own option (through --set).
    Result r = run({"--model=twisted", "--proposal_type=twisted", "--set", "model.twist_gain=0.2",
                    "--bound=fivo", "--max_steps=400", "--summarize_every=100",
                    "--learning_rate=0.01", "--logdir=" + d.path + "/flag"},
                   kThirdParty);
    ASSERT_EQ(r.status, 0) << r.err;
    std::string m = slurp(d.path + "/flag/metrics.jsonl");
    EXPECT_TRUE(has(m, "\"model\":\"twisted\"")) << m;
    EXPECT_TRUE(has(m, "\"dataset\":\"chain\"")) << m; // its declared preference
    double first = first_number(m, "train", "bound_per_t"), last = last_number(m, "train", "bound_per_t");
    EXPECT_TRUE(std::isfinite(first) && std::isfinite(last)) << m;
    EXPECT_GT(last, first) << "training did not raise the bound: " << m;

    // By key file, then evaluated with the reference's three bounds.
    std::string ini = write(d, "tw.ini", "[model]\nplugin = twisted\nproposal_type = bootstrap\n"
                                         "twist_gain = 0.7\n[train]\nmax_steps = 20\n");
    r = run({"--config", ini, "--logdir=" + d.path + "/file"}, kThirdParty);
    ASSERT_EQ(r.status, 0) << r.err;
    r = run({"--config", ini, "--mode=eval", "--split=valid", "--logdir=" + d.path + "/file"},
            kThirdParty);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("valid elbo ll/t: -?[0-9.]+, iwae ll/t: "
                                                    "-?[0-9.]+ fivo ll/t: -?[0-9.]+\n")))
        << r.out;

    // A value outside its choices is refused naming the plugin and its choices.
    r = run({"--model=twisted", "--proposal_type=smoothing", "--logdir=" + d.path + "/bad"},
            kThirdParty);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "--proposal_type: [model] proposal_type = 'smoothing': model plugin "
                           "'twisted' expects one of twisted|bootstrap"))
        << r.err;

    // Its options are in --help, with the plugin.
    r = run({"--help"}, kThirdParty);
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(has(r.out, "  [model] plugin = twisted\n      proposal_type=twisted|bootstrap; "
                           "default: twisted\n"))
        << r.out;
    EXPECT_TRUE(has(r.out, "twist_gain=NUMBER; default: 0.5")) << r.out;
    r = run({"plugins", "--verbose"}, kThirdParty);
    EXPECT_TRUE(has(r.out, "twist_gain=NUMBER; default: 0.5")) << r.out;
}

TEST(OpenHost, ThirdPartyBoundInEvalBoundsIsPrintedAndLogged)
{
    TempDir d;
    std::string logdir = d.path + "/run";
    Result r = run({"--model=ghmm", "--max_steps=50", "--logdir=" + logdir}, kThirdParty);
    ASSERT_EQ(r.status, 0) << r.err;
    std::string ini = write(d, "e.ini", "[eval]\nbounds = elbo, always, fivo\n"
                                        "[bound.always]\nparticle_share = 0.5\n");
    r = run({"--config", ini, "--model=ghmm", "--mode=eval", "--num_samples=8",
             "--logdir=" + logdir},
            kThirdParty);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("train elbo ll/t: -?[0-9.]+, always ll/t: "
                                                    "-?[0-9.]+ fivo ll/t: -?[0-9.]+\n")))
        << r.out;
    std::string m = slurp(logdir + "/metrics.jsonl");
    double always = last_number(m, "eval", "always_ll_per_t");
    double fivo = last_number(m, "eval", "fivo_ll_per_t");
    EXPECT_TRUE(std::isfinite(always)) << m;
    EXPECT_NE(always, fivo) << m;
    EXPECT_EQ(last_number(m, "eval", "always_resample_rate"), 1.0) << m; // it always resamples
    EXPECT_TRUE(std::isfinite(last_number(m, "eval", "always_gap_per_t"))) << m;

    // Its section is checked against its own options.
    ini = write(d, "bad.ini", "[eval]\nbounds = always\n[bound.always]\nparticle_shares = 0.5\n");
    r = run({"--config", ini, "--model=ghmm", "--mode=eval", "--logdir=" + logdir}, kThirdParty);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, ini + ":4: unknown key 'particle_shares' in [bound.always] for bound "
                                 "plugin 'always'; did you mean 'particle_share'?"))
        << r.err;
    // A bound that is not there is named with the ones that are.
    r = run({"--model=ghmm", "--mode=eval", "--eval_bounds=elbo,nosuch", "--logdir=" + logdir});
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(has(r.err, "[eval] bounds names no bound plugin 'nosuch' (available: ")) << r.err;
}

TEST(OpenHost, KeysOfAnotherPluginAreRefusedNamingThePluginAndItsKeys)
{
    TempDir d;
    Result r = run({"--relaxed_resampling_temperature=0.3", "--logdir=" + d.path});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "--relaxed_resampling_temperature: unknown key 'temperature' in "
                           "[resampler] for resampler plugin 'multinomial'"))
        << r.err;
    EXPECT_TRUE(has(r.err, "(its keys: none)")) << r.err;
    std::string ini = write(d, "t.ini", "[resampler]\nplugin = multinomial\ntemperature = 0.3\n");
    r = run({"--config", ini, "--logdir=" + d.path});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, ini + ":3: unknown key 'temperature' in [resampler] for resampler "
                                 "plugin 'multinomial'"))
        << r.err;
    // With the plugin that declares it, the same key is fine (the mode then
    // fails later for want of data, not of the key).
    r = run({"--config", ini, "--resampling_type=relaxed", "--mode=eval", "--dataset_path=/nonexistent"});
    EXPECT_FALSE(has(r.err, "unknown key")) << r.err;

    r = run({"--model=vrnn", "--variance=0.2", "--logdir=" + d.path});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "--variance: unknown key 'variance' in [model] for model plugin 'vrnn'"))
        << r.err;
    EXPECT_TRUE(has(r.err, "(its keys: latent_size, proposal_type, rnn_hidden_size, ")) << r.err;
    // The GHMM's own keys stay its own.
    r = run({"--model=ghmm", "--latent_size=8", "--logdir=" + d.path});
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has(r.err, "unknown key 'latent_size' in [model] for model plugin 'ghmm'")) << r.err;
}

// [bound.NAME] of the trained bound fills [bound]: one file carries every
// bound's settings and --bound picks one; a flag still wins over the file.
TEST(OpenHost, TrainedBoundsOwnSectionFillsBoundAndFlagsWin)
{
    TempDir d;
    std::string ini =
        write(d, "b.ini", "[bound]\nplugin = fivo\n\n[bound.fivo]\nresampling_criterion = never\n");
    auto rate = [&](const std::vector<std::string> &extra, const std::string &sub) {
        std::vector<std::string> args = {"--config", ini, "--model=ghmm", "--max_steps=4", "--summarize_every=2",
                                         "--logdir=" + d.path + "/" + sub};
        args.insert(args.end(), extra.begin(), extra.end());
        Result r = run(args);
        EXPECT_EQ(r.status, 0) << r.err;
        return last_number(slurp(d.path + "/" + sub + "/metrics.jsonl"), "train", "resample_rate");
    };
    EXPECT_EQ(rate({}, "file"), 0.0);                                     /* [bound.fivo]: never */
    EXPECT_EQ(rate({"--resampling_criterion=always"}, "flag"), 1.0);      /* the flag wins */
    EXPECT_EQ(rate({"--bound=elbo"}, "elbo"), 0.0);                       /* not applied to elbo */
    std::string bad = write(d, "bad.ini", "[bound.fivo]\nresampling_criterion = bogus\n");
    Result r = run({"--config", bad, "--bound=elbo", "--logdir=" + d.path + "/bad"});
    EXPECT_EQ(r.status, 2); /* every section is checked, used or not */
    EXPECT_TRUE(has(r.err, bad + ":2: [bound.fivo] resampling_criterion = 'bogus'")) << r.err;
}

// Every bundled plugin: its rows are well formed, and the host applies
// exactly its declared defaults, accepts each of its choices and refuses a
// value outside them naming the plugin; created with those defaults, it opens.
TEST(OpenHost, EveryBundledPluginsDefaultsAndChoicesAreTheDeclaredOnes)
{
    fivo_registry *reg = fivo_registry_new();
    fivo_error err = {};
    ASSERT_EQ(fivo_registry_scan_dir(reg, FIVO_TEST_PLUGIN_DIR, &err), FIVO_OK);
    ASSERT_GE(fivo_registry_count(reg), 15) << "bundled plugins not found in " FIVO_TEST_PLUGIN_DIR;
    int options_seen = 0, choices_seen = 0;
    for (int i = 0; i < fivo_registry_count(reg); i++) {
        const fivo_plugin_info *p = fivo_registry_at(reg, i);
        const char *section = fivo_plugin_kind_name(p->kind);
        SCOPED_TRACE(std::string(section) + " " + p->name);
        fivo_config *cfg = fivo_config_new();
        ASSERT_EQ(fivo_plugin_apply_options(p, cfg, section, nullptr, &err), FIVO_OK) << err.message;
        for (size_t k = 0; k < p->num_options; k++) {
            const fivo_option *o = &p->options[k];
            options_seen++;
            char *problem = fivo_option_problem(o);
            EXPECT_EQ(problem, nullptr) << o->key << ": " << problem;
            free(problem);
            const char *v = nullptr;
            if (o->default_value != nullptr) {
                ASSERT_EQ(fivo_config_get_string(cfg, section, o->key, nullptr, &v, nullptr), FIVO_OK);
                EXPECT_STREQ(v, o->default_value) << o->key;
                EXPECT_STREQ(fivo_config_origin(cfg, section, o->key), "default") << o->key;
            } else {
                EXPECT_FALSE(fivo_config_has(cfg, section, o->key)) << o->key;
            }
            if (o->choices == nullptr)
                continue;
            choices_seen++;
            gchar **each = g_strsplit(o->choices, "|", -1);
            for (int c = 0; each[c] != nullptr; c++) {
                fivo_config *one = fivo_config_new();
                fivo_config_set_from(one, section, o->key, each[c], "test");
                EXPECT_EQ(fivo_plugin_apply_options(p, one, section, nullptr, &err), FIVO_OK)
                    << o->key << " = " << each[c] << ": " << err.message;
                fivo_config_free(one);
            }
            g_strfreev(each);
            fivo_config *bad = fivo_config_new();
            fivo_config_set_from(bad, section, o->key, "not-a-choice", "--test");
            EXPECT_EQ(fivo_plugin_apply_options(p, bad, section, nullptr, &err), FIVO_ERR_INVALID);
            EXPECT_TRUE(has(err.message, std::string("plugin '") + p->name + "' expects one of " +
                                             o->choices))
                << err.message;
            fivo_config_free(bad);
        }
        // Opened with nothing but the applied defaults (models need data).
        if (p->kind == FIVO_PLUGIN_BOUND) {
            fivo_bound b;
            EXPECT_EQ(fivo_bound_open(reg, p->name, cfg, &b, &err), FIVO_OK) << err.message;
            fivo_bound_close(&b);
        } else if (p->kind == FIVO_PLUGIN_RESAMPLER) {
            fivo_resampler rs;
            EXPECT_EQ(fivo_resampler_open(reg, p->name, cfg, &rs, &err), FIVO_OK) << err.message;
            fivo_resampler_close(&rs);
        } else if (p->kind == FIVO_PLUGIN_MODEL) {
            const std::string n = p->name; /* the 1-D chains: ghmm and the toy models */
            bool one_d = n == "ghmm" || n == "forward" || n == "long_chain";
            fivo_data_spec spec = {one_d ? 1 : 8, one_d ? "real" : "binary", nullptr, 0, sizeof(fivo_data_spec)};
            fivo_params *params = fivo_params_new(1);
            fivo_model m;
            EXPECT_EQ(fivo_model_open(reg, p->name, cfg, &spec, params, &m, &err), FIVO_OK)
                << err.message;
            fivo_model_close(&m);
            fivo_params_free(params);
        }
        fivo_config_free(cfg);
    }
    EXPECT_GE(options_seen, 30);
    EXPECT_GE(choices_seen, 4);
    fivo_registry_free(reg);
}

// String literals of a C file, comments removed.
std::vector<std::string> literals(const std::string &src)
{
    std::string code = std::regex_replace(src, std::regex(R"(/\*[\s\S]*?\*/|//[^\n]*)"), " ");
    std::vector<std::string> out;
    std::regex lit(R"re("((?:[^"\\\n]|\\.)*)")re");
    for (auto it = std::sregex_iterator(code.begin(), code.end(), lit); it != std::sregex_iterator();
         ++it)
        out.push_back((*it)[1]);
    return out;
}

TEST(OpenHost, HostSourcesNameNoBundledPluginButTheFlagDefaults)
{
    fivo_registry *reg = fivo_registry_new();
    fivo_error err = {};
    ASSERT_EQ(fivo_registry_scan_dir(reg, FIVO_TEST_PLUGIN_DIR, &err), FIVO_OK);
    std::set<std::string> names;
    for (int i = 0; i < fivo_registry_count(reg); i++)
        names.insert(fivo_registry_at(reg, i)->name);
    fivo_registry_free(reg);
    ASSERT_TRUE(names.count("ghmm") && names.count("chain") && names.count("relaxed"));
    // "fivo" is also the program's name and its own section: the bound of
    // that name is allowed where the flag table defaults it, like the others.
    const std::set<std::string> flag_defaults = {"vrnn", "fivo", "multinomial", "pianoroll"};
    std::string dir = std::string(FIVO_TEST_SOURCE_DIR) + "/host";
    GDir *d = g_dir_open(dir.c_str(), 0, nullptr);
    ASSERT_NE(d, nullptr);
    int files = 0;
    for (const char *f; (f = g_dir_read_name(d)) != nullptr;) {
        std::string file = f;
        if (!g_str_has_suffix(f, ".c") && !g_str_has_suffix(f, ".h"))
            continue;
        files++;
        for (const std::string &l : literals(slurp(dir + "/" + file))) {
            if (!names.count(l))
                continue;
            if (file == "flags.c" && flag_defaults.count(l))
                continue;
            if (l == "fivo") // the section [fivo] and the program, everywhere
                continue;
            ADD_FAILURE() << "host/" << file << " names the bundled plugin \"" << l << "\"";
        }
    }
    g_dir_close(d);
    EXPECT_GE(files, 10);
}

} // namespace
