/* Private to libfivo and its fuzz targets: the registry's descriptor checks
 * without loading a module, so a fuzzer can feed it arbitrary descriptors. */
#ifndef FIVO_CORE_REGISTRY_CHECK_H
#define FIVO_CORE_REGISTRY_CHECK_H

#include <fivo/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* NULL when the registry would accept `d`, else the reason (g_free it). */
char *fivo__registry_check_descriptor(const fivo_plugin_descriptor *d);

#ifdef __cplusplus
}
#endif

#endif
