/* The terminal progress line (see fivo/progress.h). It writes "\r" + text +
 * erase-to-end-of-line, so it stays one line whatever came before; the text
 * is cut to the terminal's width so it never wraps. */
#define _POSIX_C_SOURCE 200809L
#include <fivo/progress.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MIN_REDRAW_SECONDS 0.25

struct fivo_progress {
    char what[64], unit[16];
    int64_t start, total, done;
    double t0, last_draw;
    bool drawn;
    fivo_progress *below; /* the display this one took the line from */
};

/* The display that owns the line; one terminal, one line. */
static fivo_progress *shown;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        return ws.ws_col;
    return 80;
}

static void erase(void)
{
    fputs("\r\033[K", stderr);
    fflush(stderr);
}

fivo_progress *fivo_progress_start(const char *what, const char *unit, int64_t start,
                                   int64_t total)
{
    if (!isatty(STDERR_FILENO))
        return NULL;
    fivo_progress *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    snprintf(p->what, sizeof p->what, "%s", what != NULL ? what : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit != NULL ? unit : "");
    p->start = p->done = start;
    p->total = total;
    p->t0 = now();
    p->last_draw = -1e300;
    p->below = shown;
    shown = p;
    return p;
}

static void format_eta(char *out, size_t n, double secs)
{
    long s = (long)(secs + 0.5);
    if (s >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

bool fivo_progress_due(const fivo_progress *p, int64_t done)
{
    if (p == NULL)
        return false;
    return (p->total > 0 && done >= p->total) || now() - p->last_draw >= MIN_REDRAW_SECONDS;
}

/* Rates as people read them: 12345, 812, 3.21, 0.0412. */
static void format_rate(char *out, size_t n, double rate)
{
    if (rate >= 100)
        snprintf(out, n, "%.0f", rate);
    else
        snprintf(out, n, "%.3g", rate);
}

void fivo_progress_update(fivo_progress *p, int64_t done, const char *extra)
{
    if (!fivo_progress_due(p, done))
        return;
    p->done = done;
    double t = now();
    p->last_draw = t;
    double secs = t - p->t0;
    double rate = secs > 0 ? (double)(done - p->start) / secs : 0.0;
    char line[512], r[32];
    int n;
    format_rate(r, sizeof r, rate);
    if (p->total > 0) {
        char eta[32] = "?";
        if (rate > 0)
            format_eta(eta, sizeof eta, (double)(p->total - done) / rate);
        n = snprintf(line, sizeof line, "%s %lld/%lld %s (%d%%), %s %s/s, ETA %s", p->what,
                     (long long)done, (long long)p->total, p->unit,
                     (int)(100.0 * (double)done / (double)p->total), r, p->unit, eta);
    } else {
        n = snprintf(line, sizeof line, "%s %lld %s, %s %s/s", p->what, (long long)done,
                     p->unit, r, p->unit);
    }
    if (extra != NULL && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, ", %s", extra);
    int width = columns() - 1;
    if ((int)strlen(line) > width)
        line[width] = '\0';
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = true;
}

/* Whether any display in the stack is on the line; forgets that it is. */
static bool take_drawn(void)
{
    bool any = false;
    for (fivo_progress *q = shown; q != NULL; q = q->below) {
        any = any || q->drawn;
        q->drawn = false;
        q->last_draw = -1e300; /* redraw at its next update */
    }
    return any;
}

void fivo_progress_finish(fivo_progress *p)
{
    if (p == NULL)
        return;
    if (take_drawn())
        erase();
    if (shown == p)
        shown = p->below;
    else /* finished out of order: unlink it */
        for (fivo_progress *q = shown; q != NULL; q = q->below)
            if (q->below == p)
                q->below = p->below;
    free(p);
}

void fivo_progress_clear(void)
{
    if (take_drawn())
        erase();
}
