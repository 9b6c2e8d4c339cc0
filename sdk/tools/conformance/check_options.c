/* Check "bad_options": values that do not parse as their option's type, are
 * not among its choices, or that the author lists as bad (--bad), and a data
 * spec without width, are refused with FIVO_ERR_INVALID, never a crash:
 *  - as the host passes them (checked by fivo_plugin_apply_options, then
 *    fivo_model_open): every case;
 *  - handed to the plugin directly: the --bad values (which parse, so only
 *    the plugin can refuse them), and with strict_options the type and
 *    choice cases too (what tests/seqmodel_suite.h asks of the bundled
 *    models); a refusal there is FIVO_ERR_INVALID naming the key. */
#include "kit.h"

#include <string.h>

typedef struct bad_case {
    char pair[512];
    char key[256];
    const char *why;
    bool plugin_must_refuse; /* handed to the plugin directly, it must refuse it */
} bad_case;

static int add_case(bad_case *cases, int n, int max, const char *key, const char *value,
                    const char *why)
{
    if (n >= max)
        return n;
    snprintf(cases[n].pair, sizeof cases[n].pair, "%s=%s", key, value);
    snprintf(cases[n].key, sizeof cases[n].key, "%s", key);
    cases[n].why = why;
    cases[n].plugin_must_refuse = false;
    return n + 1;
}

/* The key of "KEY=VALUE" (without an optional "model." prefix). */
static void key_of(const char *pair, char *key, size_t n)
{
    if (strncmp(pair, "model.", 6) == 0)
        pair += 6;
    const char *eq = strchr(pair, '=');
    size_t len = eq ? (size_t)(eq - pair) : strlen(pair);
    if (len >= n)
        len = n - 1;
    memcpy(key, pair, len);
    key[len] = '\0';
}

/* One case both ways; returns the number of failures (0, 1 or 2). */
static int try_case(kit *k, const bad_case *c, int *relied)
{
    const char *extra[] = {c->pair, NULL};
    int bad = 0;
    for (int direct = 0; direct < 2; direct++) {
        kit_model m;
        fivo_error err = {0};
        fivo_status st = kit_model_open(k, &m, extra, direct == 0, NULL, k->o->seed, &err);
        const char *path = direct ? "given to the plugin" : "through the host's checks";
        if (st == FIVO_OK && direct && !c->plugin_must_refuse && !k->o->strict_options) {
            if (k->o->verbose)
                kit_note(k, "%s (%s) %s: accepted (the plugin relies on the host's checks)",
                         c->pair, c->why, path);
            kit_model_close(&m);
            (*relied)++;
        } else if (st == FIVO_OK) {
            kit_note(k, "%s (%s) %s: accepted", c->pair, c->why, path);
            kit_model_close(&m);
            bad++;
        } else if (st != FIVO_ERR_INVALID) {
            kit_note(k, "%s (%s) %s: refused with %s, expected FIVO_ERR_INVALID: %s", c->pair,
                     c->why, path, fivo_status_name(st), err.message);
            bad++;
        } else if (direct && strstr(err.message, c->key) == NULL) {
            kit_note(k, "%s (%s) %s: the message does not name '%s': %s", c->pair, c->why, path,
                     c->key, err.message);
            bad++;
        } else if (k->o->verbose) {
            kit_note(k, "%s %s: %s", c->pair, path, err.message);
        }
    }
    return bad;
}

kit_verdict kit_check_bad_options(kit *k)
{
    enum { MAX = 256 };
    static bad_case cases[MAX];
    int n = 0;
    for (size_t i = 0; i < k->info->num_options; i++) {
        const fivo_option *o = &k->info->options[i];
        switch (o->type) {
        case FIVO_OPTION_INT:
            n = add_case(cases, n, MAX, o->key, "x7", "not an integer");
            n = add_case(cases, n, MAX, o->key, "2.5", "not an integer");
            break;
        case FIVO_OPTION_DOUBLE:
            n = add_case(cases, n, MAX, o->key, "abc", "not a number");
            break;
        case FIVO_OPTION_BOOL:
            n = add_case(cases, n, MAX, o->key, "maybe", "not a boolean");
            break;
        case FIVO_OPTION_STRING:
            break;
        }
        if (o->choices != NULL && o->type == FIVO_OPTION_STRING)
            n = add_case(cases, n, MAX, o->key, "no-such-choice", "not one of the choices");
    }
    for (size_t i = 0; k->o->bad_values != NULL && k->o->bad_values[i] != NULL && n < MAX; i++) {
        const char *pair = k->o->bad_values[i];
        snprintf(cases[n].pair, sizeof cases[n].pair, "%s", pair);
        key_of(pair, cases[n].key, sizeof cases[n].key);
        cases[n].why = "--bad";
        cases[n].plugin_must_refuse = true;
        n++;
    }
    int bad = 0, relied = 0;
    for (int i = 0; i < n; i++)
        bad += try_case(k, &cases[i], &relied) > 0;

    /* A spec without a width cannot make a model. */
    fivo_data_spec spec = k->spec;
    spec.dim = 0;
    kit_model m;
    fivo_error err = {0};
    fivo_status st = kit_model_open(k, &m, NULL, true, &spec, k->o->seed, &err);
    if (st == FIVO_OK) {
        kit_note(k, "data spec with dim 0: accepted");
        kit_model_close(&m);
        bad++;
    } else if (st != FIVO_ERR_INVALID) {
        kit_note(k, "data spec with dim 0: %s, expected FIVO_ERR_INVALID", fivo_status_name(st));
        bad++;
    }
    if (bad > 0)
        return kit_say(k, KIT_FAIL, "%d of %d bad value(s) not refused as they must be", bad,
                       n + 1);
    if (relied > 0)
        return kit_say(k, KIT_PASS,
                       "%d bad value(s) and a data spec of width 0 refused with FIVO_ERR_INVALID "
                       "through the host; %d type/choice value(s) the plugin alone accepts "
                       "(relying on the host's checks; --strict-options to require them)",
                       n, relied);
    return kit_say(k, KIT_PASS,
                   "%d bad value(s) refused with FIVO_ERR_INVALID through the host and by the "
                   "plugin alone (naming the key), and a data spec of width 0",
                   n);
}
