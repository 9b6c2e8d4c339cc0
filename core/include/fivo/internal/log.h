/* Logging: human lines to stderr (info and above by default). */
#ifndef FIVO_LOG_H
#define FIVO_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fivo_log_level {
    FIVO_LOG_DEBUG = 0,
    FIVO_LOG_INFO = 1,
    FIVO_LOG_WARN = 2,
    FIVO_LOG_ERROR = 3
} fivo_log_level;

fivo_log_level fivo_log_get_level(void);
void fivo_log_message(fivo_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define fivo_log_debug(...) fivo_log_message(FIVO_LOG_DEBUG, __VA_ARGS__)
#define fivo_log_info(...) fivo_log_message(FIVO_LOG_INFO, __VA_ARGS__)
#define fivo_log_warn(...) fivo_log_message(FIVO_LOG_WARN, __VA_ARGS__)
#define fivo_log_error(...) fivo_log_message(FIVO_LOG_ERROR, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
