/* The model conformance kit (libfivo_conformance, the `fivo-model-check`
 * tool): the checks fivo's own model tests run, against any model plugin
 * file. A plugin author runs the tool on a built .so, or calls
 * fivo_conformance_run from a test of their own:
 *
 *   fivo_conformance_options o;
 *   fivo_conformance_defaults(&o);
 *   o.plugin_file = "build/lgssm.so";
 *   o.kind = "real";
 *   int failed = fivo_conformance_run(&o, stdout, &err);   // 0: all passed
 *
 * Each check prints one line "PASS|FAIL|SKIP <name>: <reason with numbers>"
 * after any detail lines (indented). The checks use the SDK's public API only
 * (the registry, the SMC engine, the tape): what they accept is what the host
 * accepts. Forward passes are in float32; losses and comparisons in double. */
#ifndef FIVO_CONFORMANCE_H
#define FIVO_CONFORMANCE_H

#include <stdint.h>
#include <stdio.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_conformance_options {
    const char *plugin_file;       /* the model plugin module (.so); required */
    /* [model] settings "KEY=VALUE" (NULL-terminated; NULL: none), applied as
     * a config file's would be: checked against the plugin's options, then
     * its declared defaults fill the rest. */
    const char *const *settings;
    /* Extra "KEY=VALUE" settings the model MUST refuse (out-of-range sizes,
     * malformed lists: what no type or choice list can say). NULL-terminated. */
    const char *const *bad_values;
    /* The test data: width, "binary" (Bernoulli-like 0/1 frames with a train
     * mean) or "real" (standard normal frames), and sequence lengths (the
     * batch has one sequence per length; T is the longest). */
    int dim;                       /* default 5 */
    const char *kind;              /* default "binary" */
    const int *lengths;            /* default {4, 3} */
    int num_lengths;
    int particles;                 /* particles per sequence (default 2) */
    uint64_t seed;                 /* parameter, data and noise seed (default 1) */
    /* Finite differences: central, step h in float; error of an entry =
     * |tape - numeric| / max(floor, |tape|, |numeric|), which must stay below
     * tol (default h 2e-3, floor 0.1, tol 5e-2, as tests/seqmodel_suite.h).
     * An entry over tol is retried at h / 4, centrally and one-sided (a
     * relu/max kink within h of the point, where the tape gives one side's
     * slope); the smallest error counts. */
    double grad_h, grad_floor, grad_tol;
    int grad_samples;              /* entries checked per parameter tensor (0: all; default 24) */
    /* log_likelihood: the mean IWAE log p-hat with ll_particles particles
     * over ll_reps seeds must lie within ll_tol nats (per sequence), plus
     * three standard errors of that mean, of the model's exact value; when
     * the IWAE weights degenerate (effective sample size < 10) the
     * comparison is skipped. */
    int ll_particles;              /* default 1024 */
    int ll_reps;                   /* default 8 */
    double ll_tol;                 /* default 0.1 */
    /* Names of the checks to run (NULL-terminated); NULL: all of them. */
    const char *const *only;
    int isolate;                   /* run each check in a child process, so a crash is a FAIL (default 0) */
    int verbose;                   /* detail lines for passing checks too (default 0) */
    /* gradient_resampled: the gradient check through a FIVO bound that
     * resamples at every step with the resampler in this plugin file (NULL:
     * the bundled resampler named resampler_name, found by kind and name
     * among the plugins bundled with libfivo) and resampled_particles
     * particles (default 3, as tests/seqmodel_suite.h). */
    const char *resampler_file;
    int resampled_particles;
    /* bad_options: values that do not parse as their type or are not among
     * the choices are refused by the host before create (fivo/abi.h), so a
     * plugin may rely on that; with strict_options it must also refuse them
     * itself, naming the key, as tests/seqmodel_suite.h asks of the bundled
     * models (default 0: handed to the plugin directly, they need only not
     * crash, and an error must be FIVO_ERR_INVALID naming the key). */
    int strict_options;
    /* The bundled resampler of gradient_resampled when resampler_file is
     * NULL (default "multinomial"). Added in 0.1.1: fields only grow here. */
    const char *resampler_name;
} fivo_conformance_options;

/* Fills every field with its default (plugin_file NULL). Call it first:
 * the struct may grow. */
void fivo_conformance_defaults(fivo_conformance_options *o);

/* The checks, in the order they run. */
int fivo_conformance_count(void);
const char *fivo_conformance_name(int i);
const char *fivo_conformance_summary(int i); /* one line */

/* Loads the plugin and runs the chosen checks, printing to `out`. Returns
 * the number of failed checks, or -1 with err filled when nothing could be
 * checked (the file is not a loadable model plugin, an unknown check name,
 * bad options). */
int fivo_conformance_run(const fivo_conformance_options *o, FILE *out, fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
