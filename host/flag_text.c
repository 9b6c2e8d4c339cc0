/* Text of a flag row (see flag_text.h). */
#include "flag_text.h"

#include <string.h>

const char *host_flag_type_name(fivo_option_type t)
{
    switch (t) {
    case FIVO_OPTION_INT: return "INT";
    case FIVO_OPTION_DOUBLE: return "NUMBER";
    case FIVO_OPTION_BOOL: return "BOOL";
    case FIVO_OPTION_STRING: return "STRING";
    }
    return "VALUE";
}

const char *host_flag_value_text(const fivo_host_flag *f)
{
    return f->choices != NULL ? f->choices : host_flag_type_name(f->type);
}

bool host_flag_is_plugin_key(const fivo_host_flag *f)
{
    /* Sections are the host's ([fivo], [train], ...) or a plugin kind's. */
    if (fivo_host_section_find(f->section) != NULL || strcmp(f->key, "plugin") == 0)
        return false;
    return !(strcmp(f->section, "dataset") == 0 &&
             (strcmp(f->key, "path") == 0 || strcmp(f->key, "split") == 0));
}

const char *host_flag_default_text(const fivo_host_flag *f)
{
    if (f->default_value != NULL)
        return f->default_value;
    return host_flag_is_plugin_key(f) ? "(the plugin's)" : "(none)";
}
