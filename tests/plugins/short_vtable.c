/* A model plugin built against an older, shorter vtable: it declares only
 * create and destroy. The two slots sit at the very end of a readable page
 * followed by an inaccessible one, so any read past vtable_size by the host
 * faults instead of silently reading garbage. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fivo/abi.h>
#include <fivo/plugin_model.h>

typedef struct short_model_vtable { /* the first two slots of fivo_model_vtable */
    fivo_status (*create)(const fivo_config *, const fivo_data_spec *, fivo_params *, void **,
                          fivo_error *);
    void (*destroy)(void *);
} short_model_vtable;

static fivo_status sm_create(const fivo_config *cfg, const fivo_data_spec *spec,
                             fivo_params *params, void **self, fivo_error *err)
{
    (void)cfg, (void)spec, (void)params, (void)err;
    *self = calloc(1, 8);
    return FIVO_OK;
}

static void sm_destroy(void *self)
{
    free(self);
}

static fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR, .abi_minor = 0, .kind = FIVO_PLUGIN_MODEL,
    .name = "short_model", .version = "0.0.1", .description = "create and destroy only",
    .vtable = NULL, .vtable_size = sizeof(short_model_vtable),
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    if (descriptor.vtable == NULL) {
        long page = sysconf(_SC_PAGESIZE);
        char *mem = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
            return NULL;
        short_model_vtable *vt = (short_model_vtable *)(mem + page - sizeof *vt);
        vt->create = sm_create;
        vt->destroy = sm_destroy;
        if (mprotect(mem + page, (size_t)page, PROT_NONE) != 0)
            return NULL;
        descriptor.vtable = vt;
    }
    return &descriptor;
}
