/* The table of host flags (see flags.h). Names follow the reference's
 * run_fivo.py so existing command lines keep working. */
#include "flags.h"

#include <stdlib.h>
#include <string.h>

#define I FIVO_OPTION_INT
#define D FIVO_OPTION_DOUBLE
#define B FIVO_OPTION_BOOL
#define S FIVO_OPTION_STRING

const fivo_host_flag fivo_host_flags[] = {
    /* [fivo]: the host itself */
    {"mode", "fivo", "mode", S, "train", "train|eval|sample|convert|inspect|plugins",
     "What to do."},
    {"logdir", "fivo", "logdir", S, "/tmp/fivo", NULL,
     "Folder for checkpoints, samples and metrics.jsonl (created on demand)."},
    {"plugin_path", "fivo", "plugin_path", S, NULL, NULL,
     "Extra ':'-separated folders searched for plugins, after FIVO_PLUGIN_PATH."},
    {"random_seed", "fivo", "random_seed", I, "0", NULL,
     "Seed of every random stream (initialisation, batches, proposals, resampling)."},
    {"batch_size", "fivo", "batch_size", I, "4", NULL, "Sequences per batch."},
    {"num_samples", "fivo", "num_samples", I, "4",
     NULL, "Particles (samples) per sequence for multi-sample bounds."},
    {"threads", "fivo", "threads", I, NULL, NULL,
     "Threads for training, eval and sampling (default: every core the process may use; "
     "results are bit-identical for any count)."},
    {"parallel_iterations", "fivo", "parallel_iterations", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored."},
    {"stagger_workers", "fivo", "stagger_workers", B, NULL, NULL,
     "Accepted for compatibility with the reference; ignored."},
    {"task", "fivo", "task", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored."},
    {"ps_tasks", "fivo", "ps_tasks", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored."},
    {"master", "fivo", "master", S, NULL, NULL,
     "Accepted for compatibility with the reference; ignored."},

    /* [train] */
    {"learning_rate", "train", "learning_rate", D, "0.0002", NULL, "Adam learning rate."},
    {"max_steps", "train", "max_steps", I, "1000000000", NULL,
     "Gradient steps to train for."},
    {"summarize_every", "train", "summarize_every", I, "50", NULL,
     "Steps between train reports in metrics.jsonl."},
    {"normalize_by_seq_len", "train", "normalize_by_seq_len", B, "true", NULL,
     "Divide each sequence's bound by its length in the loss."},
    {"eval_every", "train", "eval_every", I, "0", NULL,
     "Steps between evaluations on [eval] split during training (0: never)."},
    {"checkpoint_every_secs", "train", "checkpoint_every_secs", D, "120", NULL,
     "Seconds between checkpoints."},
    {"keep_checkpoints", "train", "keep_checkpoints", I, "5", NULL,
     "Number of most recent checkpoints kept."},
    {"clip_global_norm", "train", "clip_global_norm", D, "0", NULL,
     "Clip gradients to this global norm (0: no clipping)."},

    /* [eval] */
    {"eval_split", "eval", "split", S, "valid", "train|valid|test",
     "Split evaluated periodically while training."},
    {"checkpoint", "eval", "checkpoint", S, NULL, NULL,
     "Checkpoint file to evaluate or sample from (default: latest in logdir)."},

    /* [sample] */
    {"prefix_length", "sample", "prefix_length", I, "25", NULL,
     "Timesteps of data the model is conditioned on before sampling."},
    {"sample_length", "sample", "sample_length", I, "50", NULL, "Timesteps to sample."},
    {"sample_out_dir", "sample", "out_dir", S, NULL, NULL,
     "Folder for samples.npz (default: logdir)."},

    /* [model] */
    {"model", "model", "plugin", S, "vrnn", NULL, "Model plugin (vrnn, srnn, ghmm)."},
    {"latent_size", "model", "latent_size", I, "64", NULL,
     "Size of the latent state of the model."},
    {"proposal_type", "model", "proposal_type", S, "filtering",
     "prior|filtering|smoothing|true-filtering|true-smoothing",
     "Proposal; true-* only for the Gaussian HMM."},
    {"variance", "model", "variance", D, "0.1", NULL, "Variance of the Gaussian HMM."},
    {"num_timesteps", "model", "num_timesteps", I, "5", NULL,
     "Timesteps of the Gaussian HMM."},

    /* [bound] */
    {"bound", "bound", "plugin", S, "fivo", NULL, "Bound plugin (elbo, iwae, fivo)."},
    {"resampling_criterion", "bound", "resampling_criterion", S, "ess", "ess|always|never",
     "When FIVO resamples."},
    {"ess_threshold", "bound", "ess_threshold", D, "0.5", NULL,
     "Resample when ESS <= threshold * num_samples (criterion ess)."},

    /* [resampler] */
    {"resampling_type", "resampler", "plugin", S, "multinomial", NULL,
     "Resampler plugin (multinomial, systematic, stratified, residual, relaxed)."},
    {"relaxed_resampling_temperature", "resampler", "temperature", D, "0.5", NULL,
     "Relaxation temperature of relaxed resampling."},

    /* [dataset] */
    {"dataset_type", "dataset", "plugin", S, "pianoroll", NULL,
     "Dataset plugin (pianoroll, speech, chain, timit)."},
    {"dataset_path", "dataset", "path", S, NULL, NULL, "Path to load the dataset from."},
    {"split", "dataset", "split", S, "train", "train|valid|test",
     "Split to train on, evaluate or sample prefixes from."},
    {"data_dimension", "dataset", "data_dimension", I, NULL, NULL,
     "Width of each timestep (default: from the data; 88 pianoroll, 200 speech)."},
    {"raw_timit_dir", "dataset", "raw_timit_dir", S, NULL, NULL,
     "Raw TIMIT folder read by --mode=convert."},
    {"out_dir", "dataset", "out_dir", S, NULL, NULL,
     "Folder --mode=convert writes dataset files to."},
    {"samples_per_timestep", "dataset", "samples_per_timestep", I, NULL, NULL,
     "Audio samples per timestep of speech data (default: data_dimension, else 200)."},
    {"valid_frac", "dataset", "valid_fraction", D, NULL, NULL,
     "Fraction of TIMIT TRAIN held out as valid by --mode=convert (default 0.05)."},
};
const size_t fivo_host_num_flags = sizeof fivo_host_flags / sizeof fivo_host_flags[0];

const fivo_host_section fivo_host_sections[] = {
    {"fivo", "the host: mode, logdir, plugin_path, seed, batch and particle counts", 0},
    {"train", "training loop: optimiser, steps, reports, checkpoints", 0},
    {"eval", "evaluation: split and checkpoint", 0},
    {"sample", "sampling: prefix and sample lengths, output folder", 0},
    {"model", "`plugin` names the model; other keys go to it", FIVO_PLUGIN_MODEL},
    {"bound", "`plugin` names the bound; other keys go to it", FIVO_PLUGIN_BOUND},
    {"resampler", "`plugin` names the resampler; other keys go to it", FIVO_PLUGIN_RESAMPLER},
    {"dataset", "`plugin` names the dataset reader; other keys go to it", FIVO_PLUGIN_DATASET},
};
const size_t fivo_host_num_sections = sizeof fivo_host_sections / sizeof fivo_host_sections[0];

const fivo_host_flag *fivo_host_flag_find(const char *flag)
{
    for (size_t i = 0; i < fivo_host_num_flags; i++)
        if (strcmp(fivo_host_flags[i].flag, flag) == 0)
            return &fivo_host_flags[i];
    return NULL;
}

const fivo_host_flag *fivo_host_flag_for_key(const char *section, const char *key)
{
    for (size_t i = 0; i < fivo_host_num_flags; i++)
        if (strcmp(fivo_host_flags[i].section, section) == 0 &&
            strcmp(fivo_host_flags[i].key, key) == 0)
            return &fivo_host_flags[i];
    return NULL;
}

const fivo_host_section *fivo_host_section_find(const char *name)
{
    for (size_t i = 0; i < fivo_host_num_sections; i++)
        if (strcmp(fivo_host_sections[i].name, name) == 0)
            return &fivo_host_sections[i];
    return NULL;
}

size_t fivo_host_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t *row = malloc((m + 1) * sizeof *row);
    if (row == NULL)
        return (size_t)-1;
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[m];
    free(row);
    return d;
}
