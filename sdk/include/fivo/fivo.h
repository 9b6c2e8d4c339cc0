/* The plugin SDK's core: what every model, bound, resampler and dataset
 * plugin uses (the ABI and the four kinds' vtables, tensors and the tape,
 * layers, distributions, RNG, parameters, options, the SMC engine, errors).
 * The other public headers (batcher, tfrecord, atomic_file, shuffle,
 * weights, resample_hard, ext_tilt, progress) are included one by one where
 * needed. The host's and libfivo's own headers (registry, metrics, event
 * files, checkpoints, comm, ...) are <fivo/internal/...> and not part of it. */
#ifndef FIVO_FIVO_H
#define FIVO_FIVO_H

#include <fivo/abi.h>
#include <fivo/batch.h>
#include <fivo/config.h>
#include <fivo/dist.h>
#include <fivo/error.h>
#include <fivo/layers.h>
#include <fivo/options.h>
#include <fivo/params.h>
#include <fivo/plugin_bound.h>
#include <fivo/plugin_dataset.h>
#include <fivo/plugin_model.h>
#include <fivo/plugin_resampler.h>
#include <fivo/report.h>
#include <fivo/rng.h>
#include <fivo/smc.h>
#include <fivo/tensor.h>

#endif
