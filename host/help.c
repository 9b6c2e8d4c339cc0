/* `fivo --help`, generated from the flag table, the kind table and the
 * plugins found, so it cannot drift from what the host accepts. */
#include "flag_text.h"

#include <stdlib.h>

#include <fivo/internal/plugin_kinds.h>
#include <fivo/internal/registry.h>

void fivo_host_print_plugin_options(FILE *out, const fivo_plugin_info *p, const char *indent)
{
    if (p->num_options == 0) {
        fprintf(out, "%s(no options)\n", indent);
        return;
    }
    for (size_t k = 0; k < p->num_options; k++) {
        const fivo_option *o = &p->options[k];
        char *range = fivo_option_range_text(o);
        fprintf(out, "%s%s=%s%s%s; default: %s\n%s    %s\n", indent, o->key,
                o->choices != NULL ? o->choices : host_flag_type_name(o->type),
                range != NULL ? " " : "", range != NULL ? range : "",
                o->default_value != NULL ? o->default_value : "(the plugin decides)", indent,
                o->help != NULL ? o->help : "");
        free(range);
    }
}

void fivo_host_print_help(FILE *out, const struct fivo_registry *reg)
{
    const fivo_host_flag *mode = fivo_host_flag_find("mode");
    fprintf(out, "Usage: fivo [--mode=%s] [--config FILE.ini] [--FLAG=VALUE ...]\n",
            mode != NULL ? host_flag_value_text(mode) : "MODE");
    fprintf(out,
            "       fivo plugins [--verbose] [--plugin_path=DIRS]\n"
            "       fivo plot --logdir=DIR\n"
            "\n"
            "Trains and evaluates sequential latent-variable models with the ELBO, IWAE and\n"
            "FIVO bounds. Models, bounds, resamplers and dataset readers are plugins;\n"
            "`fivo plugins` lists the ones found and any refused.\n"
            "\n"
            "Flags are written --flag=value or --flag value; a bool flag alone means true\n"
            "(--flag, --flag=false, --noflag). Flags override the config file.\n"
            "\n"
            "General:\n"
            "  --config FILE.ini    GLib key file with the sections below\n"
            "  --set SECTION.KEY=VALUE\n"
            "                       set any config key, e.g. --set model.rnn_hidden_size=32\n"
            "  --help               this text\n"
            "  --version            version and plugin ABI\n"
            "\n"
            "Flags (each one is also a config key, [section] key). A key of a plugin\n"
            "section is the chosen plugin's: its type, default and choices are listed\n"
            "under \"Plugin options\" below.\n");
    for (size_t i = 0; i < fivo_host_num_flags; i++) {
        const fivo_host_flag *f = &fivo_host_flags[i];
        fivo_option row = fivo_host_flag_option(f);
        char *range = fivo_option_range_text(&row); /* the same range the check applies */
        fprintf(out, "  --%s=%s%s%s\n", f->flag, host_flag_value_text(f), range != NULL ? " " : "",
                range != NULL ? range : "");
        free(range);
        fprintf(out, "      [%s] %s; default: %s\n      %s\n", f->section, f->key,
                host_flag_default_text(f), f->help);
    }
    fprintf(out, "\nConfig sections:\n");
    for (size_t i = 0; i < fivo_host_num_sections; i++)
        fprintf(out, "  [%s]  %s\n", fivo_host_sections[i].name, fivo_host_sections[i].help);
    size_t nk;
    const fivo_plugin_kind_info *kinds = fivo_plugin_kinds(&nk);
    for (size_t i = 0; i < nk; i++)
        fprintf(out, "  [%s]  %s\n", kinds[i].section, kinds[i].help);
    fprintf(out, "  [bound.NAME]  options of bound NAME when --mode=eval runs it as one of\n"
                 "                [eval] bounds and it is not the trained [bound] plugin\n");
    fprintf(out, "\nPlugin options (the keys each plugin found accepts in its section):\n");
    for (size_t k = 0; k < nk; k++)
        for (int i = 0; i < fivo_registry_count(reg); i++) {
            const fivo_plugin_info *p = fivo_registry_at(reg, i);
            if (p->kind != kinds[k].kind)
                continue;
            fprintf(out, "  [%s] plugin = %s\n", kinds[k].section, p->name);
            fivo_host_print_plugin_options(out, p, "      ");
        }
    fprintf(out, "\nEnvironment: FIVO_PLUGIN_PATH (':'-separated plugin folders), "
                 "FIVO_LOG_LEVEL (debug|info|warn|error).\n"
                 "Every report is appended as one JSON line to <logdir>/metrics.jsonl.\n");
}
