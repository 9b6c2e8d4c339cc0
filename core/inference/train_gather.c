/* The per-sequence results of a training step from every rank, in batch
 * order (ranks hold consecutive shards, shards consecutive sequences), then
 * the batch's resampling rate from the per-sequence counts (see
 * fivo/train_step.h). */
#include <stdlib.h>
#include <string.h>

#include <fivo/internal/comm.h>
#include <fivo/train_step.h>

fivo_status fivo_trainer_gather(fivo_trainer *t, fivo_error *err)
{
    if (t->ranks > 1) {
        int first, count, last_first, last_count;
        fivo_shard_range(t->batch_size, t->shards, t->first_shard, &first, &count);
        fivo_shard_range(t->batch_size, t->shards, t->first_shard + t->num_local - 1,
                         &last_first, &last_count);
        int n = last_first + last_count - first;
        enum { K = FIVO_TRAINER_SEQ_VALUES };
        for (int i = 0; i < n; i++) {
            double *m = t->mine + (size_t)K * (size_t)i;
            m[0] = (double)t->log_phat[first + i];
            m[1] = t->exact ? t->ll[first + i] : 0.0;
            m[2] = (double)t->resampled[first + i];
            memcpy(m + 3, t->metric_sums + (size_t)(first + i) * FIVO_BOUND_MAX_METRICS,
                   sizeof(double) * FIVO_BOUND_MAX_METRICS);
        }
        double *all = NULL;
        int n_all = 0;
        fivo_status st = fivo_comm_gather_doubles(t->mine, K * n, &all, &n_all, err);
        if (st != FIVO_OK)
            return st;
        if (n_all != K * t->batch_size) {
            free(all);
            return fivo_error_set(err, FIVO_ERR_INVALID, "gathered %d results for %d sequences",
                                  n_all / K, t->batch_size);
        }
        for (int b = 0; b < t->batch_size; b++) {
            const double *m = all + (size_t)K * (size_t)b;
            t->log_phat[b] = (float)m[0]; /* a float sent as a double: exact */
            t->ll[b] = m[1];
            t->resampled[b] = (int32_t)m[2];
            memcpy(t->metric_sums + (size_t)b * FIVO_BOUND_MAX_METRICS, m + 3,
                   sizeof(double) * FIVO_BOUND_MAX_METRICS);
        }
        free(all);
    }
    t->resample_steps = 0;
    for (int b = 0; b < t->batch_size; b++)
        t->resample_steps += t->resampled[b];
    t->resample_rate =
        t->valid_steps > 0 ? (double)t->resample_steps / (double)t->valid_steps : 0.0;
    return FIVO_OK;
}

