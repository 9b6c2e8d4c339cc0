/* A report: one JSON object of flat named values, appended as one line to
 * <logdir>/metrics.jsonl and printed as human lines. This is the host's side
 * (create, read, write); plugins see only the setters of <fivo/report.h>. */
#ifndef FIVO_METRICS_H
#define FIVO_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include <fivo/error.h>
#include <fivo/report.h>

#ifdef __cplusplus
extern "C" {
#endif

/* mode: "train", "eval", "sample", "convert", "inspect". `time` (Unix seconds,
 * fractional) is stamped at creation. */
fivo_report *fivo_report_new(const char *mode);
void fivo_report_free(fivo_report *r);
/* Looks a value up (tests, the host): FIVO_ERR_NOT_FOUND when absent. */
fivo_status fivo_report_get_number(const fivo_report *r, const char *name, double *out);
const char *fivo_report_get_string(const fivo_report *r, const char *name);

/* The JSON text (one line, no newline); owned by r until the next change. */
const char *fivo_report_json(fivo_report *r);
/* The same values as one human line ("train step 100: loss 1.25, ..."),
 * numbers with 7 significant digits; owned by r until the next change. */
const char *fivo_report_text(fivo_report *r);
/* Number of values and the i-th name in insertion order (mode and time first). */
int fivo_report_count(const fivo_report *r);
const char *fivo_report_name_at(const fivo_report *r, int i);
/* Appends the JSON line to `path` (creating it), flushed and fsynced, so a
 * crash never leaves a torn line. Errors name the file. */
fivo_status fivo_report_append(fivo_report *r, const char *path, fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
