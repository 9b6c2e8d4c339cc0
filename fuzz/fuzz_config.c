/* libFuzzer target: the key-file config as the host builds it. The input
 * is "flags\0keyfile": each flag line "section.key=value" is set first (as
 * --set / --flag do), then the key file is loaded with keep_existing (flags
 * override the file), then every value is read back through each typed
 * getter. Any input must give FIVO_OK or an error message, never a crash,
 * a leak or a GLib warning (warnings are made fatal, so a GError set over
 * another one is reported as a crash). */
#include "fuzz_util.h"

#include <fivo/config.h>

#include <glib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A GLib warning or critical is a finding: abort (SIGABRT, which libFuzzer
 * catches and saves the input for; GLib's own fatal mode traps instead). */
static void abort_on_log(const gchar *domain, GLogLevelFlags level, const gchar *msg,
                         gpointer data)
{
    (void)data;
    if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
        fprintf(stderr, "%s: %s\n", domain != NULL ? domain : "", msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_log_set_default_handler(abort_on_log, NULL);
    return 0;
}

static void set_flags(fivo_config *cfg, char *flags)
{
    for (char *line = strtok(flags, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *dot = strchr(line, '.'), *eq = strchr(line, '=');
        if (dot == NULL || eq == NULL || eq < dot)
            continue;
        *dot = 0;
        *eq = 0;
        (void)fivo_config_set_from(cfg, line, dot + 1, eq + 1, "--set");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    size_t flen = strlen(text);
    const char *file = flen < size ? text + flen + 1 : "";
    fivo_config *cfg = fivo_config_new();
    set_flags(cfg, text);
    fivo_error err = {0};
    (void)fivo_config_load_data(cfg, file, "fuzz.ini", true, &err);
    const char *const *sections = fivo_config_sections(cfg);
    for (size_t i = 0; sections != NULL && sections[i] != NULL; i++) {
        const char *const *keys = fivo_config_keys(cfg, sections[i]);
        for (size_t k = 0; keys != NULL && keys[k] != NULL; k++) {
            const char *s = NULL;
            long l;
            double d;
            bool b;
            (void)fivo_config_get_string(cfg, sections[i], keys[k], NULL, &s, &err);
            (void)fivo_config_get_int(cfg, sections[i], keys[k], 0, &l, &err);
            (void)fivo_config_get_double(cfg, sections[i], keys[k], 0, &d, &err);
            (void)fivo_config_get_bool(cfg, sections[i], keys[k], false, &b, &err);
            (void)fivo_config_origin(cfg, sections[i], keys[k]);
        }
    }
    fivo_config_free(cfg);
    free(text);
    return 0;
}
