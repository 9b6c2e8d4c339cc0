/* Logging (see fivo/internal/log.h): one formatted line per call to stderr, written
 * with a single fputs so lines from threads never interleave mid-line.
 * FIVO_LOG_LEVEL=debug|info|warn|error sets the level (read once). */
#include <fivo/internal/log.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>

static int log_level = -1; /* -1: not yet read from the environment */

static fivo_log_level level_from_env(void)
{
    const char *s = getenv("FIVO_LOG_LEVEL");
    if (s == NULL)
        return FIVO_LOG_INFO;
    if (strcasecmp(s, "debug") == 0)
        return FIVO_LOG_DEBUG;
    if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
        return FIVO_LOG_WARN;
    if (strcasecmp(s, "error") == 0)
        return FIVO_LOG_ERROR;
    return FIVO_LOG_INFO;
}

fivo_log_level fivo_log_get_level(void)
{
    if (log_level < 0)
        log_level = (int)level_from_env();
    return (fivo_log_level)log_level;
}

void fivo_log_message(fivo_log_level level, const char *fmt, ...)
{
    if (level < fivo_log_get_level())
        return;
    static const char *const tags[] = {"debug", "info", "warning", "error"};
    const char *tag = (unsigned)level < 4u ? tags[level] : "log";
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    size_t n = strlen(body);
    while (n > 0 && body[n - 1] == '\n')
        body[--n] = '\0';
    char line[2100];
    snprintf(line, sizeof line, "fivo: %s: %s\n", tag, body);
    fputs(line, stderr);
}
