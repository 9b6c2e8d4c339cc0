/* A report the host hands a plugin to fill: flat named values (a dataset's
 * conversion statistics). The host creates, prints and writes it (one JSON
 * line of <logdir>/metrics.jsonl); a plugin only sets values. */
#ifndef FIVO_REPORT_H
#define FIVO_REPORT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_report fivo_report;

/* Names are snake_case; setting a name twice replaces the value. Non-finite
 * numbers are written as null in JSON. The string is copied. */
void fivo_report_set_number(fivo_report *r, const char *name, double value);
void fivo_report_set_int(fivo_report *r, const char *name, int64_t value);
void fivo_report_set_string(fivo_report *r, const char *name, const char *value);

#ifdef __cplusplus
}
#endif
#endif
