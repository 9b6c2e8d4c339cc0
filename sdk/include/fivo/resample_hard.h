/* The four hard ancestor schemes (multinomial, systematic, stratified,
 * residual): their one implementation. The bundled plugins of those names
 * call it, and so do resamplers that wrap a hard scheme with a different
 * backward pass or a different proposal (stop-gradient, soft), so each draws
 * exactly the uniforms, and returns exactly the ancestors, of the plugin of
 * the same name for the same rng and row (tests/test_grad_resamplers.cc). */
#ifndef FIVO_RESAMPLE_HARD_H
#define FIVO_RESAMPLE_HARD_H

#include <stddef.h>

#include <fivo/abi.h>
#include <fivo/error.h>
#include <fivo/plugin_resampler.h>
#include <fivo/resample_scratch.h>
#include <fivo/rng.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fivo_resample_scheme {
    FIVO_SCHEME_MULTINOMIAL,
    FIVO_SCHEME_SYSTEMATIC,
    FIVO_SCHEME_STRATIFIED,
    FIVO_SCHEME_RESIDUAL
} fivo_resample_scheme;

/* "multinomial" | "systematic" | "stratified" | "residual"; anything else is
 * FIVO_ERR_INVALID naming `key`. */
fivo_status fivo_resample_scheme_parse(const char *text, const char *key,
                                       fivo_resample_scheme *out, fivo_error *err);

/* Ancestors[0..n) from log_w[0..n) by `scheme`, using s as work space (s from
 * fivo_resample_scratch_create). Errors as fivo_resample_scratch_prepare. */
fivo_status fivo_resample_hard(fivo_resample_scheme scheme, fivo_resample_scratch *s,
                               const double *log_w, int n, const fivo_rng *rng, uint32_t row,
                               int32_t *ancestors, fivo_error *err);

/* A whole resampler plugin that draws with one hard scheme: its resample
 * slot, vtable (scratch create/destroy), descriptor (version 1.0.0) and
 * query function. At file scope, once per module:
 *   FIVO_HARD_RESAMPLER_PLUGIN(FIVO_SCHEME_SYSTEMATIC, "systematic", "one line")
 * The bundled multinomial, systematic, stratified and residual plugins are
 * one such line each. */
#define FIVO_HARD_RESAMPLER_PLUGIN(scheme, plugin_name, one_line)                              \
    static fivo_status fivo_hard_plugin_resample_(void *self, const double *log_w, int n,      \
                                                  const fivo_rng *rng, uint32_t row,           \
                                                  int32_t *ancestors, fivo_error *err)         \
    {                                                                                          \
        return fivo_resample_hard(scheme, (fivo_resample_scratch *)self, log_w, n, rng, row,   \
                                  ancestors, err);                                             \
    }                                                                                          \
    static const fivo_resampler_vtable fivo_hard_plugin_vtable_ = {                            \
        .create = fivo_resample_scratch_create,                                                \
        .destroy = fivo_resample_scratch_destroy,                                              \
        .resample = fivo_hard_plugin_resample_,                                                \
    };                                                                                         \
    static const fivo_plugin_descriptor fivo_hard_plugin_descriptor_ = {                       \
        .abi_major = FIVO_ABI_MAJOR,                                                           \
        .abi_minor = FIVO_ABI_MINOR,                                                           \
        .kind = FIVO_PLUGIN_RESAMPLER,                                                         \
        .name = plugin_name,                                                                   \
        .version = "1.0.0",                                                                    \
        .description = one_line,                                                               \
        .vtable = &fivo_hard_plugin_vtable_,                                                   \
        .vtable_size = sizeof fivo_hard_plugin_vtable_,                                        \
    };                                                                                         \
    FIVO_PLUGIN_DEFINE_QUERY(fivo_hard_plugin_descriptor_)

/* The common head of a resampler plugin's state (soft, stop-gradient,
 * optimal-transport): the hard scheme it wraps, if any, and that scheme's
 * work space. A plugin's own state struct starts with it. */
typedef struct fivo_resampler_state {
    fivo_resample_scheme scheme;
    fivo_resample_scratch *scratch; /* NULL when no scheme was named */
} fivo_resampler_state;

/* The create of such a plugin: *self = a zeroed block of `size` bytes
 * (>= sizeof(fivo_resampler_state)); when `scheme` is not NULL, it is parsed
 * as [resampler] base and its scratch created. On error nothing stays
 * allocated; messages name the key, or `who` for out of memory. */
fivo_status fivo_resampler_state_new(size_t size, const char *who, const char *scheme,
                                     void **self, fivo_error *err);
/* The matching destroy slot: frees the scratch and the block. NULL is fine. */
void fivo_resampler_state_free(void *self);

#ifdef __cplusplus
}
#endif
#endif
