/* A one-line progress display on stderr for long loops (eval passes,
 * conversion, sampling, training): done/total, rate and ETA, plus a short
 * free text (training: the bound). It exists only when stderr is a terminal:
 * otherwise fivo_progress_start returns NULL and every call is a no-op, so
 * logs, pipes and CI see nothing of it. Redrawn at most 4 times a second.
 * Not thread-safe: call from the thread that runs the loop. */
#ifndef FIVO_PROGRESS_H
#define FIVO_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_progress fivo_progress;

/* `what` names the loop ("eval valid", "train"); `unit` what is counted
 * ("seq", "steps"); total 0 when unknown (no percentage or ETA). `start` is
 * where the count begins (a resumed run), so the rate counts only this run.
 * A display started while another is shown takes the line over until it
 * finishes. */
fivo_progress *fivo_progress_start(const char *what, const char *unit, int64_t start,
                                   int64_t total);
/* `extra` (may be NULL) is appended as is. Draws only when 250 ms have
 * passed since the last draw, or done == total. */
void fivo_progress_update(fivo_progress *p, int64_t done, const char *extra);
/* Whether the next update would draw (so a caller can skip formatting its
 * extra text on every step of a fast loop). False for NULL. */
bool fivo_progress_due(const fivo_progress *p, int64_t done);
/* Erases the line and frees p (p may be NULL). */
void fivo_progress_finish(fivo_progress *p);
/* Erases the line currently shown, if any, so a report printed next starts
 * on a clean line; the next update draws it again. */
void fivo_progress_clear(void);

#ifdef __cplusplus
}
#endif
#endif
