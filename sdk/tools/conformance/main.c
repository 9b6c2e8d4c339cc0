/* fivo-model-check: runs the conformance kit (fivo/conformance.h) against a
 * model plugin file. Exit status 0: every check passed (or was skipped);
 * 1: a check failed; 2: bad usage or a file that is not a model plugin. */
#include <fivo/conformance.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 256

static void usage(FILE *f)
{
    fputs("usage: fivo-model-check [options] PLUGIN.so\n"
          "Checks a fivo model plugin the way fivo's own model tests do.\n\n"
          "  --set [model.]KEY=VALUE  a [model] setting (repeatable)\n"
          "  --bad [model.]KEY=VALUE  a value the model must refuse (repeatable)\n"
          "  --dim N                  data width (default 5)\n"
          "  --kind binary|real       data kind (default binary)\n"
          "  --lengths L1,L2,...      one test sequence per length (default 4,3)\n"
          "  --particles N            particles per sequence (default 2)\n"
          "  --seed N                 parameter, data and noise seed (default 1)\n"
          "  --grad-h H --grad-tol E --grad-floor F --grad-samples N\n"
          "                           finite differences (default 2e-3, 5e-2, 0.1, 24 per tensor; 0: all)\n"
          "  --ll-particles N --ll-reps N --ll-tol NATS\n"
          "                           log_likelihood vs IWAE (default 1024, 8, 0.1)\n"
          "  --resampler FILE.so|NAME resampler of gradient_resampled: a plugin file, or the name\n"
          "                           of a bundled one (default: multinomial)\n"
          "  --resampled-particles N  its particles (default 3)\n"
          "  --strict-options         the plugin itself must refuse values of the wrong type or\n"
          "                           outside the choices (the host refuses them anyway)\n"
          "  --only NAME[,NAME...]    run only these checks (repeatable)\n"
          "  --no-fork                run checks in this process (a crash ends the run)\n"
          "  --list                   list the checks and exit\n"
          "  -v, --verbose            detail lines for passing checks too\n"
          "  -h, --help\n",
          f);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0))
        return -1;
    *out = v;
    return 0;
}

/* Appends the comma-separated names of `s` (modified in place) to list. */
static int split_into(char *s, const char **list, int *n)
{
    for (char *p = strtok(s, ","); p != NULL; p = strtok(NULL, ",")) {
        if (*n >= MAX_LIST - 1)
            return -1;
        list[(*n)++] = p;
    }
    list[*n] = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *settings[MAX_LIST], *bad[MAX_LIST], *only[MAX_LIST];
    static int lengths[MAX_LIST];
    int ns = 0, nb = 0, no = 0;
    fivo_conformance_options o;
    fivo_conformance_defaults(&o);
    o.isolate = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l = 0;
        int bad_value = 0;
#define TAKES_VALUE                                                                \
    do {                                                                           \
        if (v == NULL) {                                                           \
            fprintf(stderr, "fivo-model-check: %s needs a value\n", a);            \
            return 2;                                                              \
        }                                                                          \
        i++;                                                                       \
    } while (0)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--list") == 0) {
            for (int c = 0; c < fivo_conformance_count(); c++)
                printf("%-16s %s\n", fivo_conformance_name(c), fivo_conformance_summary(c));
            return 0;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o.verbose = 1;
        } else if (strcmp(a, "--strict-options") == 0) {
            o.strict_options = 1;
        } else if (strcmp(a, "--no-fork") == 0) {
            o.isolate = 0;
        } else if (strcmp(a, "--set") == 0 || strcmp(a, "--bad") == 0) {
            TAKES_VALUE;
            const char **list = a[2] == 's' ? settings : bad;
            int *n = a[2] == 's' ? &ns : &nb;
            if (*n >= MAX_LIST - 1 || strchr(v, '=') == NULL) {
                fprintf(stderr, "fivo-model-check: %s %s: expected KEY=VALUE\n", a, v);
                return 2;
            }
            list[(*n)++] = v;
            list[*n] = NULL;
        } else if (strcmp(a, "--only") == 0) {
            TAKES_VALUE;
            bad_value = split_into(argv[i], only, &no);
        } else if (strcmp(a, "--dim") == 0) {
            TAKES_VALUE;
            bad_value = parse_int(v, 1, 1 << 20, &l);
            o.dim = (int)l;
        } else if (strcmp(a, "--kind") == 0) {
            TAKES_VALUE;
            o.kind = v;
        } else if (strcmp(a, "--lengths") == 0) {
            TAKES_VALUE;
            int n = 0;
            for (char *p = strtok(argv[i], ","); p != NULL && !bad_value; p = strtok(NULL, ",")) {
                bad_value = n >= MAX_LIST || parse_int(p, 1, 1 << 20, &l) != 0;
                if (!bad_value)
                    lengths[n++] = (int)l;
            }
            bad_value = bad_value || n == 0;
            o.lengths = lengths;
            o.num_lengths = n;
        } else if (strcmp(a, "--particles") == 0) {
            TAKES_VALUE;
            bad_value = parse_int(v, 1, 1 << 20, &l);
            o.particles = (int)l;
        } else if (strcmp(a, "--seed") == 0) {
            TAKES_VALUE;
            bad_value = parse_int(v, 0, 0x7fffffffL, &l);
            o.seed = (uint64_t)l;
        } else if (strcmp(a, "--grad-h") == 0) {
            TAKES_VALUE;
            bad_value = parse_double(v, &o.grad_h);
        } else if (strcmp(a, "--grad-tol") == 0) {
            TAKES_VALUE;
            bad_value = parse_double(v, &o.grad_tol);
        } else if (strcmp(a, "--grad-floor") == 0) {
            TAKES_VALUE;
            bad_value = parse_double(v, &o.grad_floor);
        } else if (strcmp(a, "--grad-samples") == 0) {
            TAKES_VALUE;
            bad_value = parse_int(v, 0, 1 << 30, &l);
            o.grad_samples = (int)l;
        } else if (strcmp(a, "--ll-particles") == 0) {
            TAKES_VALUE;
            bad_value = parse_int(v, 1, 1 << 20, &l);
            o.ll_particles = (int)l;
        } else if (strcmp(a, "--ll-reps") == 0) {
            TAKES_VALUE;
            bad_value = parse_int(v, 1, 1 << 16, &l);
            o.ll_reps = (int)l;
        } else if (strcmp(a, "--resampler") == 0) {
            TAKES_VALUE;
            size_t n = strlen(v);
            if (strchr(v, '/') != NULL || (n > 3 && strcmp(v + n - 3, ".so") == 0))
                o.resampler_file = v;
            else
                o.resampler_name = v;
        } else if (strcmp(a, "--resampled-particles") == 0) {
            TAKES_VALUE;
            bad_value = parse_int(v, 1, 1 << 20, &l);
            o.resampled_particles = (int)l;
        } else if (strcmp(a, "--ll-tol") == 0) {
            TAKES_VALUE;
            bad_value = parse_double(v, &o.ll_tol);
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "fivo-model-check: unknown option %s (see --help)\n", a);
            return 2;
        } else if (o.plugin_file == NULL) {
            o.plugin_file = a;
        } else {
            fprintf(stderr, "fivo-model-check: one plugin file at a time (%s and %s)\n",
                    o.plugin_file, a);
            return 2;
        }
        if (bad_value) {
            fprintf(stderr, "fivo-model-check: %s %s: not a valid value\n", a, v);
            return 2;
        }
#undef TAKES_VALUE
    }
    if (o.plugin_file == NULL) {
        usage(stderr);
        return 2;
    }
    o.settings = ns > 0 ? settings : NULL;
    o.bad_values = nb > 0 ? bad : NULL;
    o.only = no > 0 ? only : NULL;
    fivo_error err = {0};
    int failed = fivo_conformance_run(&o, stdout, &err);
    if (failed < 0) {
        fprintf(stderr, "fivo-model-check: %s\n", err.message);
        return 2;
    }
    return failed > 0 ? 1 : 0;
}
