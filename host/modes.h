/* The fivo host: one function per mode, each in its own file
 * (mode_<name>.c), returning the process exit code.
 *
 * Configuration (flags override the key file; every flag is also a key):
 *   [fivo]      mode, logdir, plugin_path, random_seed, batch_size, num_samples
 *   [train]     learning_rate, max_steps, summarize_every, normalize_by_seq_len,
 *               eval_every, checkpoint_every_secs, keep_checkpoints, clip_global_norm
 *   [eval]      split, checkpoint
 *   [sample]    prefix_length, sample_length
 *   [model]     plugin (--model), latent_size, proposal_type, variance, num_timesteps, ...
 *   [bound]     plugin (--bound), resampling_criterion (ess|always|never), ess_threshold
 *   [resampler] plugin (--resampling_type), temperature, ...
 *   [dataset]   plugin (--dataset_type), path (--dataset_path), split (--split),
 *               raw_timit_dir, out_dir, ...
 * Keys in the plugin sections are checked against the options the plugins
 * of that kind declare (fivo_plugin_descriptor.options). */
#ifndef FIVO_HOST_MODES_H
#define FIVO_HOST_MODES_H

#include <fivo/checkpoint.h>
#include <fivo/fivo.h>
#include <fivo/progress.h>

typedef struct fivo_host {
    fivo_config *cfg;     /* merged key file + flags */
    fivo_registry *reg;   /* every plugin found */
    const char *logdir;   /* [fivo] logdir, created on demand */
    const char *metrics_path; /* <logdir>/metrics.jsonl */
    char events_path[4096];   /* this process's TensorBoard event file, "" until the first event */
} fivo_host;

int fivo_host_run_train(fivo_host *h);
int fivo_host_run_eval(fivo_host *h);
int fivo_host_run_sample(fivo_host *h);
int fivo_host_run_convert(fivo_host *h);
int fivo_host_run_inspect(fivo_host *h);
int fivo_host_run_plugins(fivo_host *h);
int fivo_host_run_plot(fivo_host *h);

/* Writes a report to metrics.jsonl and prints it; shared by every mode.
 * Creates logdir on first use. Returns 0, or 1 after printing the error. */
int fivo_host_emit(fivo_host *h, fivo_report *r);

/* Appends a train or eval report to this process's TensorBoard event file
 * (created on first use) unless [train] tensorboard is false; other modes'
 * reports are ignored. Returns 0, or 1 after printing the error. */
int fivo_host_tensorboard(fivo_host *h, fivo_report *r);

/* Draws the training progress line (p NULL: no terminal, nothing). */
void fivo_host_train_progress(fivo_progress *p, long done, const char *bound_name,
                              double bound_per_t);

/* The plugin that section [<kind>] names with its `plugin` key. When no
 * plugin of that kind and name was found, prints which kind and name is
 * missing, the available ones and where the host looked, and returns NULL
 * (the mode then exits non-zero). */
const fivo_plugin_info *fivo_host_require_plugin(fivo_host *h, fivo_plugin_kind kind);

/* Collective (restore.c): the checkpoint at `path` (NULL: the newest valid
 * one in logdir) into params, and into adam when not NULL. With several
 * MPI ranks rank 0 reads it and sends it to every rank, so all start from
 * the same bits (no shared file system needed); every rank returns rank
 * 0's status and message. *used (may be NULL) gets the file read. */
fivo_status fivo_host_restore(const char *logdir, const char *path, fivo_params *params,
                              fivo_adam *adam, fivo_checkpoint_meta *meta, char **used,
                              fivo_error *err);

#endif
