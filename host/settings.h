/* The host's settings: every value of the host's own rows (flags.c), read
 * once from the checked config into one typed struct, so no mode or helper
 * reads a host key from the config, repeats a default or checks a range
 * again. Filled by fivo_host_configure (configure.c) after every row has
 * been defaulted and checked; derived values ("0: one shard per sequence",
 * "0: every core") are resolved here, once. */
#ifndef FIVO_HOST_SETTINGS_H
#define FIVO_HOST_SETTINGS_H

#include <stdbool.h>

#include <fivo/config.h>

typedef struct fivo_host_settings {
    /* [fivo] */
    const char *mode, *logdir, *plugin_path;
    bool verbose;
    long random_seed, batch_size, num_samples;
    long shards;  /* resolved: the row's 0 is batch_size (one sequence per shard) */
    long threads; /* resolved: the row's 0 is every core this process may use,
                     divided among the MPI ranks on this machine */
    /* [train] */
    double learning_rate, checkpoint_every_secs, clip_global_norm;
    long max_steps, summarize_every, eval_every, keep_checkpoints, early_stopping_patience;
    long decay_steps;
    double memory_budget_mb; /* 0: no limit */
    bool normalize_by_seq_len, tensorboard;
    bool use_resampling_grads;
    double resampling_grads_decay;
    /* [eval] */
    const char *eval_split, *checkpoint, *eval_bounds;
    /* [sample] */
    long prefix_length, sample_length;
    const char *sample_out_dir;
    /* The host's keys of the plugin sections. */
    const char *model, *bound, *resampler, *dataset, *dataset_path, *split;
} fivo_host_settings;

/* Reads every row that names a field of s from cfg (already defaulted and
 * checked; strings stay owned by cfg), then resolves shards and threads and
 * checks what involves several keys. Returns 0, or 2 after printing the
 * error. */
int fivo_host_settings_fill(const fivo_config *cfg, fivo_host_settings *s);

#endif
