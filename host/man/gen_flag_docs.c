/* Writes the markdown that docs/cli.md holds between its generated-region
 * markers, from the host's flag rows (host/flags.c): the rows `--help` and
 * the man page print, so the docs cannot drift from them.
 *   gen_flag_docs flags   the table of every flag and its [section] key
 *   gen_flag_docs modes   the usage lines, with the modes of the mode row
 * scripts/docs.sh puts the output into the docs and checks it is there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/internal/registry.h>

#include "flag_text.h"

/* A table cell: '|' would end the cell; '<' before a letter would start
 * an HTML tag. */
static void cell(const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", stdout);
        else if (*s == '<' && s[1] != '\0' && s[1] != ' ' && s[1] != '=')
            fputs("&lt;", stdout);
        else
            putchar(*s);
    }
}

static void flags_table(void)
{
    puts("| flag | [section] key | default | meaning |");
    puts("|---|---|---|---|");
    for (size_t i = 0; i < fivo_host_num_flags; i++) {
        const fivo_host_flag *f = &fivo_host_flags[i];
        fputs("| `--", stdout);
        cell(f->flag);
        fputs("` ", stdout);
        cell(host_flag_value_text(f));
        fivo_option row = fivo_host_flag_option(f);
        char *range = fivo_option_range_text(&row); /* the range the check applies */
        if (range != NULL) {
            putchar(' ');
            cell(range);
            free(range);
        }
        fputs(" | [", stdout);
        cell(f->section);
        fputs("] ", stdout);
        cell(f->key);
        fputs(" | ", stdout);
        cell(host_flag_default_text(f));
        fputs(" | ", stdout);
        cell(f->help);
        puts(" |");
    }
}

static int modes_usage(void)
{
    const fivo_host_flag *mode = fivo_host_flag_find("mode");
    if (mode == NULL || mode->choices == NULL) {
        fputs("gen_flag_docs: the flag rows have no --mode row with choices\n", stderr);
        return 1;
    }
    printf("    fivo [--mode=%s] [--config FILE.ini] [--FLAG=VALUE ...]\n", mode->choices);
    puts("    fivo MODE [--FLAG=VALUE ...]");
    fputs("\nModes:", stdout);
    const char *s = mode->choices;
    while (*s) {
        size_t n = strcspn(s, "|");
        printf(" `%.*s`%s", (int)n, s, s[n] == '|' ? "," : "");
        s += n + (s[n] == '|');
    }
    printf(" (default `%s`).\n", host_flag_default_text(mode));
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "flags") == 0)
        flags_table();
    else if (strcmp(what, "modes") == 0) {
        if (modes_usage() != 0)
            return 1;
    } else {
        fputs("usage: gen_flag_docs flags|modes\n", stderr);
        return 2;
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
