/* <logdir>/config.ini: the resolved settings of a training run, every key
 * of every section with its value and a comment saying where it came from
 * (default, file, flag), so `fivo --config <logdir>/config.ini` repeats the
 * run, and eval, sample and a resumed train in that logdir take the run's
 * settings from it. */
#ifndef FIVO_HOST_RUN_CONFIG_H
#define FIVO_HOST_RUN_CONFIG_H

#include <fivo/config.h>

#include "modes.h"

#define FIVO_RUN_CONFIG_NAME "config.ini"

/* Before the config is checked (main.c): when [fivo] mode is train, eval or
 * sample and <logdir>/config.ini exists, every key the run's settings give
 * and the command does not is taken from it (eval and sample take the
 * plugin sections and [fivo] plugin_path, random_seed, batch_size,
 * num_samples; a resumed train everything but mode and logdir). A [model]
 * key the command gives with another value than the run's is refused,
 * naming both values. Returns 0, or 2 after printing the error. */
int fivo_host_run_config_inherit(fivo_config *cfg);

/* Writes <logdir>/config.ini atomically from the checked config (call after
 * every check passed). Returns 0, or 1 after printing the error. */
int fivo_host_run_config_write(const fivo_host *h);

#endif
