/* Synthetic chain-graph data for the Gaussian HMM, as the reference's
 * create_chain_graph_dataset(steps_per_observation=1, state_size=1):
 *   z_{-1} ~ N(0, v),  z_t ~ N(z_{t-1}, v),  x_t ~ N(z_t, v),  t = 0 .. T-1
 * with v = variance (default: [model] variance, else 0.1) and T =
 * num_timesteps (default: [model] num_timesteps, else 5). Only the x's are
 * returned, as 1-D real sequences of length T.
 *
 * Sequence s of a split is a pure function of (seed, split, s): seed is
 * [dataset] data_seed when set, else the host's seed. With shuffle (training)
 * batch k holds the fresh sequences k*B .. k*B+B-1 of an endless stream, as
 * the reference samples new data every step; without shuffle (eval) the
 * split has num_sequences sequences, read in order. It reads no file, so a
 * dataset path is refused rather than silently ignored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/fivo.h>

typedef struct chain {
    int T;
    double variance;
    long num_sequences;
    long data_seed; /* < 0: use the seed given to batch() */
    uint32_t split_code;
    int cap;        /* batch capacity of the buffers */
    float *inputs, *targets;
    int32_t *lengths, *seq_ids;
    float *noise;   /* [2T + 1] scratch for one sequence */
} chain;

static const fivo_option OPTIONS[] = {
    /* A model hands its own values here through its dataset preference
     * (the GHMM's and lgssm's num_timesteps and variance). */
    {"num_timesteps", FIVO_OPTION_INT, "5", "sequence length (a model may prefer its own)", NULL,
     "1", "100000"},
    {"variance", FIVO_OPTION_DOUBLE, "0.1",
     "transition and observation variance (a model may prefer its own)", NULL, ">0", NULL},
    {"num_sequences", FIVO_OPTION_INT, "256", "sequences in an eval pass over a split", NULL, "1", "2147483647"},
    {"data_seed", FIVO_OPTION_INT, "-1", "seed of the data (-1: the run's random_seed)", NULL, NULL, NULL},
};

static void close_chain(void *self)
{
    chain *c = self;
    if (c == NULL)
        return;
    free(c->inputs);
    free(c->targets);
    free(c->lengths);
    free(c->seq_ids);
    free(c->noise);
    free(c);
}

static fivo_status open_chain(const fivo_config *cfg, const char *path, const char *split,
                              void **self, fivo_error *err)
{
    if (path != NULL && path[0] != '\0')
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "chain: the data is synthetic, but [dataset] path = '%s' was "
                              "given; drop --dataset_path, or read a speech-format TFRecord "
                              "with --dataset_type=speech", path);
    long T = 0, num = 0, seed = 0; /* defaults and ranges: OPTIONS */
    double v = 0;
    fivo_status st =
        fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "num_timesteps", &T, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "variance", &v, err);
    if (st == FIVO_OK)
        st = fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "num_sequences", &num, err);
    if (st == FIVO_OK)
        st = fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "data_seed", &seed, err);
    if (st != FIVO_OK)
        return st;
    uint32_t code;
    if (split == NULL || strcmp(split, "train") == 0)
        code = 1;
    else if (strcmp(split, "valid") == 0)
        code = 2;
    else if (strcmp(split, "test") == 0)
        code = 3;
    else
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "chain: split '%s', expected train, valid or test", split);
    chain *c = calloc(1, sizeof *c);
    if (c == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "chain: out of memory");
    c->T = (int)T;
    c->noise = malloc(sizeof(float) * (2 * (size_t)T + 1));
    if (c->noise == NULL) {
        free(c);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "chain: out of memory");
    }
    c->variance = v;
    c->num_sequences = num;
    c->data_seed = seed;
    c->split_code = code;
    *self = c;
    return FIVO_OK;
}

static fivo_status info_chain(void *self, fivo_dataset_info *out, fivo_error *err)
{
    (void)err;
    chain *c = self;
    memset(out, 0, sizeof *out);
    out->dim = 1;
    out->kind = "real";
    out->num_sequences = (int)c->num_sequences;
    out->min_len = out->max_len = c->T;
    out->mean_len = c->T;
    out->total_timesteps = (int64_t)c->T * c->num_sequences;
    out->mean = NULL;
    return FIVO_OK;
}

/* Sequence `id` of the split into targets[t * B + i]. One RNG row per
 * sequence: value 0 is z_{-1}, then (transition, emission) noise pairs. */
static void generate(const chain *c, uint64_t seed, uint64_t id, float *targets, int B, int i)
{
    fivo_rng r = fivo_rng_make(seed, FIVO_RNG_DATA, ((uint64_t)c->split_code << 32) | (id >> 32));
    fivo_rng_normal(&r, (uint32_t)id, c->noise, 2 * c->T + 1);
    double sd = sqrt(c->variance);
    double z = sd * c->noise[0];
    for (int t = 0; t < c->T; t++) {
        z += sd * c->noise[1 + 2 * t];
        targets[(size_t)t * B + i] = (float)(z + sd * c->noise[2 + 2 * t]);
    }
}

static fivo_status batch_chain(void *self, int batch_size, bool shuffle, uint64_t seed,
                               uint64_t index, fivo_batch *out, fivo_error *err)
{
    chain *c = self;
    if (batch_size < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "chain: batch_size = %d", batch_size);
    uint64_t start = index * (uint64_t)batch_size;
    int B = batch_size;
    if (!shuffle) {
        if (start >= (uint64_t)c->num_sequences)
            return FIVO_END;
        if (start + (uint64_t)B > (uint64_t)c->num_sequences)
            B = (int)((uint64_t)c->num_sequences - start);
    }
    if (batch_size > c->cap) {
        size_t n = (size_t)c->T * (size_t)batch_size;
        float *in = realloc(c->inputs, n * sizeof(float));
        if (in != NULL)
            c->inputs = in;
        float *tg = realloc(c->targets, n * sizeof(float));
        if (tg != NULL)
            c->targets = tg;
        int32_t *len = realloc(c->lengths, (size_t)batch_size * sizeof(int32_t));
        if (len != NULL)
            c->lengths = len;
        int32_t *ids = realloc(c->seq_ids, (size_t)batch_size * sizeof(int32_t));
        if (ids != NULL)
            c->seq_ids = ids;
        if (in == NULL || tg == NULL || len == NULL || ids == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "chain: out of memory for a batch of %d",
                                  batch_size);
        c->cap = batch_size;
    }
    uint64_t dseed = c->data_seed >= 0 ? (uint64_t)c->data_seed : seed;
    for (int i = 0; i < B; i++) {
        uint64_t id = start + (uint64_t)i;
        generate(c, dseed, id, c->targets, B, i);
        c->lengths[i] = c->T;
        c->seq_ids[i] = (int32_t)(id & 0x7fffffffu);
    }
    /* inputs: x_{t-1}, zero at t = 0 */
    for (int i = 0; i < B; i++) {
        c->inputs[i] = 0.0f;
        for (int t = 1; t < c->T; t++)
            c->inputs[(size_t)t * B + i] = c->targets[(size_t)(t - 1) * B + i];
    }
    out->max_len = c->T;
    out->batch_size = B;
    out->dim = 1;
    out->inputs = c->inputs;
    out->targets = c->targets;
    out->lengths = c->lengths;
    out->seq_ids = c->seq_ids;
    return FIVO_OK;
}

static const fivo_dataset_vtable VTABLE = {
    .open = open_chain, .close = close_chain, .info = info_chain, .batch = batch_chain};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_DATASET,
    .name = "chain",
    .version = "1.0.0",
    .description = "synthetic chain-graph data for the Gaussian HMM (seeded)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
