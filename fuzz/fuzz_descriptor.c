/* libFuzzer target: plugin descriptor validation. The input is decoded into
 * a descriptor (ABI version, kind, name, vtable size, option rows at any
 * stride, dataset preferences; any string or table may be NULL) and passed
 * to the registry's checks, as if a plugin's fivo_plugin_query had returned
 * it. The checks must accept or give a reason, never crash or read outside
 * what the descriptor declares. */
#include "fuzz_util.h"

#include <glib.h>

#include "registry_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything allocated for one input, freed at the end. */
typedef struct pool {
    void *p[512];
    int n;
} pool;

static void *keep(pool *pl, void *p)
{
    if (pl->n == 512) {
        free(p);
        return NULL;
    }
    pl->p[pl->n++] = p;
    return p;
}

static const char *maybe_string(pool *pl, fuzz_cursor *c, size_t max)
{
    if (fuzz_u8(c) % 8 == 0)
        return NULL;
    return keep(pl, fuzz_string(c, max));
}

static _Alignas(16) unsigned char g_vtable[4096]; /* every slot NULL */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor c = {data, size};
    pool pl = {.n = 0};
    fivo_plugin_descriptor d;
    memset(&d, 0, sizeof d);
    uint8_t f = fuzz_u8(&c);
    d.abi_major = (f & 1) ? FIVO_ABI_MAJOR : fuzz_u32(&c);
    d.abi_minor = fuzz_u8(&c);
    d.kind = fuzz_u8(&c) % 6;
    d.name = maybe_string(&pl, &c, 40);
    d.version = maybe_string(&pl, &c, 16);
    d.description = maybe_string(&pl, &c, 32);
    d.vtable = (f & 2) ? NULL : g_vtable;
    d.vtable_size = (size_t)fuzz_u8(&c) * 8;
    d.num_options = fuzz_u8(&c) % 9;
    d.option_size = (f & 4) ? sizeof(fivo_option) + (size_t)(fuzz_u8(&c) % 4) * 8
                            : fuzz_u8(&c) % (sizeof(fivo_option) + 9);
    if (!(f & 8) && d.num_options > 0) {
        size_t stride = d.option_size > sizeof(fivo_option) ? d.option_size
                                                             : sizeof(fivo_option);
        /* The plugin's table really is num_options rows of option_size. */
        unsigned char *rows = keep(&pl, calloc(d.num_options, stride));
        for (size_t i = 0; rows != NULL && i < d.num_options; i++) {
            fivo_option o;
            o.key = maybe_string(&pl, &c, 24);
            o.type = (fivo_option_type)(fuzz_u8(&c) % 6);
            o.default_value = maybe_string(&pl, &c, 16);
            o.help = maybe_string(&pl, &c, 16);
            o.choices = maybe_string(&pl, &c, 32);
            memcpy(rows + i * stride, &o, sizeof o);
        }
        d.options = (const fivo_option *)(const void *)rows;
    }
    d.num_dataset_preferences = fuzz_u8(&c) % 4;
    if (!(f & 16) && d.num_dataset_preferences > 0) {
        fivo_dataset_preference *prefs =
            keep(&pl, calloc(d.num_dataset_preferences, sizeof *prefs));
        for (size_t i = 0; prefs != NULL && i < d.num_dataset_preferences; i++) {
            prefs[i].dataset = maybe_string(&pl, &c, 16);
            prefs[i].with_path = fuzz_u8(&c) & 1;
            prefs[i].num_settings = fuzz_u8(&c) % 4;
            if (fuzz_u8(&c) % 8 == 0)
                continue; /* settings table NULL */
            fivo_setting *set = keep(&pl, calloc(prefs[i].num_settings + 1, sizeof *set));
            for (size_t k = 0; set != NULL && k < prefs[i].num_settings; k++) {
                set[k].key = maybe_string(&pl, &c, 16);
                set[k].value = maybe_string(&pl, &c, 16);
                set[k].unless_key = maybe_string(&pl, &c, 16);
            }
            prefs[i].settings = set;
        }
        d.dataset_preferences = prefs;
    }
    char *why = fivo__registry_check_descriptor(&d);
    if (why != NULL && why[0] == 0)
        abort(); /* a refusal must say why */
    g_free(why);
    for (int i = 0; i < pl.n; i++)
        free(pl.p[i]);
    return 0;
}
