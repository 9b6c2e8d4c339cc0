/* `fivo --help`, generated from the flag table and the plugins found, so it
 * cannot drift from what the host accepts. */
#include "flags.h"

#include <string.h>

#include <fivo/registry.h>

static const char *type_name(fivo_option_type t)
{
    switch (t) {
    case FIVO_OPTION_INT: return "INT";
    case FIVO_OPTION_DOUBLE: return "NUMBER";
    case FIVO_OPTION_BOOL: return "BOOL";
    case FIVO_OPTION_STRING: return "STRING";
    }
    return "VALUE";
}

void fivo_host_print_help(FILE *out, const struct fivo_registry *reg)
{
    fprintf(out,
            "Usage: fivo [--mode=train|eval|sample|convert|inspect] [--config FILE.ini] "
            "[--FLAG=VALUE ...]\n"
            "       fivo plugins [--plugin_path=DIRS]\n"
            "\n"
            "Trains and evaluates sequential latent-variable models (VRNN, SRNN, Gaussian HMM)\n"
            "with the ELBO, IWAE and FIVO bounds. Models, bounds, resamplers and dataset\n"
            "readers are plugins; `fivo plugins` lists the ones found and any refused.\n"
            "\n"
            "Flags are written --flag=value or --flag value; a bool flag alone means true\n"
            "(--flag, --flag=false, --noflag). Flags override the config file.\n"
            "\n"
            "General:\n"
            "  --config FILE.ini    GLib key file with the sections below\n"
            "  --set SECTION.KEY=VALUE\n"
            "                       set any config key, e.g. --set model.hidden_size=32\n"
            "  --help               this text\n"
            "  --version            version and plugin ABI\n"
            "\n"
            "Flags (each one is also a config key, [section] key):\n");
    for (size_t i = 0; i < fivo_host_num_flags; i++) {
        const fivo_host_flag *f = &fivo_host_flags[i];
        fprintf(out, "  --%s=%s\n", f->flag, f->choices != NULL ? f->choices : type_name(f->type));
        fprintf(out, "      [%s] %s; default: %s\n      %s\n", f->section, f->key,
                f->default_value != NULL ? f->default_value : "(none)", f->help);
    }
    fprintf(out, "\nConfig sections:\n");
    for (size_t i = 0; i < fivo_host_num_sections; i++)
        fprintf(out, "  [%s]  %s\n", fivo_host_sections[i].name, fivo_host_sections[i].help);
    fprintf(out, "\nPlugin options (keys of [model], [bound], [resampler], [dataset] declared "
                 "by the plugins found):\n");
    int shown = 0;
    for (int i = 0; i < fivo_registry_count(reg); i++) {
        const fivo_plugin_info *p = fivo_registry_at(reg, i);
        for (size_t k = 0; k < p->num_options; k++) {
            const fivo_option *o = &p->options[k];
            fprintf(out, "  [%s] %s=%s  (%s %s); default: %s\n      %s\n",
                    fivo_plugin_kind_name(p->kind), o->key, type_name(o->type),
                    fivo_plugin_kind_name(p->kind), p->name,
                    o->default_value != NULL ? o->default_value : "(none)",
                    o->help != NULL ? o->help : "");
            shown++;
        }
    }
    if (shown == 0)
        fprintf(out, "  (none)\n");
    fprintf(out, "\nEnvironment: FIVO_PLUGIN_PATH (':'-separated plugin folders), "
                 "FIVO_LOG_LEVEL (debug|info|warn|error).\n"
                 "Every report is appended as one JSON line to <logdir>/metrics.jsonl.\n");
}
