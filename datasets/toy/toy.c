/* Synthetic data for the experimental toy models, as the reference's
 * experimental/data.py generates it (make_dataset, make_long_chain_dataset),
 * drawn from the model's settings (passed as [dataset] keys):
 *   forward     z_0 ~ N(0, v) (bimodal: N(+m, v) with probability w, else
 *               N(-m, v)), z_t = g(z_{t-1}) + b_t + N(0, v) for t = 1 .. T,
 *               x = z_T; given as a length-T sequence with x at every step
 *               (the reference feeds x to every step's proposal). g = round
 *               for nonlinear round transitions; for p_type nonlinear the
 *               last step's variance is observation_variance (the model's).
 *   long_chain  z_0 ~ N(0, v), z_t = g(z_{t-1}) + N(0, v), t = 1 .. n s,
 *               x_k = f(z_{(k+1)s}) + N(0, v_obs); a length n s + 1 sequence
 *               with x_k at step (k + 1) s and 0 elsewhere.
 * The bs (forward, use_bs) are U(0, 1), drawn once from the data seed (the
 * same for every split). fixed_observation replaces x (every x_k) by a
 * constant, as the reference's flag of that name.
 *
 * The model's keys are [dataset] rows of their own (defaults: the models'),
 * filled by the model's dataset preference from its [model] values; the
 * dataset reads no other section. Sequence s of a split is a pure
 * function of (seed, split, s), as in datasets/chain: with shuffle
 * (training) batch k holds fresh sequences k B .. k B + B - 1, without it
 * (eval) the split has num_sequences sequences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/fivo.h>

typedef enum toy_kind { TOY_FORWARD, TOY_LONG_CHAIN } toy_kind;

typedef struct toy {
    toy_kind kind;
    int T, n, s;
    double v, v_obs, weight, mode_mean, fixed;
    bool bimodal, round_tr, nonlinear, has_fixed;
    int obs; /* 0 standard, 1 squared, 2 abs */
    double *bs;
    long num_sequences, data_seed;
    uint32_t split_code;
    int cap;
    float *inputs, *targets, *noise;
    int32_t *lengths, *seq_ids;
} toy;

/* The model's keys, as the dataset's own rows: forward and long_chain pass
 * their values here through their dataset preference ("[model] KEY"), so
 * the data follows --set model.variance=0.3; alone, the defaults are the
 * models' (variance: forward's 0.1; long_chain always passes its own). */
static const fivo_option OPTIONS[] = {
    {"model", FIVO_OPTION_STRING, "forward",
     "the toy model whose data to draw (its dataset preference sets it)", "forward|long_chain",
     NULL, NULL},
    {"num_timesteps", FIVO_OPTION_INT, "5", "forward: latent steps T (the model's)", NULL, "1",
     "4096"},
    {"variance", FIVO_OPTION_DOUBLE, "0.1", "transition variance v (the model's)", NULL, ">0",
     NULL},
    {"observation_variance", FIVO_OPTION_DOUBLE, NULL,
     "variance of the observations (the model's; default: variance)", NULL, ">0", NULL},
    {"p_type", FIVO_OPTION_STRING, "unimodal", "forward: the generative model (the model's)",
     "unimodal|bimodal|nonlinear", NULL, NULL},
    {"use_bs", FIVO_OPTION_BOOL, "false", "forward: drift terms b_t ~ U(0, 1) (the model's)",
     NULL, NULL, NULL},
    {"bimodal_prior_weight", FIVO_OPTION_DOUBLE, "0.5",
     "forward, bimodal: probability of the mode at +bimodal_prior_mean (the model's)", NULL, "0",
     "1"},
    {"bimodal_prior_mean", FIVO_OPTION_DOUBLE, "1",
     "forward, bimodal: the modes of z_0 are at +-m (the model's)", NULL, NULL, NULL},
    {"transition_type", FIVO_OPTION_STRING, "standard",
     "transition mean z_{t-1} (standard) or round(z_{t-1}) (round; forward: nonlinear only)",
     "standard|round", NULL, NULL},
    {"num_observations", FIVO_OPTION_INT, "1", "long_chain: observations n (the model's)", NULL,
     "1", "4095"},
    {"steps_per_observation", FIVO_OPTION_INT, "5",
     "long_chain: latent steps s between observations (the model's)", NULL, "1", "4095"},
    {"observation_type", FIVO_OPTION_STRING, "standard",
     "long_chain: observation mean z, z^2 or |z| (the model's)", "standard|squared|abs", NULL,
     NULL},
    {"num_sequences", FIVO_OPTION_INT, "256", "sequences in an eval pass over a split", NULL, "1",
     "2147483647"},
    {"data_seed", FIVO_OPTION_INT, "-1", "seed of the data (-1: the run's random_seed)", NULL,
     NULL, NULL},
    {"fixed_observation", FIVO_OPTION_DOUBLE, NULL,
     "if set, every observation is this constant (the reference's flag)", NULL, NULL, NULL},
};

#define ROWS FIVO_OPTION_ROWS(OPTIONS)

static void close_toy(void *self)
{
    toy *d = self;
    if (d == NULL)
        return;
    free(d->bs);
    free(d->inputs);
    free(d->targets);
    free(d->noise);
    free(d->lengths);
    free(d->seq_ids);
    free(d);
}

static fivo_status model_keys(toy *d, const fivo_config *cfg, fivo_error *err)
{
    const char *s = NULL, *tr = NULL, *ob = NULL;
    long T = 0, n = 1, spo = 1;
    bool use_bs = false;
    fivo_status st = fivo_option_double(cfg, "dataset", ROWS, "variance", &d->v, err);
    d->v_obs = -1.0; /* no default: the variance */
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "dataset", ROWS, "observation_variance", &d->v_obs, err);
    if (st == FIVO_OK)
        st = fivo_option_string(cfg, "dataset", ROWS, "transition_type", &tr, err);
    if (st != FIVO_OK)
        return st;
    if (d->v_obs < 0.0)
        d->v_obs = d->v;
    if (d->kind == TOY_FORWARD) {
        st = fivo_option_int(cfg, "dataset", ROWS, "num_timesteps", &T, err);
        if (st == FIVO_OK)
            st = fivo_option_string(cfg, "dataset", ROWS, "p_type", &s, err);
        if (st == FIVO_OK)
            st = fivo_option_bool(cfg, "dataset", ROWS, "use_bs", &use_bs, err);
        if (st == FIVO_OK)
            st = fivo_option_double(cfg, "dataset", ROWS, "bimodal_prior_weight", &d->weight, err);
        if (st == FIVO_OK)
            st = fivo_option_double(cfg, "dataset", ROWS, "bimodal_prior_mean", &d->mode_mean, err);
        if (st != FIVO_OK)
            return st;
        d->bimodal = strcmp(s, "bimodal") == 0;
        d->nonlinear = strcmp(s, "nonlinear") == 0;
        d->round_tr = d->nonlinear && strcmp(tr, "round") == 0;
        if (d->nonlinear)
            use_bs = false; /* the model refuses it; its p has no bs */
    } else {
        st = fivo_option_int(cfg, "dataset", ROWS, "num_observations", &n, err);
        if (st == FIVO_OK)
            st = fivo_option_int(cfg, "dataset", ROWS, "steps_per_observation", &spo, err);
        if (st == FIVO_OK)
            st = fivo_option_string(cfg, "dataset", ROWS, "observation_type", &ob, err);
        if (st != FIVO_OK)
            return st;
        if (n * spo > 4095)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "toy: [dataset] num_observations = %ld, steps_per_observation = "
                                  "%ld: expected a product below 4096", n, spo);
        d->round_tr = strcmp(tr, "round") == 0;
        d->obs = strcmp(ob, "squared") == 0 ? 1 : strcmp(ob, "abs") == 0 ? 2 : 0;
        T = n * spo + 1;
    }
    d->T = (int)T;
    d->n = (int)n;
    d->s = (int)spo;
    d->bs = calloc((size_t)T, sizeof(double));
    if (d->bs == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "toy: out of memory");
    if (use_bs) /* resolved in open, once the seed is known: mark with NAN */
        d->bs[0] = NAN;
    return FIVO_OK;
}

static fivo_status open_toy(const fivo_config *cfg, const char *path, const char *split,
                            void **self, fivo_error *err)
{
    if (path != NULL && path[0] != '\0')
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "toy: the data is synthetic, but [dataset] path = '%s' was given; "
                              "drop --dataset_path", path);
    const char *which = NULL;
    fivo_status st = fivo_option_string(cfg, "dataset", ROWS, "model", &which, err);
    if (st != FIVO_OK)
        return st;
    toy *d = calloc(1, sizeof *d);
    if (d == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "toy: out of memory");
    d->kind = strcmp(which, "long_chain") == 0 ? TOY_LONG_CHAIN : TOY_FORWARD;
    st = model_keys(d, cfg, err);
    d->has_fixed = fivo_option_is_set(cfg, "dataset", "fixed_observation");
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "dataset", ROWS, "fixed_observation", &d->fixed, err);
    if (st == FIVO_OK)
        st = fivo_option_int(cfg, "dataset", ROWS, "num_sequences", &d->num_sequences, err);
    if (st == FIVO_OK)
        st = fivo_option_int(cfg, "dataset", ROWS, "data_seed", &d->data_seed, err);
    if (st == FIVO_OK) {
        if (split == NULL || strcmp(split, "train") == 0)
            d->split_code = 1;
        else if (strcmp(split, "valid") == 0)
            d->split_code = 2;
        else if (strcmp(split, "test") == 0)
            d->split_code = 3;
        else
            st = fivo_error_set(err, FIVO_ERR_INVALID,
                                "toy: split '%s', expected train, valid or test", split);
    }
    if (st == FIVO_OK && (d->noise = malloc(sizeof(float) * (2 * (size_t)d->T + 2))) == NULL)
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "toy: out of memory");
    if (st != FIVO_OK) {
        close_toy(d);
        return st;
    }
    *self = d;
    return FIVO_OK;
}

static fivo_status info_toy(void *self, fivo_dataset_info *out, fivo_error *err)
{
    (void)err;
    toy *d = self;
    memset(out, 0, sizeof *out);
    out->dim = 1;
    out->kind = "real";
    out->num_sequences = (int)d->num_sequences;
    out->min_len = out->max_len = d->T;
    out->mean_len = d->T;
    out->total_timesteps = (int64_t)d->T * d->num_sequences;
    return FIVO_OK;
}

static double obs_mean(const toy *d, double z)
{
    return d->obs == 1 ? z * z : d->obs == 2 ? fabs(z) : z;
}

/* Sequence `id` into column i of targets [T, B]. One RNG row of normals per
 * sequence (z_0, then each transition, then each observation's noise) and
 * one uniform (the bimodal mode) from a second stream. */
static void generate(const toy *d, uint64_t seed, uint64_t id, int B, int i)
{
    uint64_t key = ((uint64_t)d->split_code << 32) | (id >> 32);
    fivo_rng r = fivo_rng_make(seed, FIVO_RNG_DATA, key);
    const int steps = d->kind == TOY_FORWARD ? d->T : d->n * d->s;
    fivo_rng_normal(&r, (uint32_t)id, d->noise, 1 + steps + d->n);
    const double sd = sqrt(d->v), sd_obs = sqrt(d->v_obs);
    double z = sd * d->noise[0];
    if (d->bimodal) {
        fivo_rng u = fivo_rng_make(seed, FIVO_RNG_DATA, key | (1ull << 62));
        double mode = 0;
        fivo_rng_uniform_double(&u, (uint32_t)id, &mode, 1);
        z += mode < d->weight ? d->mode_mean : -d->mode_mean;
    }
    float *col = d->targets;
    for (int t = 0; t < d->T; t++)
        col[(size_t)t * B + i] = 0.0f;
    for (int t = 1; t <= steps; t++) {
        double loc = d->round_tr ? rint(z) : z;
        /* forward: b_t drives z_{t-1} -> z_t (the reference's bs[t - 1]) */
        if (d->kind == TOY_FORWARD)
            loc += d->bs[t - 1];
        bool last = d->kind == TOY_FORWARD && t == steps;
        z = loc + (last && d->nonlinear ? sd_obs : sd) * d->noise[t];
        if (d->kind == TOY_LONG_CHAIN && t % d->s == 0) {
            int k = t / d->s - 1;
            double x = d->has_fixed ? d->fixed : obs_mean(d, z) + sd_obs * d->noise[1 + steps + k];
            col[(size_t)t * B + i] = (float)x;
        }
    }
    if (d->kind == TOY_FORWARD) {
        double x = d->has_fixed ? d->fixed : z;
        for (int t = 0; t < d->T; t++)
            col[(size_t)t * B + i] = (float)x;
    }
}

static fivo_status batch_toy(void *self, int batch_size, bool shuffle, uint64_t seed,
                             uint64_t index, fivo_batch *out, fivo_error *err)
{
    toy *d = self;
    if (batch_size < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "toy: batch_size = %d", batch_size);
    uint64_t start = index * (uint64_t)batch_size;
    int B = batch_size;
    if (!shuffle) {
        if (start >= (uint64_t)d->num_sequences)
            return FIVO_END;
        if (start + (uint64_t)B > (uint64_t)d->num_sequences)
            B = (int)((uint64_t)d->num_sequences - start);
    }
    if (batch_size > d->cap) {
        size_t n = (size_t)d->T * (size_t)batch_size;
        float *in = realloc(d->inputs, n * sizeof(float));
        if (in != NULL)
            d->inputs = in;
        float *tg = realloc(d->targets, n * sizeof(float));
        if (tg != NULL)
            d->targets = tg;
        int32_t *len = realloc(d->lengths, (size_t)batch_size * sizeof(int32_t));
        if (len != NULL)
            d->lengths = len;
        int32_t *ids = realloc(d->seq_ids, (size_t)batch_size * sizeof(int32_t));
        if (ids != NULL)
            d->seq_ids = ids;
        if (in == NULL || tg == NULL || len == NULL || ids == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "toy: out of memory for a batch of %d",
                                  batch_size);
        d->cap = batch_size;
    }
    uint64_t dseed = d->data_seed >= 0 ? (uint64_t)d->data_seed : seed;
    if (d->kind == TOY_FORWARD && isnan(d->bs[0])) { /* use_bs: U(0, 1), once */
        fivo_rng r = fivo_rng_make(dseed, FIVO_RNG_DATA, 1ull << 63);
        fivo_rng_uniform_double(&r, 0, d->bs, d->T);
    }
    for (int i = 0; i < B; i++) {
        uint64_t id = start + (uint64_t)i;
        generate(d, dseed, id, B, i);
        d->lengths[i] = d->T;
        d->seq_ids[i] = (int32_t)(id & 0x7fffffffu);
    }
    for (int i = 0; i < B; i++) { /* inputs: x_{t-1}, zero at t = 0 */
        d->inputs[i] = 0.0f;
        for (int t = 1; t < d->T; t++)
            d->inputs[(size_t)t * B + i] = d->targets[(size_t)(t - 1) * B + i];
    }
    out->max_len = d->T;
    out->batch_size = B;
    out->dim = 1;
    out->inputs = d->inputs;
    out->targets = d->targets;
    out->lengths = d->lengths;
    out->seq_ids = d->seq_ids;
    return FIVO_OK;
}

static const fivo_dataset_vtable VTABLE = {
    .open = open_toy, .close = close_toy, .info = info_toy, .batch = batch_toy};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_DATASET,
    .name = "toy",
    .version = "1.0.0",
    .description = "synthetic data of the toy models forward and long_chain (seeded)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
