/* Status codes and error messages that cross the plugin ABI.
 * Every fallible call returns a fivo_status and, when given a non-NULL
 * fivo_error, fills a human-readable message naming the file, key or step.
 * Nothing in fivo calls exit() or abort() on bad input. */
#ifndef FIVO_ERROR_H
#define FIVO_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fivo_status {
    FIVO_OK = 0,
    FIVO_ERR_INVALID = 1,     /* bad argument, config value or shape */
    FIVO_ERR_IO = 2,          /* file system */
    FIVO_ERR_FORMAT = 3,      /* malformed input file */
    FIVO_ERR_NOMEM = 4,
    FIVO_ERR_NUMERIC = 5,     /* NaN / inf where a number was needed */
    FIVO_ERR_UNSUPPORTED = 6, /* optional feature absent */
    FIVO_ERR_NOT_FOUND = 7,   /* missing plugin, key, file or checkpoint */
    FIVO_ERR_ABI = 8,         /* plugin ABI mismatch */
    FIVO_END = 9              /* not an error: iteration finished (e.g. end of an eval pass) */
} fivo_status;

#define FIVO_ERROR_MESSAGE_MAX 1024

typedef struct fivo_error {
    fivo_status code;
    char message[FIVO_ERROR_MESSAGE_MAX];
} fivo_error;

/* Sets *err (if err != NULL) and returns code, so callers can write
 * `return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: offset %zu: ...", ...);` */
fivo_status fivo_error_set(fivo_error *err, fivo_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefixes an existing message with more context ("reading X: " + old). */
fivo_status fivo_error_prefix(fivo_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void fivo_error_clear(fivo_error *err);
const char *fivo_status_name(fivo_status code);

#ifdef __cplusplus
}
#endif
#endif
