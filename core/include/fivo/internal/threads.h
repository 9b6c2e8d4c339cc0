/* A small fixed thread pool for fixed pieces of work.
 *
 * fivo_threads_run(pool, n, fn, arg) calls fn(arg, i) once for every piece
 * i in [0, n), on the pool's workers and the calling thread, and returns when
 * all are done. Which thread runs a piece is not fixed, so a piece must write
 * only its own outputs: results then do not depend on the thread count.
 * A worker spins at most 100 us for the next piece of work, then blocks on a
 * condition variable: an idle pool uses no CPU. A pool of one
 * thread has no workers and runs every piece on the caller. */
#ifndef FIVO_THREADS_H
#define FIVO_THREADS_H

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_threads fivo_threads;
typedef void (*fivo_task_fn)(void *arg, int piece);

/* Cores this process may run on (sched_getaffinity), at least 1. */
int fivo_threads_available(void);

/* A pool of `n` >= 1 threads in all (the caller counts as one; for every
 * core pass fivo_threads_available()). NULL with err set when n < 1 or a
 * thread cannot be started. */
fivo_threads *fivo_threads_new(int n, fivo_error *err);
void fivo_threads_free(fivo_threads *pool);
int fivo_threads_count(const fivo_threads *pool);

/* Runs pieces 0..n-1 (see above). A NULL pool runs them in order on the
 * caller. Not reentrant: fn must not call fivo_threads_run on the same pool. */
void fivo_threads_run(fivo_threads *pool, int n, fivo_task_fn fn, void *arg);

/* fivo_threads_run, and a thread whose pieces are done helps with the
 * products the pieces still running share (fivo_threads_share) until every
 * piece has returned, instead of waiting idle. */
void fivo_threads_run_helped(fivo_threads *pool, int n, fivo_task_fn fn, void *arg);

/* From inside a piece of fivo_threads_run_helped on `pool`: runs pieces
 * 0..n-1 of fn on this thread and on any of the pool's threads that are
 * idle, and returns when all are done. Anywhere else (a NULL pool, no
 * helped run, no free board slot, n > 65535) it runs them in order on the
 * caller. As for fivo_threads_run, a piece must write only its own outputs;
 * fn must not share or run on the pool itself. */
void fivo_threads_share(fivo_threads *pool, int n, fivo_task_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
