/* The whole fivo SDK. Plugins include this (or the single headers). */
#ifndef FIVO_FIVO_H
#define FIVO_FIVO_H

#include <fivo/abi.h>
#include <fivo/batch.h>
#include <fivo/config.h>
#include <fivo/dist.h>
#include <fivo/error.h>
#include <fivo/events.h>
#include <fivo/layers.h>
#include <fivo/log.h>
#include <fivo/metrics.h>
#include <fivo/optim.h>
#include <fivo/options.h>
#include <fivo/params.h>
#include <fivo/plugin_bound.h>
#include <fivo/plugin_dataset.h>
#include <fivo/plugin_model.h>
#include <fivo/plugin_resampler.h>
#include <fivo/progress.h>
#include <fivo/registry.h>
#include <fivo/resampling_grads.h>
#include <fivo/rng.h>
#include <fivo/smc.h>
#include <fivo/tensor.h>

#endif
