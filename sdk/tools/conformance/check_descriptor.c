/* Check "descriptor": what the registry read from the plugin's descriptor
 * is complete and well-formed (the registry refuses only what it cannot use;
 * this asks for what a user will see in --help and error messages too). */
#include "kit.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <fivo/internal/registry.h>

static bool snake_case(const char *s)
{
    if (s == NULL || *s == '\0' || !islower((unsigned char)s[0]))
        return false;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static bool blank(const char *s) { return s == NULL || *s == '\0'; }

/* Problems of a "a|b|c" choice list: empty or repeated entries. */
static int choice_problems(kit *k, const fivo_option *o)
{
    int bad = 0;
    const char *p = o->choices;
    if (*p == '\0') {
        kit_note(k, "option '%s': empty choice list", o->key);
        return 1;
    }
    while (p != NULL) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == 0) {
            kit_note(k, "option '%s': empty entry in choices '%s'", o->key, o->choices);
            bad++;
        }
        for (const char *q = bar ? bar + 1 : NULL; q != NULL;) {
            const char *qb = strchr(q, '|');
            size_t ql = qb ? (size_t)(qb - q) : strlen(q);
            if (ql == len && len > 0 && strncmp(p, q, len) == 0) {
                kit_note(k, "option '%s': choice '%.*s' listed twice", o->key, (int)len, p);
                bad++;
            }
            q = qb ? qb + 1 : NULL;
        }
        p = bar ? bar + 1 : NULL;
    }
    return bad;
}

kit_verdict kit_check_descriptor(kit *k)
{
    const fivo_plugin_info *in = k->info;
    int bad = 0;
    if (blank(in->name) || strpbrk(in->name, " \t/=") != NULL) {
        kit_note(k, "name '%s': must be non-empty, without spaces, '/' or '='", in->name);
        bad++;
    }
    if (blank(in->version)) {
        kit_note(k, "no version string");
        bad++;
    }
    if (blank(in->description)) {
        kit_note(k, "no description (the one line `fivo plugins` shows)");
        bad++;
    }
    if (in->abi_major != FIVO_ABI_MAJOR) {
        kit_note(k, "ABI %u.%u, these headers %u.%u", in->abi_major, in->abi_minor,
                 FIVO_ABI_MAJOR, FIVO_ABI_MINOR);
        bad++;
    }
    const fivo_model_vtable *vt = in->vtable;
    const size_t n = in->vtable_size;
    struct {
        const char *slot;
        bool has, required;
    } slots[] = {
        {"create", FIVO_VTABLE_HAS(vt, n, fivo_model_vtable, create), true},
        {"destroy", FIVO_VTABLE_HAS(vt, n, fivo_model_vtable, destroy), true},
        {"set_observations", FIVO_VTABLE_HAS(vt, n, fivo_model_vtable, set_observations), true},
        {"zero_state", FIVO_VTABLE_HAS(vt, n, fivo_model_vtable, zero_state), true},
        {"propose_and_weight", FIVO_VTABLE_HAS(vt, n, fivo_model_vtable, propose_and_weight), true},
        {"sample_step", FIVO_VTABLE_HAS(vt, n, fivo_model_vtable, sample_step), false},
        {"log_likelihood", FIVO_VTABLE_HAS(vt, n, fivo_model_vtable, log_likelihood), false},
    };
    char present[256] = "";
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (slots[i].has) {
            strcat(present, present[0] ? "," : "");
            strcat(present, slots[i].slot);
        } else if (slots[i].required) {
            kit_note(k, "required slot %s is missing (vtable_size %zu)", slots[i].slot, n);
            bad++;
        }
    }
    if (n != sizeof(fivo_model_vtable))
        kit_note(k, "vtable_size %zu, these headers' vtable %zu (a plugin of another minor)", n,
                 sizeof(fivo_model_vtable));

    for (size_t i = 0; i < in->num_options; i++) {
        const fivo_option *o = &in->options[i];
        if (!snake_case(o->key)) {
            kit_note(k, "option %zu: key '%s' is not snake_case", i, o->key ? o->key : "(null)");
            bad++;
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (in->options[j].key != NULL && strcmp(in->options[j].key, o->key) == 0) {
                kit_note(k, "option '%s' declared twice", o->key);
                bad++;
            }
        if (blank(o->help)) {
            kit_note(k, "option '%s': no help line", o->key);
            bad++;
        }
        char *why = fivo_option_problem(o);
        if (why != NULL) {
            kit_note(k, "option '%s': %s", o->key, why);
            free(why);
            bad++;
        }
        if (o->choices != NULL)
            bad += choice_problems(k, o);
    }
    for (size_t i = 0; i < in->num_dataset_preferences; i++) {
        const fivo_dataset_preference *p = &in->dataset_preferences[i];
        if (blank(p->dataset)) {
            kit_note(k, "dataset preference %zu names no dataset", i);
            bad++;
        }
        for (size_t s = 0; s < p->num_settings; s++)
            if (p->settings == NULL || blank(p->settings[s].key) || p->settings[s].value == NULL) {
                kit_note(k, "dataset preference %zu: setting %zu has no key or value", i, s);
                bad++;
            }
    }
    if (bad > 0)
        return kit_say(k, KIT_FAIL, "%d problem(s) in the descriptor", bad);
    return kit_say(k, KIT_PASS, "'%s' %s, slots %s, %zu option(s)", in->name, in->version, present,
                   in->num_options);
}
