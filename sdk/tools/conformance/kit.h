/* Private to libfivo_conformance: what every check shares (the loaded
 * plugin, the test batch, opening models, running the SMC engine, printing). */
#ifndef FIVO_CONFORMANCE_KIT_H
#define FIVO_CONFORMANCE_KIT_H

#include <stdbool.h>
#include <stdio.h>

#include <fivo/conformance.h>
#include <fivo/fivo.h>
#include <fivo/internal/registry.h>

typedef enum kit_verdict { KIT_PASS = 0, KIT_FAIL = 1, KIT_SKIP = 2 } kit_verdict;

typedef struct kit {
    const fivo_conformance_options *o;
    FILE *out;
    fivo_registry *reg;
    const fivo_plugin_info *info; /* the model under test */
    /* The test batch (time-major [T, B, D], zero past each length). */
    int T, B, D;
    float *inputs, *targets;
    int32_t *lengths, *seq_ids;
    double *mean; /* [D] train mean (binary data) */
    fivo_batch batch;
    fivo_data_spec spec;
    /* The resampler of gradient_resampled, when one could be opened, and the
     * registry it came from. */
    fivo_registry *res_reg;
    fivo_resampler resampler;
    bool have_resampler;
    char resampler_why[FIVO_ERROR_MESSAGE_MAX];
    /* The check being run: its detail lines and verdict reason. */
    char reason[1024];
    char *details;
    size_t details_len;
} kit;

typedef kit_verdict (*kit_check_fn)(kit *k);

typedef struct kit_check {
    const char *name;
    const char *summary;
    kit_check_fn run;
} kit_check;

/* The table (checks.c). */
extern const kit_check kit_checks[];
extern const int kit_num_checks;

/* ---- reporting --------------------------------------------------------- */
/* A detail line, printed under the verdict (always on FAIL, on PASS with
 * verbose). */
void kit_note(kit *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the reason and returns v: `return kit_say(k, KIT_FAIL, "...")`. */
kit_verdict kit_say(kit *k, kit_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- models ------------------------------------------------------------ */
typedef struct kit_model {
    fivo_params *params;
    fivo_model model;
    bool open;
} kit_model;

/* Opens the model as the host would: the kit's settings, then `extra`
 * ("KEY=VALUE", NULL-terminated, may be NULL), checked and defaulted by
 * fivo_plugin_apply_options, then fivo_model_open. With apply false the
 * options are applied before `extra`, which goes to the plugin unchecked
 * (what the plugin itself refuses). spec NULL: the kit's. */
fivo_status kit_model_open(kit *k, kit_model *m, const char *const *extra, bool apply,
                           const fivo_data_spec *spec, uint64_t seed, fivo_error *err);
/* The [model] config kit_model_open builds (free with fivo_config_free). */
fivo_status kit_config(kit *k, const char *const *extra, bool apply, fivo_config **out,
                       fivo_error *err);
void kit_model_close(kit_model *m);
/* Opens with the kit's settings only; on failure notes why and returns false. */
bool kit_model_open_default(kit *k, kit_model *m);

/* All values of every parameter, concatenated (malloc'd; *n values). */
float *kit_param_values(const fivo_params *p, size_t *n);

/* The SMC engine with `crit` (and resampler, unless NEVER): ctx reset,
 * seeded with (seed, step), grad on or off. */
fivo_status kit_smc(fivo_ctx *ctx, const fivo_model *m, const fivo_batch *batch, int particles,
                    fivo_criterion crit, const fivo_resampler *resampler, uint64_t seed,
                    uint64_t step, bool grad, fivo_smc_result *res, fivo_error *err);
/* IWAE: kit_smc that never resamples. */
fivo_status kit_iwae(fivo_ctx *ctx, const fivo_model *m, const fivo_batch *batch, int particles,
                     uint64_t seed, uint64_t step, bool grad, fivo_smc_result *res,
                     fivo_error *err);

/* ---- data -------------------------------------------------------------- */
/* A batch of the single sequence b of the kit's batch, with its own length
 * as max_len and seq_ids {b} (so the SMC engine draws the same numbers for
 * it). Storage in *buf (free with free()). */
fivo_batch kit_single_sequence(const kit *k, int b, float **buf);

/* True when every value is finite. */
bool kit_all_finite(const float *x, size_t n);
/* rows x cols of t as "3x1". */
const char *kit_shape(const fivo_tensor *t, char *buf, size_t n);

#endif
