/* Per-batch eval records gathered from every rank and replayed in batch
 * order (see eval_records.h). A record is doubles:
 *   index, B, log_weight_var, resample_rate, then per sequence
 *   length, log p-hat (a float, exact as a double), exact log-likelihood. */
#include <stdlib.h>
#include <string.h>

#include <fivo/internal/comm.h>

#include "eval_records.h"

enum { HEAD = 4, PER_SEQ = 3 };

static void put(fivo_eval_records *r, double x)
{
    if (r->oom)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        double *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL) {
            r->oom = true;
            return;
        }
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = x;
}

void fivo_eval_records_add(fivo_eval_records *r, uint64_t index, const fivo_batch *batch,
                           const fivo_smc_result *res, const double *ll)
{
    put(r, (double)index);
    put(r, (double)batch->batch_size);
    put(r, res->log_weight_var);
    put(r, res->resample_rate);
    for (int b = 0; b < batch->batch_size; b++) {
        put(r, (double)batch->lengths[b]);
        put(r, (double)res->log_phat->data[b]);
        put(r, ll != NULL ? ll[b] : 0.0);
    }
}

/* Visits the gathered records in batch order. */
static fivo_status replay(const double *v, int n, bool exact, fivo_eval_visit_fn visit,
                          void *user, int num_particles, fivo_error *err)
{
    /* Batch index -> offset; every index 0..nb-1 comes from exactly one rank. */
    int nb = 0, maxb = 0;
    for (int off = 0; off + HEAD <= n; off += HEAD + PER_SEQ * (int)v[off + 1]) {
        nb++;
        if ((int)v[off + 1] > maxb)
            maxb = (int)v[off + 1];
    }
    int *at = malloc(sizeof(int) * (size_t)(nb ? nb : 1));
    int32_t *lengths = malloc(sizeof(int32_t) * (size_t)(maxb ? maxb : 1));
    float *lp = malloc(sizeof(float) * (size_t)(maxb ? maxb : 1));
    double *ll = malloc(sizeof(double) * (size_t)(maxb ? maxb : 1));
    fivo_status st = FIVO_OK;
    if (at == NULL || lengths == NULL || lp == NULL || ll == NULL) {
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "eval: out of memory replaying %d batches", nb);
        goto out;
    }
    for (int i = 0; i < nb; i++)
        at[i] = -1;
    for (int off = 0; off + HEAD <= n; off += HEAD + PER_SEQ * (int)v[off + 1]) {
        double idx = v[off];
        if (!(idx >= 0 && idx < nb) || at[(int)idx] >= 0) {
            st = fivo_error_set(err, FIVO_ERR_INVALID,
                                "eval: gathered batch %.0f is out of place (%d batches)", idx, nb);
            goto out;
        }
        at[(int)idx] = off;
    }
    for (int i = 0; i < nb && st == FIVO_OK; i++) {
        const double *rec = v + at[i];
        int B = (int)rec[1];
        fivo_batch batch;
        memset(&batch, 0, sizeof batch);
        batch.batch_size = B;
        batch.lengths = lengths;
        for (int b = 0; b < B; b++) {
            lengths[b] = (int32_t)rec[HEAD + PER_SEQ * b];
            lp[b] = (float)rec[HEAD + PER_SEQ * b + 1];
            ll[b] = rec[HEAD + PER_SEQ * b + 2];
            if (lengths[b] > batch.max_len)
                batch.max_len = lengths[b];
        }
        fivo_tensor phat = {.rows = B, .cols = 1, .data = lp, .grad = NULL, .node = -1};
        fivo_smc_result res;
        memset(&res, 0, sizeof res);
        res.log_phat = &phat;
        res.batch_size = B;
        res.max_len = batch.max_len;
        res.num_particles = num_particles;
        res.log_weight_var = rec[2];
        res.resample_rate = rec[3];
        st = visit(user, &batch, &res, exact ? ll : NULL, err);
    }
out:
    free(at);
    free(lengths);
    free(lp);
    free(ll);
    return st;
}

fivo_status fivo_eval_records_replay(fivo_eval_records *r, fivo_status st,
                                     fivo_eval_visit_fn visit, void *user, int num_particles,
                                     bool exact, fivo_error *err)
{
    if (st == FIVO_OK && r->oom)
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "eval: out of memory keeping batch results");
    if (r->n > (size_t)INT32_MAX && st == FIVO_OK)
        st = fivo_error_set(err, FIVO_ERR_INVALID, "eval: too many results on one rank");
    st = fivo_comm_agree(st, err, NULL, 0);
    double *all = NULL;
    int n_all = 0;
    if (st == FIVO_OK)
        st = fivo_comm_gather_doubles(r->v, (int)r->n, &all, &n_all, err);
    free(r->v);
    memset(r, 0, sizeof *r);
    if (st == FIVO_OK)
        st = replay(all, n_all, exact, visit, user, num_particles, err);
    free(all);
    return st;
}
