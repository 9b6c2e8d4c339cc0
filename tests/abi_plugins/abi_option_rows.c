/* Option rows at other strides than the host's. ABI_ROWS_WIDER: a plugin
 * of a later minor whose rows carry one more field (option_size larger):
 * the host reads each row's known prefix at the plugin's stride.
 * ABI_ROWS_SHORT: option_size smaller than a 2.0 row: refused at load.
 * ABI_ROWS_BAD_DEFAULT: a default outside its own choices: refused. */
#include <fivo/fivo.h>

typedef struct wide_option {
    fivo_option base;
    const char *added_later; /* what a later minor might append */
} wide_option;

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    (void)cfg;
    (void)err;
    *self = NULL;
    return FIVO_OK;
}
static void destroy(void *self) { (void)self; }
static fivo_status resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                            uint32_t row, int32_t *ancestors, fivo_error *err)
{
    (void)self, (void)log_w, (void)rng, (void)row, (void)err;
    for (int i = 0; i < n; i++)
        ancestors[i] = i;
    return FIVO_OK;
}
static const fivo_resampler_vtable vtable = {.create = create, .destroy = destroy,
                                             .resample = resample};

static const wide_option rows[] = {
    {{"first_key", FIVO_OPTION_INT, "3", "an int", NULL}, "x"},
#ifdef ABI_ROWS_BAD_DEFAULT
    {{"second_key", FIVO_OPTION_STRING, "c", "a choice", "a|b"}, "y"},
#else
    {{"second_key", FIVO_OPTION_STRING, "b", "a choice", "a|b"}, "y"},
#endif
};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR + 1u,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .description = "test: option rows at another stride",
    .vtable = &vtable,
    .vtable_size = sizeof vtable,
    .options = &rows[0].base,
    .num_options = 2,
#ifdef ABI_ROWS_SHORT
    .option_size = sizeof(fivo_option) - sizeof(const char *),
#else
    .option_size = sizeof rows[0],
#endif
};

FIVO_PLUGIN_DEFINE_QUERY(descriptor)
