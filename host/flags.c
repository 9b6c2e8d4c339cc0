/* The table of host flags (see flags.h). Names follow the reference's
 * run_fivo.py so existing command lines keep working. */
#include "flags.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define I FIVO_OPTION_INT
#define D FIVO_OPTION_DOUBLE
#define B FIVO_OPTION_BOOL
#define S FIVO_OPTION_STRING
#define AT FIVO_HOST_FIELD
#define INT32_MAX_TEXT "2147483647" /* counts the host keeps as int */

const fivo_host_flag fivo_host_flags[] = {
    /* [fivo]: the host itself */
    {"mode", "fivo", "mode", S, "train", "train|eval|sample|convert|inspect|plugins|plot",
     "What to do.", NULL, NULL, AT(mode)},
    {"verbose", "fivo", "verbose", B, "false", NULL,
     "fivo plugins: also list each plugin's options, defaults and choices.", NULL, NULL, AT(verbose)},
    {"logdir", "fivo", "logdir", S, "/tmp/fivo", NULL,
     "Folder for checkpoints, samples and metrics.jsonl (created on demand).", NULL, NULL, AT(logdir)},
    {"plugin_path", "fivo", "plugin_path", S, NULL, NULL,
     "Extra ':'-separated folders searched for plugins, after FIVO_PLUGIN_PATH.", NULL, NULL, AT(plugin_path)},
    {"random_seed", "fivo", "random_seed", I, "0", NULL,
     "Seed of every random stream (initialisation, batches, proposals, resampling).", NULL, NULL, AT(random_seed)},
    {"batch_size", "fivo", "batch_size", I, "4", NULL, "Sequences per batch.", "1", INT32_MAX_TEXT, AT(batch_size)},
    {"num_samples", "fivo", "num_samples", I, "4",
     NULL, "Particles (samples) per sequence for multi-sample bounds.", "1", INT32_MAX_TEXT, AT(num_samples)},
    {"shards", "fivo", "shards", I, "0", NULL,
     "Fixed pieces of each training batch, summed exactly (0: one sequence per shard, "
     "shards = batch_size); results depend on it, not on the MPI rank count, which must "
     "divide it, nor on --threads (a rank's shards run on its threads).", "0", INT32_MAX_TEXT, AT(shards)},
    {"threads", "fivo", "threads", I, "0", NULL,
     "Threads for training, eval and sampling (0: every core the process may use, "
     "divided among the MPI ranks on the machine; results are bit-identical for any count).", "0", "4096", AT(threads)},
    {"parallel_iterations", "fivo", "parallel_iterations", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored.", NULL, NULL, 0},
    {"stagger_workers", "fivo", "stagger_workers", B, NULL, NULL,
     "Accepted for compatibility with the reference; ignored.", NULL, NULL, 0},
    {"task", "fivo", "task", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored (the MPI rank is the task).", NULL, NULL, 0},
    {"ps_tasks", "fivo", "ps_tasks", I, NULL, NULL,
     "Accepted for compatibility with the reference; ignored (no parameter servers: "
     "mpirun, see --shards).", NULL, NULL, 0},
    {"master", "fivo", "master", S, NULL, NULL,
     "Accepted for compatibility with the reference; ignored (mpirun places the ranks).", NULL, NULL, 0},

    /* [train] */
    {"learning_rate", "train", "learning_rate", D, "0.0002", NULL,
     "Adam learning rate (the reference's default).", ">0", NULL, AT(learning_rate)},
    {"decay_steps", "train", "decay_steps", I, NULL, NULL,
     "Halve the learning rate every this many steps, smoothly: learning_rate * "
     "0.5^(step / decay_steps), as the reference's experimental trainer (unset: constant).", "1",
     NULL, AT(decay_steps)},
    {"max_steps", "train", "max_steps", I, "1000000000", NULL,
     "Gradient steps to train for.", "0", NULL, AT(max_steps)},
    {"summarize_every", "train", "summarize_every", I, "50", NULL,
     "Steps between train reports in metrics.jsonl.", "1", NULL, AT(summarize_every)},
    {"normalize_by_seq_len", "train", "normalize_by_seq_len", B, "true", NULL,
     "Divide each sequence's bound by its length in the loss.", NULL, NULL, AT(normalize_by_seq_len)},
    {"eval_every", "train", "eval_every", I, "0", NULL,
     "Steps between evaluations on [eval] split during training (0: never).", "0", NULL, AT(eval_every)},
    {"checkpoint_every_secs", "train", "checkpoint_every_secs", D, "120", NULL,
     "Seconds between checkpoints.", "0", NULL, AT(checkpoint_every_secs)},
    {"keep_checkpoints", "train", "keep_checkpoints", I, "5", NULL,
     "Number of most recent checkpoints kept.", "1", NULL, AT(keep_checkpoints)},
    {"early_stopping_patience", "train", "early_stopping_patience", I, "0", NULL,
     "Stop after this many evaluations on the [eval] split without a better bound (0: never; "
     "needs eval_every > 0); best.fivo keeps the best.", "0", NULL, AT(early_stopping_patience)},
    {"clip_global_norm", "train", "clip_global_norm", D, "0", NULL,
     "Clip gradients to this global norm (0: no clipping).", "0", NULL, AT(clip_global_norm)},
    {"memory_budget_mb", "train", "memory_budget_mb", D, "64", NULL,
     "Memory for a training step's tape per shard thread, in MB (0: no limit). Longer batches "
     "keep the tape for a segment of steps at a time and recompute it in backward (the same bits "
     "for any segment length; a model that can encodes such a batch's observations step by step, "
     "equal to the whole tape's up to float rounding); the arena is sized to it at once. Too "
     "small for one step is refused with the figure needed.", "0", "1048576", AT(memory_budget_mb)},
    {"use_resampling_grads", "train", "use_resampling_grads", B, "false", NULL,
     "Add the REINFORCE score of the ancestor draws to the loss (the reference's resampling "
     "gradients): sum over resampling steps of (later log p-hat increments - a moving-average "
     "baseline) * log q(ancestors); needs a hard resampler and keeps the whole tape "
     "(docs/bounds.md).", NULL, NULL, AT(use_resampling_grads)},
    {"resampling_grads_decay", "train", "resampling_grads_decay", D, "0.94", NULL,
     "Decay of the moving-average baseline of use_resampling_grads, per step (the reference's "
     "0.94).", ">0", "<1", AT(resampling_grads_decay)},
    {"tensorboard", "train", "tensorboard", B, "true", NULL,
     "Also write train and eval reports to a TensorBoard event file in logdir.", NULL, NULL, AT(tensorboard)},

    /* [eval] */
    {"eval_split", "eval", "split", S, "valid", "train|valid|test",
     "Split evaluated periodically while training.", NULL, NULL, AT(eval_split)},
    {"checkpoint", "eval", "checkpoint", S, NULL, NULL,
     "Checkpoint file to evaluate or sample from (default: latest in logdir).", NULL, NULL, AT(checkpoint)},
    {"eval_bounds", "eval", "bounds", S, "elbo,iwae,fivo", NULL,
     "Bound plugins --mode=eval reports, comma separated; each reads [bound] when it is the "
     "trained one, else [bound.NAME].", NULL, NULL, AT(eval_bounds)},

    /* [sample] */
    {"prefix_length", "sample", "prefix_length", I, "25", NULL,
     "Timesteps of data the model is conditioned on before sampling.", "1", NULL, AT(prefix_length)},
    {"sample_length", "sample", "sample_length", I, "50", NULL, "Timesteps to sample.", "1", NULL, AT(sample_length)},
    {"sample_out_dir", "sample", "out_dir", S, NULL, NULL,
     "Folder for samples.npz (default: logdir).", NULL, NULL, AT(sample_out_dir)},

    /* Plugin sections. `plugin` (and the dataset's path and split) are the
     * host's own keys there; every other row is only the reference's flag
     * name for a key of the chosen plugin: no default, no value list here.
     * The plugin declares those, and its section is checked against its
     * own options (fivo_plugin_apply_options). */
    {"model", "model", "plugin", S, "vrnn", NULL, "Model plugin (fivo plugins lists them).", NULL, NULL, AT(model)},
    {"latent_size", "model", "latent_size", I, NULL, NULL, "Size of the model's latent state.", NULL, NULL, 0},
    {"proposal_type", "model", "proposal_type", S, NULL, NULL,
     "The model's proposal (its choices: fivo --help, plugin options).", NULL, NULL, 0},
    {"variance", "model", "variance", D, NULL, NULL, "Variance, for models that have one.", NULL, NULL, 0},
    {"num_timesteps", "model", "num_timesteps", I, NULL, NULL,
     "Timesteps, for models of fixed length.", NULL, NULL, 0},

    {"bound", "bound", "plugin", S, "fivo", NULL, "Bound plugin trained (fivo plugins lists them).", NULL, NULL, AT(bound)},
    {"resampling_criterion", "bound", "resampling_criterion", S, NULL, NULL,
     "When the bound resamples (bounds that resample).", NULL, NULL, 0},
    {"ess_threshold", "bound", "ess_threshold", D, NULL, NULL,
     "Resample when ESS <= threshold * num_samples (bounds that resample).", NULL, NULL, 0},

    {"resampling_type", "resampler", "plugin", S, "multinomial", NULL,
     "Resampler plugin (fivo plugins lists them).", NULL, NULL, AT(resampler)},
    {"relaxed_resampling_temperature", "resampler", "temperature", D, NULL, NULL,
     "Temperature, for resamplers that relax.", NULL, NULL, 0},

    {"dataset_type", "dataset", "plugin", S, "pianoroll", NULL,
     "Dataset plugin (fivo plugins lists them; a model may prefer one).", NULL, NULL, AT(dataset)},
    {"dataset_path", "dataset", "path", S, NULL, NULL, "Path to load the dataset from.", NULL, NULL, AT(dataset_path)},
    {"split", "dataset", "split", S, "train", "train|valid|test",
     "Split to train on, evaluate or sample prefixes from.", NULL, NULL, AT(split)},
    {"data_dimension", "dataset", "data_dimension", I, NULL, NULL,
     "Width of each timestep, for readers that take it.", NULL, NULL, 0},
    {"raw_timit_dir", "dataset", "raw_timit_dir", S, NULL, NULL,
     "Raw data folder read by --mode=convert (converting readers).", NULL, NULL, 0},
    {"out_dir", "dataset", "out_dir", S, NULL, NULL,
     "Folder --mode=convert writes dataset files to.", NULL, NULL, 0},
    {"samples_per_timestep", "dataset", "samples_per_timestep", I, NULL, NULL,
     "Audio samples per timestep, for audio readers.", NULL, NULL, 0},
    {"valid_frac", "dataset", "valid_fraction", D, NULL, NULL,
     "Fraction held out as valid by --mode=convert (converting readers).", NULL, NULL, 0},
};
const size_t fivo_host_num_flags = sizeof fivo_host_flags / sizeof fivo_host_flags[0];

const fivo_host_section fivo_host_sections[] = {
    {"fivo", "the host: mode, logdir, plugin_path, seed, batch and particle counts"},
    {"train", "training loop: optimiser, steps, reports, checkpoints"},
    {"eval", "evaluation: split, checkpoint, the bounds --mode=eval reports"},
    {"sample", "sampling: prefix and sample lengths, output folder"},
};
const size_t fivo_host_num_sections = sizeof fivo_host_sections / sizeof fivo_host_sections[0];

fivo_option fivo_host_flag_option(const fivo_host_flag *f)
{
    return (fivo_option){f->key, f->type, f->default_value, f->help, f->choices, f->min, f->max};
}

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
