/* Up-front memory estimate (see size_limits.h). The estimate is a lower
 * bound that holds for every bundled model: a latent_size x latent_size
 * matrix with its gradient and two Adam moments, and per step a few
 * (batch x particles) x latent_size activations; the true need is larger,
 * so anything refused here could never have run. */
#define _POSIX_C_SOURCE 200809L
#include "size_limits.h"

#include <fivo/smc.h>
#include <fivo/internal/registry.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define ACTIVATIONS_PER_STEP 8 /* rows x latent tensors one step keeps at least */

static double memory_here(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    double bytes = pages > 0 && page > 0 ? (double)pages * (double)page : 0.0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (bytes == 0.0 || (double)rl.rlim_cur < bytes))
        bytes = (double)rl.rlim_cur;
    return bytes;
}

static void human(double bytes, char *out, size_t n)
{
    static const char *const unit[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 6) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(out, n, "%.1f %s", bytes, unit[u]);
}

int fivo_host_check_sizes(const fivo_host *h)
{
    const char *mode = h->set.mode;
    if (strcmp(mode, "train") != 0 && strcmp(mode, "eval") != 0 && strcmp(mode, "sample") != 0)
        return 0;
    /* The rows checked each size (>= 1); this checks their product. */
    long batch = h->set.batch_size, particles = h->set.num_samples, latent = 1;
    /* latent_size counts only for a model that declares it (not the GHMM);
     * the model's row has filled and checked it. */
    const fivo_plugin_info *info =
        h->set.model != NULL ? fivo_registry_find(h->reg, FIVO_PLUGIN_MODEL, h->set.model) : NULL;
    if (info != NULL && fivo_plugin_option(info, "latent_size") != NULL)
        fivo_config_get_int(h->cfg, "model", "latent_size", 1, &latent, NULL);
    double rows = (double)batch * (double)particles;
    if (rows > (double)FIVO_SMC_MAX_ROWS) {
        fprintf(stderr, "fivo: error: batch_size %ld x num_samples %ld = %.0f rows per step, "
                        "more than the %d rows a filter can hold\n",
                batch, particles, rows, FIVO_SMC_MAX_ROWS);
        return 2;
    }
    double params = (double)latent * (double)latent * 4.0 * sizeof(float);
    double acts = rows * (double)latent * ACTIVATIONS_PER_STEP * sizeof(float);
    double have = memory_here();
    if (have > 0.0 && params + acts > have) {
        char need_s[32], params_s[32], acts_s[32], have_s[32];
        human(params + acts, need_s, sizeof need_s);
        human(params, params_s, sizeof params_s);
        human(acts, acts_s, sizeof acts_s);
        human(have, have_s, sizeof have_s);
        fprintf(stderr,
                "fivo: error: batch_size %ld, num_samples %ld, latent_size %ld would need at "
                "least %s (%s for a latent_size^2 matrix with its gradient and Adam moments, "
                "%s for one step's activations), more than the %s of memory here; use smaller "
                "sizes\n",
                batch, particles, latent, need_s, params_s, acts_s, have_s);
        return 2;
    }
    return 0;
}
