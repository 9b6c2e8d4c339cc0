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
    {"mode", "fivo", "mode", S, "train", "train|eval|sample|convert|inspect|plugins|plot",
     "What to do."},
    {"verbose", "fivo", "verbose", B, "false", NULL,
     "fivo plugins: also list each plugin's options, defaults and choices."},
    {"logdir", "fivo", "logdir", S, "/tmp/fivo", NULL,
     "Folder for checkpoints, samples and metrics.jsonl (created on demand)."},
    {"plugin_path", "fivo", "plugin_path", S, NULL, NULL,
     "Extra ':'-separated folders searched for plugins, after FIVO_PLUGIN_PATH."},
    {"random_seed", "fivo", "random_seed", I, "0", NULL,
     "Seed of every random stream (initialisation, batches, proposals, resampling)."},
    {"batch_size", "fivo", "batch_size", I, "4", NULL, "Sequences per batch."},
    {"num_samples", "fivo", "num_samples", I, "4",
     NULL, "Particles (samples) per sequence for multi-sample bounds."},
    {"shards", "fivo", "shards", I, "1", NULL,
     "Fixed pieces of each training batch, summed exactly; results depend on it, not on "
     "the MPI rank count, which must divide it, nor on --threads (a rank's shards run on its "
     "threads)."},
    {"threads", "fivo", "threads", I, NULL, NULL,
     "Threads for training, eval and sampling (default: every core the process may use, "
     "divided among the MPI ranks on the machine; results are bit-identical for any count)."},
    {"parallel_iterations", "fivo", "parallel_iterations", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored."},
    {"stagger_workers", "fivo", "stagger_workers", B, NULL, NULL,
     "Accepted for compatibility with the reference; ignored."},
    {"task", "fivo", "task", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored (the MPI rank is the task)."},
    {"ps_tasks", "fivo", "ps_tasks", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored (no parameter servers: "
     "mpirun, see --shards)."},
    {"master", "fivo", "master", S, NULL, NULL,
     "Accepted for compatibility with the reference; ignored (mpirun places the ranks)."},

    /* [train] */
    {"learning_rate", "train", "learning_rate", D, "0.0002", NULL, "Adam learning rate."},
    {"decay_steps", "train", "decay_steps", I, "0", NULL,
     "Halve the learning rate every this many steps, smoothly: learning_rate * "
     "0.5^(step / decay_steps), as the reference's experimental trainer (0: constant)."},
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
    {"early_stopping_patience", "train", "early_stopping_patience", I, "0", NULL,
     "Stop after this many evaluations on the [eval] split without a better bound (0: never; "
     "needs eval_every > 0); best.fivo keeps the best."},
    {"clip_global_norm", "train", "clip_global_norm", D, "0", NULL,
     "Clip gradients to this global norm (0: no clipping)."},
    {"tensorboard", "train", "tensorboard", B, "true", NULL,
     "Also write train and eval reports to a TensorBoard event file in logdir."},

    /* [eval] */
    {"eval_split", "eval", "split", S, "valid", "train|valid|test",
     "Split evaluated periodically while training."},
    {"checkpoint", "eval", "checkpoint", S, NULL, NULL,
     "Checkpoint file to evaluate or sample from (default: latest in logdir)."},
    {"eval_bounds", "eval", "bounds", S, "elbo,iwae,fivo", NULL,
     "Bound plugins --mode=eval reports, comma separated; each reads [bound] when it is the "
     "trained one, else [bound.NAME]."},

    /* [sample] */
    {"prefix_length", "sample", "prefix_length", I, "25", NULL,
     "Timesteps of data the model is conditioned on before sampling."},
    {"sample_length", "sample", "sample_length", I, "50", NULL, "Timesteps to sample."},
    {"sample_out_dir", "sample", "out_dir", S, NULL, NULL,
     "Folder for samples.npz (default: logdir)."},

    /* Plugin sections. `plugin` (and the dataset's path and split) are the
     * host's own keys there; every other row is only the reference's flag
     * name for a key of the chosen plugin: no default, no value list here.
     * The plugin declares those, and its section is checked against its
     * own options (fivo_plugin_apply_options). */
    {"model", "model", "plugin", S, "vrnn", NULL, "Model plugin (fivo plugins lists them)."},
    {"latent_size", "model", "latent_size", I, NULL, NULL, "Size of the model's latent state."},
    {"proposal_type", "model", "proposal_type", S, NULL, NULL,
     "The model's proposal (its choices: fivo --help, plugin options)."},
    {"variance", "model", "variance", D, NULL, NULL, "Variance, for models that have one."},
    {"num_timesteps", "model", "num_timesteps", I, NULL, NULL,
     "Timesteps, for models of fixed length."},

    {"bound", "bound", "plugin", S, "fivo", NULL, "Bound plugin trained (fivo plugins lists them)."},
    {"resampling_criterion", "bound", "resampling_criterion", S, NULL, NULL,
     "When the bound resamples (bounds that resample)."},
    {"ess_threshold", "bound", "ess_threshold", D, NULL, NULL,
     "Resample when ESS <= threshold * num_samples (bounds that resample)."},

    {"resampling_type", "resampler", "plugin", S, "multinomial", NULL,
     "Resampler plugin (fivo plugins lists them)."},
    {"relaxed_resampling_temperature", "resampler", "temperature", D, NULL, NULL,
     "Temperature, for resamplers that relax."},

    {"dataset_type", "dataset", "plugin", S, "pianoroll", NULL,
     "Dataset plugin (fivo plugins lists them; a model may prefer one)."},
    {"dataset_path", "dataset", "path", S, NULL, NULL, "Path to load the dataset from."},
    {"split", "dataset", "split", S, "train", "train|valid|test",
     "Split to train on, evaluate or sample prefixes from."},
    {"data_dimension", "dataset", "data_dimension", I, NULL, NULL,
     "Width of each timestep, for readers that take it."},
    {"raw_timit_dir", "dataset", "raw_timit_dir", S, NULL, NULL,
     "Raw data folder read by --mode=convert (converting readers)."},
    {"out_dir", "dataset", "out_dir", S, NULL, NULL,
     "Folder --mode=convert writes dataset files to."},
    {"samples_per_timestep", "dataset", "samples_per_timestep", I, NULL, NULL,
     "Audio samples per timestep, for audio readers."},
    {"valid_frac", "dataset", "valid_fraction", D, NULL, NULL,
     "Fraction held out as valid by --mode=convert (converting readers)."},
};
const size_t fivo_host_num_flags = sizeof fivo_host_flags / sizeof fivo_host_flags[0];

const fivo_host_section fivo_host_sections[] = {
    {"fivo", "the host: mode, logdir, plugin_path, seed, batch and particle counts"},
    {"train", "training loop: optimiser, steps, reports, checkpoints"},
    {"eval", "evaluation: split, checkpoint, the bounds --mode=eval reports"},
    {"sample", "sampling: prefix and sample lengths, output folder"},
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
