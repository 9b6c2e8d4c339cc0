/* Status codes and error messages (see fivo/error.h). */
#include <fivo/error.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

fivo_status fivo_error_set(fivo_error *err, fivo_status code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

fivo_status fivo_error_prefix(fivo_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return FIVO_OK;
    char prefix[FIVO_ERROR_MESSAGE_MAX];
    char old[FIVO_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Concatenate by hand: snprintf("%s%s") trips -Wformat-truncation. */
    size_t np = strlen(prefix), no = strlen(old), cap = sizeof err->message - 1;
    if (np > cap)
        np = cap;
    if (no > cap - np)
        no = cap - np;
    memcpy(err->message, prefix, np);
    memcpy(err->message + np, old, no);
    err->message[np + no] = '\0';
    return err->code;
}

void fivo_error_clear(fivo_error *err)
{
    if (err != NULL) {
        err->code = FIVO_OK;
        err->message[0] = '\0';
    }
}

const char *fivo_status_name(fivo_status code)
{
    switch (code) {
    case FIVO_OK: return "ok";
    case FIVO_ERR_INVALID: return "invalid";
    case FIVO_ERR_IO: return "io";
    case FIVO_ERR_FORMAT: return "format";
    case FIVO_ERR_NOMEM: return "out of memory";
    case FIVO_ERR_NUMERIC: return "numeric";
    case FIVO_ERR_UNSUPPORTED: return "unsupported";
    case FIVO_ERR_NOT_FOUND: return "not found";
    case FIVO_ERR_ABI: return "abi";
    case FIVO_END: return "end";
    }
    return "unknown";
}
