/* Option rows at other strides than the host's. ABI_ROWS_WIDER: a plugin
 * of a later minor whose rows carry one more field (option_size larger):
 * the host reads each row's known prefix at the plugin's stride.
 * ABI_ROWS_SHORT: option_size smaller than a 2.0 row: refused at load.
 * ABI_ROWS_BAD_DEFAULT: a default outside its own choices: refused.
 * ABI_ROWS_V20: a plugin built against ABI 2.0, whose rows end before min
 * and max (the previous minor): loads, its keys without a range. */
#include <fivo/fivo.h>

#ifdef ABI_ROWS_V20
/* fivo_option as ABI 2.0 declared it. */
typedef struct v20_option {
    const char *key;
    fivo_option_type type;
    const char *default_value;
    const char *help;
    const char *choices;
} v20_option;
#else
typedef struct wide_option {
    fivo_option base;
    const char *added_later; /* what a later minor might append */
} wide_option;
#endif

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

#ifdef ABI_ROWS_V20
static const v20_option rows[] = {
    {"first_key", FIVO_OPTION_INT, "3", "an int", NULL},
    {"second_key", FIVO_OPTION_STRING, "b", "a choice", "a|b"},
};
#else
static const wide_option rows[] = {
    {{"first_key", FIVO_OPTION_INT, "3", "an int", NULL, "1", "10"}, "x"},
#ifdef ABI_ROWS_BAD_DEFAULT
    {{"second_key", FIVO_OPTION_STRING, "c", "a choice", "a|b", NULL, NULL}, "y"},
#else
    {{"second_key", FIVO_OPTION_STRING, "b", "a choice", "a|b", NULL, NULL}, "y"},
#endif
};
#endif

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
#ifdef ABI_ROWS_V20
    .abi_minor = 0u,
    .options = (const fivo_option *)(const void *)&rows[0],
#else
    .abi_minor = FIVO_ABI_MINOR + 1u,
    .options = &rows[0].base,
#endif
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .description = "test: option rows at another stride",
    .vtable = &vtable,
    .vtable_size = sizeof vtable,
    .num_options = 2,
#ifdef ABI_ROWS_SHORT
    .option_size = FIVO_OPTION_SIZE_2_0 - sizeof(const char *),
#else
    .option_size = sizeof rows[0],
#endif
};

FIVO_PLUGIN_DEFINE_QUERY(descriptor)
