/* Restoring a checkpoint on every rank from rank 0's read of it, so all
 * ranks start from the same bits even without a shared file system, and a
 * failure to read is one error on every rank (see modes.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/internal/checkpoint.h>
#include <fivo/internal/comm.h>
#include <fivo/internal/optim.h>

#include "modes.h"

typedef struct restore_head {
    int32_t status;
    fivo_checkpoint_meta meta;
    char used[1024];
    char message[FIVO_ERROR_MESSAGE_MAX];
} restore_head;

fivo_status fivo_host_restore(const char *logdir, const char *path, fivo_params *params,
                              fivo_adam *adam, fivo_checkpoint_meta *meta, char **used,
                              fivo_error *err)
{
    if (used != NULL)
        *used = NULL;
    if (fivo_comm_size() <= 1)
        return path != NULL ? fivo_checkpoint_load(path, params, adam, meta, err)
                            : fivo_checkpoint_restore_latest(logdir, params, adam, meta, used, err);
    restore_head *h = calloc(1, sizeof *h);
    if (h == NULL)
        fivo_comm_abort(1, "out of memory restoring a checkpoint");
    if (fivo_comm_rank() == 0) {
        char *u = NULL;
        fivo_error e = {0};
        fivo_status st = path != NULL
                             ? fivo_checkpoint_load(path, params, adam, &h->meta, &e)
                             : fivo_checkpoint_restore_latest(logdir, params, adam, &h->meta, &u, &e);
        h->status = (int32_t)st;
        snprintf(h->used, sizeof h->used, "%s", u != NULL ? u : (path != NULL ? path : ""));
        snprintf(h->message, sizeof h->message, "%s", e.message);
        free(u);
    }
    fivo_status st = fivo_comm_broadcast(h, sizeof *h, 0, err);
    if (st == FIVO_OK && h->status == FIVO_OK) {
        /* Parameters, then (when training) Adam's moments, in store order. */
        for (int i = 0; st == FIVO_OK && i < fivo_params_count(params); i++) {
            fivo_tensor *t = fivo_params_at(params, i, NULL);
            size_t n = fivo_tensor_size(t) * sizeof(float);
            st = fivo_comm_broadcast(t->data, n, 0, err);
            for (int w = 0; adam != NULL && st == FIVO_OK && w < 2; w++)
                st = fivo_comm_broadcast(fivo_adam_moment(adam, i, w), n, 0, err);
        }
        if (adam != NULL)
            fivo_adam_set_step(adam, h->meta.adam_step);
    }
    if (st == FIVO_OK) {
        st = (fivo_status)h->status;
        if (st != FIVO_OK)
            fivo_error_set(err, st, "%s", h->message);
        if (meta != NULL)
            *meta = h->meta;
        if (st == FIVO_OK && used != NULL)
            *used = strdup(h->used);
    }
    free(h);
    return st;
}
