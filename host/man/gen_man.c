/* Writes the fivo(1) man page from the host's flag and section tables
 * (host/flags.c), so the page lists exactly the flags `fivo --help` does.
 * Run at build time: gen_man VERSION OUT.1 */
#include <stdio.h>
#include <string.h>

#include "flag_text.h"

/* roff: escape backslashes and hyphens, and a leading dot or quote. */
static void roff(const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
    }
}

int main(int argc, char **argv)
{
    const char *version = argc > 1 ? argv[1] : "";
    if (argc > 2 && freopen(argv[2], "w", stdout) == NULL) {
        perror(argv[2]);
        return 1;
    }
    printf(".TH FIVO 1 \"\" \"fivo %s\" \"User Commands\"\n", version);
    puts(".SH NAME\nfivo \\- train and evaluate sequential latent\\-variable models with ELBO, "
         "IWAE and FIVO bounds");
    puts(".SH SYNOPSIS\n.B fivo\n[\\fB\\-\\-mode\\fR=\\fIMODE\\fR] [\\fB\\-\\-config\\fR "
         "\\fIFILE.ini\\fR] [\\fB\\-\\-\\fIFLAG\\fR=\\fIVALUE\\fR ...]\n.br\n.B fivo\n"
         "\\fIMODE\\fR [\\fB\\-\\-\\fIFLAG\\fR=\\fIVALUE\\fR ...]");
    puts(".SH DESCRIPTION\nfivo trains and evaluates VRNN, SRNN and Gaussian HMM models with the "
         "ELBO, IWAE and FIVO bounds (Maddison, Lawson, Tucker et al., 2017). Models, bounds, "
         "resamplers and dataset readers are plugins found in the install's plugin folder, "
         "\\fBFIVO_PLUGIN_PATH\\fR and \\fB[fivo] plugin_path\\fR; \\fBfivo plugins\\fR lists "
         "them. Every report goes to \\fIlogdir\\fR/metrics.jsonl and, for training and "
         "evaluation, to a TensorBoard event file in \\fIlogdir\\fR.");
    puts(".PP\nFlags are written \\fB\\-\\-flag\\fR=\\fIvalue\\fR or \\fB\\-\\-flag\\fR "
         "\\fIvalue\\fR; a bool flag alone means true, \\fB\\-\\-noflag\\fR false. Every flag is "
         "also a key of the config file; flags override the file.");
    puts(".SH GENERAL OPTIONS\n.TP\n\\fB\\-\\-config\\fR \\fIFILE.ini\\fR\nA GLib key file "
         "with the sections below.\n.TP\n\\fB\\-\\-set\\fR \\fISECTION.KEY=VALUE\\fR\nSet any "
         "config key, e.g. a plugin option that has no flag.\n.TP\n\\fB\\-\\-help\\fR\nEvery "
         "flag and the options of the plugins found.\n.TP\n\\fB\\-\\-version\\fR\nVersion and "
         "plugin ABI.");
    puts(".SH FLAGS");
    for (size_t i = 0; i < fivo_host_num_flags; i++) {
        const fivo_host_flag *f = &fivo_host_flags[i];
        fputs(".TP\n\\fB\\-\\-", stdout);
        roff(f->flag);
        fputs("\\fR=\\fI", stdout);
        roff(host_flag_value_text(f));
        fputs("\\fR\n", stdout);
        roff(f->help);
        fputs(" Config key [", stdout);
        roff(f->section);
        fputs("] ", stdout);
        roff(f->key);
        fputs("; default: ", stdout);
        roff(host_flag_default_text(f));
        puts(".");
    }
    puts(".SH CONFIG SECTIONS");
    for (size_t i = 0; i < fivo_host_num_sections; i++) {
        fputs(".TP\n\\fB[", stdout);
        roff(fivo_host_sections[i].name);
        fputs("]\\fR\n", stdout);
        roff(fivo_host_sections[i].help);
        putchar('\n');
    }
    puts(".SH ENVIRONMENT\n.TP\n\\fBFIVO_PLUGIN_PATH\\fR\nExtra ':'\\-separated plugin "
         "folders.\n.TP\n\\fBFIVO_LOG_LEVEL\\fR\ndebug, info (default), warn or error.");
    puts(".SH EXIT STATUS\n0 success; 1 the mode failed (missing plugin, bad data, I/O); 2 bad "
         "command line or config.");
    puts(".SH FILES\n\\fIlogdir\\fR/metrics.jsonl, \\fIlogdir\\fR/events.out.tfevents.*, "
         "\\fIlogdir\\fR/ckpt\\-*.fivo, \\fIlogdir\\fR/samples.npz, \\fIlogdir\\fR/samples/, "
         "\\fIlogdir\\fR/curves.png, \\fIlogdir\\fR/samples.png");
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
