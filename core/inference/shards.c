/* Fixed shards of a global batch and their exact fixed-point sum (see
 * fivo/shards.h). */
#include <fivo/internal/shards.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

void fivo_shard_range(int batch_size, int shards, int i, int *first, int *count)
{
    /* 64-bit products: batch_size * shards may pass INT_MAX in principle. */
    int64_t a = (int64_t)i * batch_size / shards, b = (int64_t)(i + 1) * batch_size / shards;
    *first = (int)a;
    *count = (int)(b - a);
}

fivo_status fivo_shards_check(int batch_size, int shards, int ranks, fivo_error *err)
{
    if (shards < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "[fivo] shards = %d: expected >= 1", shards);
    if (shards > batch_size)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[fivo] shards = %d is more than [fivo] batch_size = %d: every "
                              "shard needs at least one sequence",
                              shards, batch_size);
    if (ranks < 1 || shards % ranks != 0)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[fivo] shards = %d is not divisible by the %d MPI ranks: each "
                              "rank computes the same number of shards (use shards = a "
                              "multiple of %d, or a rank count that divides %d)",
                              shards, ranks, ranks, shards);
    return FIVO_OK;
}

fivo_status fivo_shard_slice(const fivo_batch *full, int first, int count, fivo_shard_buffer *buf,
                             fivo_batch *out, fivo_error *err)
{
    if (first < 0 || count < 1 || first + count > full->batch_size)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "shard: sequences [%d, %d) outside a batch of %d", first,
                              first + count, full->batch_size);
    const int D = full->dim, B = full->batch_size;
    /* The shard runs to its own longest sequence: steps past every one of
     * its ends carry no weight and no gradient, and on long, uneven data
     * (MuseData, batch 4) they were over half the work. */
    int T = 1;
    for (int b = first; b < first + count; b++)
        T = full->lengths[b] > T ? full->lengths[b] : T;
    if (T > full->max_len)
        T = full->max_len;
    size_t values = (size_t)T * (size_t)count * (size_t)D;
    if (values > buf->cap_values) {
        size_t cap = values > buf->reserve_values ? values : buf->reserve_values;
        float *in = realloc(buf->inputs, sizeof(float) * (cap ? cap : 1));
        if (in != NULL)
            buf->inputs = in;
        float *tg = in != NULL ? realloc(buf->targets, sizeof(float) * (cap ? cap : 1)) : NULL;
        if (tg != NULL)
            buf->targets = tg;
        if (in == NULL || tg == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "shard: cannot hold %zu values", cap);
        memset(buf->inputs, 0, sizeof(float) * cap);
        memset(buf->targets, 0, sizeof(float) * cap);
        buf->cap_values = cap;
    }
    if (count > buf->cap_rows) {
        int32_t *l = realloc(buf->lengths, sizeof(int32_t) * (size_t)count);
        if (l != NULL)
            buf->lengths = l;
        int32_t *s = l != NULL ? realloc(buf->seq_ids, sizeof(int32_t) * (size_t)count) : NULL;
        if (s != NULL)
            buf->seq_ids = s;
        if (l == NULL || s == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "shard: cannot hold %d rows", count);
        buf->cap_rows = count;
    }
    /* Row (t, b) of the shard is row (t, first + b) of the global batch. */
    size_t row = (size_t)count * (size_t)D;
    for (int t = 0; t < T; t++) {
        size_t src = ((size_t)t * (size_t)B + (size_t)first) * (size_t)D;
        memcpy(buf->inputs + (size_t)t * row, full->inputs + src, sizeof(float) * row);
        memcpy(buf->targets + (size_t)t * row, full->targets + src, sizeof(float) * row);
    }
    memcpy(buf->lengths, full->lengths + first, sizeof(int32_t) * (size_t)count);
    if (full->seq_ids != NULL)
        memcpy(buf->seq_ids, full->seq_ids + first, sizeof(int32_t) * (size_t)count);
    out->max_len = T;
    out->batch_size = count;
    out->dim = D;
    out->inputs = buf->inputs;
    out->targets = buf->targets;
    out->lengths = buf->lengths;
    out->seq_ids = full->seq_ids != NULL ? buf->seq_ids : NULL;
    return FIVO_OK;
}

void fivo_shard_buffer_free(fivo_shard_buffer *buf)
{
    free(buf->inputs);
    free(buf->targets);
    free(buf->lengths);
    free(buf->seq_ids);
    memset(buf, 0, sizeof *buf);
}

int32_t fivo_fixed_max_exponent(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > m)
            m = a;
    }
    if (m == 0.0f)
        return FIVO_FIXED_EXP_ZERO;
    int e;
    frexpf(m, &e); /* m = f * 2^e, f in [0.5, 1): m < 2^e */
    return e;
}

int fivo_fixed_scale(int32_t max_exp, int terms)
{
    int lg = 0;
    while (lg < 31 && ((int64_t)1 << lg) < terms)
        lg++;
    return 62 - lg - (int)max_exp;
}

/* Multiplying by 2^e is exact in double here (|x| 2^e < 2^62, and 2^e a
 * normal double for every e fivo_fixed_scale gives), so it equals ldexp
 * and vectorises. */
void fivo_fixed_add(int64_t *acc, const float *x, size_t n, int e)
{
    const double scale = ldexp(1.0, e);
    for (size_t i = 0; i < n; i++)
        acc[i] += (int64_t)llrint((double)x[i] * scale);
}

void fivo_fixed_to_float(float *out, const int64_t *acc, size_t n, int e)
{
    const double scale = ldexp(1.0, -e);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)((double)acc[i] * scale);
}
