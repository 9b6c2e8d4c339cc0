/* The host's typed settings (see settings.h): every row with a field is
 * read once; shards and threads are resolved once. */
#include "settings.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <fivo/internal/comm.h>
#include <fivo/options.h>
#include <fivo/internal/shards.h>
#include <fivo/internal/threads.h>

#include "configure.h"
#include "flags.h"

static int read_row(const fivo_config *cfg, const fivo_host_flag *f, fivo_host_settings *s)
{
    char *at = (char *)s + (f->field - 1);
    fivo_error err = {0};
    fivo_status st = FIVO_OK;
    switch (f->type) {
    case FIVO_OPTION_INT: st = fivo_config_get_int(cfg, f->section, f->key, 0, (long *)at, &err); break;
    case FIVO_OPTION_DOUBLE:
        st = fivo_config_get_double(cfg, f->section, f->key, 0.0, (double *)at, &err);
        break;
    case FIVO_OPTION_BOOL:
        st = fivo_config_get_bool(cfg, f->section, f->key, false, (bool *)at, &err);
        break;
    case FIVO_OPTION_STRING:
        st = fivo_config_get_string(cfg, f->section, f->key, NULL, (const char **)at, &err);
        break;
    }
    /* Absent: a row without default the user left unset (0, false, NULL). */
    if (st != FIVO_OK && st != FIVO_ERR_NOT_FOUND)
        return fivo_host_usage_error("%s", err.message);
    return 0;
}

int fivo_host_settings_fill(const fivo_config *cfg, fivo_host_settings *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < fivo_host_num_flags; i++) {
        const fivo_host_flag *f = &fivo_host_flags[i];
        int rc = f->field != 0 ? read_row(cfg, f, s) : 0;
        if (rc != 0)
            return rc;
    }
    if (s->early_stopping_patience > 0 && s->eval_every == 0)
        return fivo_host_usage_error("[train] early_stopping_patience = %ld needs eval_every > 0 "
                                     "(it counts evaluations on the [eval] split)",
                                     s->early_stopping_patience);
    /* The score terms' tensors live across the SMC loop: no segments;
     * the baseline is averaged over the global batch on one process. */
    if (s->use_resampling_grads && strcmp(s->mode, "train") == 0) {
        if (s->memory_budget_mb > 0 && fivo_option_is_set(cfg, "train", "memory_budget_mb"))
            return fivo_host_usage_error(
                "[train] use_resampling_grads keeps the whole tape of a step (its score terms "
                "live across the SMC loop): unset [train] memory_budget_mb (%g) or set it to 0",
                s->memory_budget_mb);
        if (fivo_comm_size() > 1)
            return fivo_host_usage_error("[train] use_resampling_grads: not supported on %d MPI "
                                         "ranks yet (its baseline needs the whole batch's "
                                         "rewards); run on one process (--shards and --threads "
                                         "give the same bits)",
                                         fivo_comm_size());
    }
    /* shards 0: one sequence per shard, so any rank count dividing the
     * batch works with no flag, and the bits never depend on it. */
    if (s->shards == 0)
        s->shards = s->batch_size;
    if (strcmp(s->mode, "train") == 0) {
        fivo_error err = {0};
        if (fivo_shards_check((int)s->batch_size, (int)s->shards, fivo_comm_size(), &err) != FIVO_OK)
            return fivo_host_usage_error("%s", err.message);
    }
    /* threads 0: every core this process may use, shared by the ranks on
     * this machine (the library never guesses a count). */
    if (s->threads == 0) {
        int local = fivo_comm_local_size() > 0 ? fivo_comm_local_size() : 1;
        s->threads = fivo_threads_available() / local > 0 ? fivo_threads_available() / local : 1;
    }
    return 0;
}
