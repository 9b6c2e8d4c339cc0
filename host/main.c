/* The fivo executable: parses flags (the reference's names, see flags.c),
 * merges them over an optional key file, finds the plugins, checks every
 * key and value, and runs the mode. Exit codes: 0 success, 1 the mode
 * failed (missing plugin, bad data, I/O), 2 bad command line or config. */
#define _POSIX_C_SOURCE 200809L /* SIGXFSZ */
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <fivo/internal/comm.h>
#include <fivo/fivo.h>
#include <fivo/internal/closest_name.h>
#include <fivo/internal/registry.h>

#include "configure.h"
#include "flags.h"
#include "modes.h"
#include "run_config.h"
#include "size_limits.h"


/* What runs each mode. The modes themselves are the choices of the
 * [fivo] mode row (flags.c), the one list; a choice without a runner here
 * is caught by HostCli.EveryModeRuns. */
typedef struct mode_runner {
    const char *name;
    int (*run)(fivo_host *h);
} mode_runner;

static const mode_runner RUNNERS[] = {
    {"train", fivo_host_run_train},     {"eval", fivo_host_run_eval},
    {"sample", fivo_host_run_sample},   {"convert", fivo_host_run_convert},
    {"inspect", fivo_host_run_inspect}, {"plugins", fivo_host_run_plugins},
    {"plot", fivo_host_run_plot},
};

static const char *mode_choices(void) { return fivo_host_flag_find("mode")->choices; }

static bool is_mode(const char *s)
{
    char **modes = g_strsplit(mode_choices(), "|", -1);
    bool found = g_strv_contains((const char *const *)modes, s);
    g_strfreev(modes);
    return found;
}

static int unknown_flag(const char *name)
{
    GPtrArray *names = g_ptr_array_new();
    for (size_t i = 0; i < fivo_host_num_flags; i++)
        g_ptr_array_add(names, (gpointer)fivo_host_flags[i].flag);
    g_ptr_array_add(names, "config");
    g_ptr_array_add(names, "set");
    g_ptr_array_add(names, "help");
    g_ptr_array_add(names, "version");
    const char *best = fivo_closest_name(name, (const char *const *)names->pdata, names->len);
    int rc = fivo_host_usage_error("unknown flag --%s; did you mean --%s?", name, best);
    g_ptr_array_free(names, TRUE);
    return rc;
}

typedef struct cli {
    bool help, version;
    const char *config_path;
} cli;

/* "section.key=value" from --set. */
static int apply_set(fivo_config *cfg, const char *arg)
{
    const char *dot = strchr(arg, '.');
    const char *eq = strchr(arg, '=');
    if (dot == NULL || eq == NULL || dot > eq || dot == arg || eq == dot + 1)
        return fivo_host_usage_error("--set %s: expected SECTION.KEY=VALUE", arg);
    char *section = g_strndup(arg, (gsize)(dot - arg));
    char *key = g_strndup(dot + 1, (gsize)(eq - dot - 1));
    fivo_config_set_from(cfg, section, key, eq + 1, "--set");
    g_free(section);
    g_free(key);
    return 0;
}

static int parse_args(int argc, char **argv, fivo_config *cfg, cli *c)
{
    bool have_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0) {
            c->help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (!have_positional && is_mode(a)) {
                have_positional = true;
                fivo_config_set_from(cfg, "fivo", "mode", a, "command line");
                continue;
            }
            return fivo_host_usage_error("unexpected argument '%s' (modes: %s)", a, mode_choices());
        }
        const char *body = a + 2;
        const char *eq = strchr(body, '=');
        char *name = eq != NULL ? g_strndup(body, (gsize)(eq - body)) : g_strdup(body);
        const char *value = eq != NULL ? eq + 1 : NULL;
        int rc = 0;
        if (strcmp(name, "help") == 0) {
            c->help = true;
        } else if (strcmp(name, "version") == 0) {
            c->version = true;
        } else if (strcmp(name, "config") == 0 || strcmp(name, "set") == 0) {
            if (value == NULL && i + 1 < argc)
                value = argv[++i];
            if (value == NULL || value[0] == '\0')
                rc = fivo_host_usage_error("--%s needs a value", name);
            else if (name[0] == 'c')
                c->config_path = value;
            else
                rc = apply_set(cfg, value);
        } else {
            const fivo_host_flag *f = fivo_host_flag_find(name);
            if (f == NULL && value == NULL && g_str_has_prefix(name, "no")) {
                /* --noflag for bool flags, as absl/gflags accept */
                const fivo_host_flag *neg = fivo_host_flag_find(name + 2);
                if (neg != NULL && neg->type == FIVO_OPTION_BOOL) {
                    f = neg;
                    value = "false";
                }
            }
            if (f == NULL) {
                rc = unknown_flag(name);
            } else {
                if (value == NULL && f->type == FIVO_OPTION_BOOL)
                    value = "true";
                if (value == NULL && i + 1 < argc)
                    value = argv[++i];
                if (value == NULL)
                    rc = fivo_host_usage_error("--%s needs a value ([%s] %s)", f->flag, f->section, f->key);
                else {
                    char *origin = g_strdup_printf("--%s", f->flag);
                    fivo_config_set_from(cfg, f->section, f->key, value, origin);
                    g_free(origin);
                }
            }
        }
        g_free(name);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Copies every key of `file` into `cfg` unless already set (flags win). */
static void merge_under(fivo_config *cfg, const fivo_config *file)
{
    const char *const *sections = fivo_config_sections(file);
    for (int s = 0; sections[s] != NULL; s++) {
        const char *const *keys = fivo_config_keys(file, sections[s]);
        for (int k = 0; keys[k] != NULL; k++) {
            if (fivo_config_has(cfg, sections[s], keys[k]))
                continue;
            const char *v = NULL;
            fivo_config_get_string(file, sections[s], keys[k], NULL, &v, NULL);
            fivo_config_set_from(cfg, sections[s], keys[k], v,
                                 fivo_config_origin(file, sections[s], keys[k]));
        }
    }
}

static int run(int argc, char **argv)
{
    fivo_config *cfg = fivo_config_new();
    fivo_config *file_cfg = NULL;
    fivo_registry *reg = NULL;
    char *metrics_path = NULL;
    cli c = {0};
    fivo_error err = {0};
    int rc = parse_args(argc, argv, cfg, &c);
    if (rc != 0)
        goto out;
    if (c.version) {
        printf("fivo %s, plugin ABI %u.%u\n", FIVO_HOST_VERSION, FIVO_ABI_MAJOR, FIVO_ABI_MINOR);
        goto out;
    }
    if (c.config_path != NULL) {
        file_cfg = fivo_config_new();
        if (fivo_config_load_file(file_cfg, c.config_path, false, &err) != FIVO_OK) {
            rc = fivo_host_usage_error("%s", err.message);
            goto out;
        }
        merge_under(cfg, file_cfg);
    }
    /* eval, sample or a resumed train in a run's logdir: its settings */
    if ((rc = fivo_host_run_config_inherit(cfg)) != 0)
        goto out;
    reg = fivo_registry_new();
    if (fivo_registry_scan_default(reg, cfg, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        rc = 1;
        goto out;
    }
    if (c.help) {
        fivo_host_print_help(stdout, reg);
        goto out;
    }
    fivo_host h = {.cfg = cfg, .reg = reg};
    if ((rc = fivo_host_configure(cfg, reg, c.config_path, &h.set)) != 0)
        goto out;

    h.logdir = h.set.logdir;
    metrics_path = g_build_filename(h.logdir, "metrics.jsonl", NULL);
    h.metrics_path = metrics_path;
    if ((rc = fivo_host_check_sizes(&h)) != 0) /* absurd sizes: refused before any allocation */
        goto out;
    const mode_runner *runner = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(RUNNERS); i++)
        if (strcmp(h.set.mode, RUNNERS[i].name) == 0)
            runner = &RUNNERS[i];
    if (runner == NULL) {
        fprintf(stderr, "fivo: error: mode '%s' has no runner in this build\n", h.set.mode);
        rc = 1;
        goto out;
    }
    rc = runner->run(&h);
out:
    g_free(metrics_path);
    fivo_registry_free(reg);
    fivo_config_free(file_cfg);
    fivo_config_free(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    /* Past a file-size limit (ulimit -f) write() then fails with EFBIG,
     * reported and cleaned up like ENOSPC, instead of a silent kill. */
    signal(SIGXFSZ, SIG_IGN);
    /* MPI starts only under an MPI launcher (fivo/comm.h); else one process. */
    fivo_error err = {0};
    if (fivo_comm_init(&argc, &argv, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    int rc = run(argc, argv);
    fivo_comm_finalize();
    return rc;
}
