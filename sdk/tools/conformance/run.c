/* fivo_conformance_run: loads the plugin file, makes the test batch, runs
 * the chosen checks (each optionally in a child process, so a crash is a
 * FAIL of that check, not the end of the report) and prints the verdicts. */
#define _POSIX_C_SOURCE 200809L

#include "kit.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fivo/internal/registry.h>

static const int DEFAULT_LENGTHS[] = {4, 3};

void fivo_conformance_defaults(fivo_conformance_options *o)
{
    memset(o, 0, sizeof *o);
    o->dim = 5;
    o->kind = "binary";
    o->lengths = DEFAULT_LENGTHS;
    o->num_lengths = 2;
    o->particles = 2;
    o->seed = 1;
    o->grad_h = 2e-3;
    o->grad_floor = 0.1;
    o->grad_tol = 5e-2;
    o->grad_samples = 24;
    o->ll_particles = 1024;
    o->ll_reps = 8;
    o->ll_tol = 0.1;
    o->resampled_particles = 3;
    o->resampler_name = "multinomial";
}

int fivo_conformance_count(void) { return kit_num_checks; }

const char *fivo_conformance_name(int i)
{
    return i >= 0 && i < kit_num_checks ? kit_checks[i].name : NULL;
}

const char *fivo_conformance_summary(int i)
{
    return i >= 0 && i < kit_num_checks ? kit_checks[i].summary : NULL;
}

static bool chosen(const fivo_conformance_options *o, const char *name)
{
    if (o->only == NULL)
        return true;
    for (size_t i = 0; o->only[i] != NULL; i++)
        if (strcmp(o->only[i], name) == 0)
            return true;
    return false;
}

/* Binary frames: Bernoulli(mean_j), mean_j = 0.2 + 0.5 j / D; inputs are the
 * targets shifted one step and centred by the mean (the pianoroll reader's
 * layout). Real frames: standard normals, inputs shifted, not centred. */
static fivo_status make_batch(kit *k, fivo_error *err)
{
    const fivo_conformance_options *o = k->o;
    const bool binary = strcmp(o->kind, "binary") == 0;
    k->B = o->num_lengths;
    k->D = o->dim;
    k->T = 0;
    for (int b = 0; b < k->B; b++)
        if (o->lengths[b] > k->T)
            k->T = o->lengths[b];
    const size_t n = (size_t)k->T * k->B * k->D;
    k->inputs = calloc(n, sizeof(float));
    k->targets = calloc(n, sizeof(float));
    k->lengths = calloc((size_t)k->B, sizeof(int32_t));
    k->seq_ids = calloc((size_t)k->B, sizeof(int32_t));
    k->mean = calloc((size_t)k->D, sizeof(double));
    float *u = calloc((size_t)k->D, sizeof(float));
    if (!k->inputs || !k->targets || !k->lengths || !k->seq_ids || !k->mean || !u) {
        free(u);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory");
    }
    for (int j = 0; j < k->D; j++)
        k->mean[j] = 0.2 + 0.5 * j / k->D;
    for (int b = 0; b < k->B; b++) {
        k->lengths[b] = o->lengths[b];
        k->seq_ids[b] = b;
        for (int t = 0; t < k->lengths[b]; t++) {
            fivo_rng r = fivo_rng_make(o->seed, FIVO_RNG_DATA, (uint64_t)t);
            if (binary)
                fivo_rng_uniform(&r, (uint32_t)b, u, k->D);
            else
                fivo_rng_normal(&r, (uint32_t)b, u, k->D);
            for (int j = 0; j < k->D; j++) {
                float x = binary ? (u[j] < k->mean[j] ? 1.0f : 0.0f) : u[j];
                k->targets[((size_t)t * k->B + b) * k->D + j] = x;
                if (t + 1 < k->lengths[b])
                    k->inputs[((size_t)(t + 1) * k->B + b) * k->D + j] =
                        binary ? x - (float)k->mean[j] : x;
            }
        }
    }
    free(u);
    k->batch = (fivo_batch){.max_len = k->T,
                            .batch_size = k->B,
                            .dim = k->D,
                            .inputs = k->inputs,
                            .targets = k->targets,
                            .lengths = k->lengths,
                            .seq_ids = NULL};
    k->spec = (fivo_data_spec){.dim = k->D,
                               .kind = binary ? "binary" : "real",
                               .mean = binary ? k->mean : NULL,
                               .num_timesteps = k->T};
    return FIVO_OK;
}

static fivo_status check_options(const fivo_conformance_options *o, fivo_error *err)
{
    if (o->plugin_file == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "no plugin file given");
    if (o->kind == NULL || (strcmp(o->kind, "binary") != 0 && strcmp(o->kind, "real") != 0))
        return fivo_error_set(err, FIVO_ERR_INVALID, "data kind '%s': expected binary or real",
                              o->kind ? o->kind : "(null)");
    if (o->dim < 1 || o->num_lengths < 1 || o->lengths == NULL || o->particles < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "dim, lengths and particles must be positive");
    for (int b = 0; b < o->num_lengths; b++)
        if (o->lengths[b] < 1)
            return fivo_error_set(err, FIVO_ERR_INVALID, "length %d must be positive",
                                  o->lengths[b]);
    if (!(o->grad_h > 0) || !(o->grad_tol > 0) || !(o->grad_floor > 0) || o->grad_samples < 0 ||
        o->ll_particles < 1 || o->ll_reps < 1 || !(o->ll_tol > 0) || o->resampled_particles < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "tolerances and counts must be positive");
    for (size_t i = 0; o->only != NULL && o->only[i] != NULL; i++) {
        bool known = false;
        for (int c = 0; c < kit_num_checks; c++)
            known = known || strcmp(kit_checks[c].name, o->only[i]) == 0;
        if (!known)
            return fivo_error_set(err, FIVO_ERR_NOT_FOUND, "no check named '%s' (see --list)",
                                  o->only[i]);
    }
    return FIVO_OK;
}

/* The model plugin the file holds, or NULL with the registry's reason. */
static const fivo_plugin_info *find_model(kit *k, fivo_error *err)
{
    if (fivo_registry_load_file(k->reg, k->o->plugin_file, err) != FIVO_OK)
        return NULL;
    for (int i = 0; i < fivo_registry_count(k->reg); i++) {
        const fivo_plugin_info *p = fivo_registry_at(k->reg, i);
        if (p->kind == FIVO_PLUGIN_MODEL)
            return p;
        fivo_error_set(err, FIVO_ERR_INVALID, "%s: a %s plugin ('%s'), not a model", p->file,
                       fivo_plugin_kind_name(p->kind), p->name);
        return NULL;
    }
    if (fivo_registry_refused_count(k->reg) > 0)
        fivo_error_set(err, FIVO_ERR_ABI, "refused by the registry: %s",
                       fivo_registry_refused_at(k->reg, 0)->reason);
    else
        fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: no plugin found", k->o->plugin_file);
    return NULL;
}

/* The resampler of gradient_resampled, from its own registry (so the
 * bundled plugins never meet the model under test): the caller's file, or
 * the bundled one of that name. Its absence only skips that check. */
static void open_resampler(kit *k)
{
    const char *file = k->o->resampler_file;
    const char *name = k->o->resampler_name != NULL ? k->o->resampler_name : "multinomial";
    fivo_error err = {0};
    k->res_reg = fivo_registry_new();
    if (k->res_reg == NULL) {
        snprintf(k->resampler_why, sizeof k->resampler_why, "out of memory");
        return;
    }
    const fivo_plugin_info *r = NULL;
    if (file != NULL) {
        fivo_registry_load_file(k->res_reg, file, &err);
        for (int i = 0; i < fivo_registry_count(k->res_reg) && r == NULL; i++)
            if (fivo_registry_at(k->res_reg, i)->kind == FIVO_PLUGIN_RESAMPLER)
                r = fivo_registry_at(k->res_reg, i);
        if (r == NULL) {
            snprintf(k->resampler_why, sizeof k->resampler_why, "no resampler plugin in %.900s",
                     file);
            return;
        }
    } else {
        fivo_registry_scan_dir(k->res_reg, fivo_registry_builtin_dir(), &err);
        r = fivo_registry_find(k->res_reg, FIVO_PLUGIN_RESAMPLER, name);
        if (r == NULL) {
            snprintf(k->resampler_why, sizeof k->resampler_why,
                     "no bundled resampler '%.200s' in %.700s", name, fivo_registry_builtin_dir());
            return;
        }
        file = r->file;
    }
    fivo_config *cfg = fivo_config_new();
    fivo_status st = cfg != NULL ? fivo_plugin_apply_options(r, cfg, "resampler", NULL, &err)
                                 : FIVO_ERR_NOMEM;
    if (st == FIVO_OK)
        st = fivo_resampler_open(k->res_reg, r->name, cfg, &k->resampler, &err);
    fivo_config_free(cfg);
    k->have_resampler = st == FIVO_OK;
    if (!k->have_resampler)
        snprintf(k->resampler_why, sizeof k->resampler_why, "%.400s: %.600s", file, err.message);
}

static void print_verdict(kit *k, const kit_check *c, kit_verdict v)
{
    static const char *const WORD[] = {"PASS", "FAIL", "SKIP"};
    if (k->details != NULL && (v == KIT_FAIL || k->o->verbose))
        fputs(k->details, k->out);
    fprintf(k->out, "%s %s: %s\n", WORD[v], c->name, k->reason[0] ? k->reason : "-");
    fflush(k->out);
}

static kit_verdict run_here(kit *k, const kit_check *c)
{
    k->reason[0] = '\0';
    free(k->details);
    k->details = NULL;
    k->details_len = 0;
    kit_verdict v = c->run(k);
    print_verdict(k, c, v);
    free(k->details);
    k->details = NULL;
    k->details_len = 0;
    return v;
}

/* In a child: a crash, abort or exit() inside the plugin fails this check. */
static kit_verdict run_isolated(kit *k, const kit_check *c)
{
    fflush(k->out);
    pid_t pid = fork();
    if (pid < 0)
        return run_here(k, c);
    if (pid == 0) {
        kit_verdict v = run_here(k, c);
        fflush(NULL);
        _exit(100 + (int)v);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) >= 100 && WEXITSTATUS(status) <= 102)
        return (kit_verdict)(WEXITSTATUS(status) - 100);
    if (WIFSIGNALED(status))
        fprintf(k->out, "FAIL %s: crashed (signal %d, %s)\n", c->name, WTERMSIG(status),
                strsignal(WTERMSIG(status)));
    else
        fprintf(k->out, "FAIL %s: the process exited with status %d inside the check\n", c->name,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    fflush(k->out);
    return KIT_FAIL;
}

int fivo_conformance_run(const fivo_conformance_options *o, FILE *out, fivo_error *err)
{
    if (check_options(o, err) != FIVO_OK)
        return -1;
    kit k = {.o = o, .out = out != NULL ? out : stdout};
    int failed = -1;
    k.reg = fivo_registry_new();
    if (k.reg == NULL) {
        fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((k.info = find_model(&k, err)) == NULL || make_batch(&k, err) != FIVO_OK)
        goto done;
    if (chosen(o, "gradient_resampled"))
        open_resampler(&k);
    fprintf(k.out, "model '%s' %s (ABI %u.%u) from %s\n", k.info->name,
            k.info->version ? k.info->version : "?", k.info->abi_major, k.info->abi_minor,
            k.info->file);
    fprintf(k.out, "data: %s, dim %d, lengths", k.spec.kind, k.D);
    for (int b = 0; b < k.B; b++)
        fprintf(k.out, "%s%d", b ? "," : " ", k.lengths[b]);
    fprintf(k.out, "; %d particles; seed %llu\n", o->particles, (unsigned long long)o->seed);
    int passed = 0, skipped = 0;
    failed = 0;
    for (int i = 0; i < kit_num_checks; i++) {
        if (!chosen(o, kit_checks[i].name))
            continue;
        kit_verdict v = o->isolate ? run_isolated(&k, &kit_checks[i]) : run_here(&k, &kit_checks[i]);
        passed += v == KIT_PASS;
        failed += v == KIT_FAIL;
        skipped += v == KIT_SKIP;
    }
    fprintf(k.out, "%s: %d passed, %d failed, %d skipped\n", k.info->name, passed, failed,
            skipped);
    fflush(k.out);
done:
    if (k.have_resampler)
        fivo_resampler_close(&k.resampler);
    free(k.inputs);
    free(k.targets);
    free(k.lengths);
    free(k.seq_ids);
    free(k.mean);
    fivo_registry_free(k.reg);
    fivo_registry_free(k.res_reg);
    return failed;
}
