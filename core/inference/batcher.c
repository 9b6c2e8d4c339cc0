/* Batch assembly shared by the sequence datasets (see fivo/batcher.h). */
#include <stdlib.h>
#include <string.h>

#include <fivo/batcher.h>
#include <fivo/rng.h>
#include <fivo/shuffle.h>

struct fivo_batcher {
    const char *who;
    int32_t n;
    const int32_t *len; /* [n], borrowed */
    int dim;
    /* the current batch; grown on demand, reused */
    float *inputs, *targets;
    size_t cap_values;
    int32_t *lengths, *ids;
    int cap_rows, rows, max_len;
    int32_t longest; /* the split's longest sequence: what the buffers grow to at once */
    /* the permutations of two consecutive epochs (a batch may straddle them) */
    int32_t *perm[2];
    uint64_t perm_epoch[2];
    bool perm_ok[2];
};

fivo_status fivo_batcher_create(const char *who, int32_t n, const int32_t *lengths, int dim,
                                fivo_batcher **out, fivo_error *err)
{
    *out = NULL;
    if (n < 0 || dim <= 0 || (n > 0 && lengths == NULL))
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: batcher over %d sequences of dim %d",
                              who, (int)n, dim);
    fivo_batcher *b = calloc(1, sizeof *b);
    if (b == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", who);
    b->who = who;
    b->n = n;
    b->len = lengths;
    b->dim = dim;
    for (int32_t i = 0; i < n; i++)
        if (lengths[i] > b->longest)
            b->longest = lengths[i];
    *out = b;
    return FIVO_OK;
}

void fivo_batcher_destroy(fivo_batcher *b)
{
    if (b == NULL)
        return;
    free(b->inputs);
    free(b->targets);
    free(b->lengths);
    free(b->ids);
    free(b->perm[0]);
    free(b->perm[1]);
    free(b);
}

static const int32_t *epoch_perm(fivo_batcher *b, uint64_t seed, uint64_t epoch)
{
    int slot = (int)(epoch & 1u);
    if (!b->perm_ok[slot] || b->perm_epoch[slot] != epoch) {
        fivo_shuffle_permutation(seed, FIVO_RNG_SHUFFLE, epoch, b->n, b->perm[slot]);
        b->perm_epoch[slot] = epoch;
        b->perm_ok[slot] = true;
    }
    return b->perm[slot];
}

/* Grow *p to n elements; false when out of memory (then *p is unchanged and
 * still owned). */
static bool grow_i32(int32_t **p, size_t n)
{
    int32_t *q = realloc(*p, n * sizeof *q);
    if (q != NULL)
        *p = q;
    return q != NULL;
}

static bool grow_f32(float **p, size_t n)
{
    float *q = realloc(*p, n * sizeof *q);
    if (q != NULL)
        *p = q;
    return q != NULL;
}

fivo_status fivo_batcher_begin(fivo_batcher *b, int batch_size, bool shuffle, uint64_t seed,
                               uint64_t index, fivo_batch *out, float **targets,
                               fivo_error *err)
{
    if (batch_size <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: batch_size %d must be positive",
                              b->who, batch_size);
    if (b->n == 0)
        return shuffle ? fivo_error_set(err, FIVO_ERR_INVALID, "%s: the split is empty", b->who)
                       : FIVO_END;
    if (batch_size > b->cap_rows) {
        if (!grow_i32(&b->lengths, (size_t)batch_size) ||
            !grow_i32(&b->ids, (size_t)batch_size))
            return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", b->who);
        b->cap_rows = batch_size;
    }
    uint64_t n = (uint64_t)b->n, bs = (uint64_t)batch_size;
    int rows;
    if (shuffle) {
        if (b->perm[1] == NULL && (!grow_i32(&b->perm[0], (size_t)n) ||
                                   !grow_i32(&b->perm[1], (size_t)n)))
            return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", b->who);
        rows = batch_size;
        for (int i = 0; i < rows; i++) {
            uint64_t pos = index * bs + (uint64_t)i;
            b->ids[i] = epoch_perm(b, seed, pos / n)[pos % n];
        }
    } else {
        uint64_t first = index * bs;
        if (index > n || first >= n) /* the first test keeps index * bs from wrapping */
            return FIVO_END;
        rows = (int)(n - first < bs ? n - first : bs);
        for (int i = 0; i < rows; i++)
            b->ids[i] = (int32_t)(first + (uint64_t)i);
    }
    int T = 0;
    for (int i = 0; i < rows; i++) {
        b->lengths[i] = b->len[b->ids[i]];
        if (b->lengths[i] > T)
            T = b->lengths[i];
    }
    size_t need = (size_t)T * (size_t)rows * (size_t)b->dim;
    if (need > b->cap_values) {
        /* room for this many of the longest sequences, touched now: a later
         * longer batch faults no pages in */
        size_t cap = (size_t)b->longest * (size_t)rows * (size_t)b->dim;
        if (cap < need)
            cap = need;
        if (!grow_f32(&b->inputs, cap) ||
            !grow_f32(&b->targets, cap))
            return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory for a batch", b->who);
        memset(b->inputs, 0, cap * sizeof(float));
        memset(b->targets, 0, cap * sizeof(float));
        b->cap_values = cap;
    }
    if (need > 0) {
        memset(b->inputs, 0, need * sizeof(float));
        memset(b->targets, 0, need * sizeof(float));
    }
    b->rows = rows;
    b->max_len = T;
    out->max_len = T;
    out->batch_size = rows;
    out->dim = b->dim;
    out->inputs = b->inputs;
    out->targets = b->targets;
    out->lengths = b->lengths;
    out->seq_ids = b->ids;
    *targets = b->targets;
    return FIVO_OK;
}

void fivo_batcher_shift(fivo_batcher *b, const float *offset)
{
    size_t D = (size_t)b->dim, R = (size_t)b->rows;
    for (size_t i = 0; i < R; i++)
        for (int t = 0; t + 1 < b->lengths[i]; t++) {
            const float *y = b->targets + ((size_t)t * R + i) * D;
            float *x = b->inputs + ((size_t)(t + 1) * R + i) * D;
            if (offset == NULL)
                memcpy(x, y, D * sizeof(float));
            else
                for (size_t j = 0; j < D; j++)
                    x[j] = y[j] - offset[j];
        }
}
