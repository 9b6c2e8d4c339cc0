/* The thread pool (fivo/threads.h). A run publishes a new generation of
 * pieces; workers take pieces from a shared counter and count themselves
 * done; the caller takes pieces too, then waits for every worker.
 *
 * Why a short spin: a training step issues hundreds of products a few
 * microseconds each, and a condition-variable wake-up costs 10-50 us on
 * these machines, more than the product it would share. So a worker that
 * finished a generation watches for the next one for FIVO_THREADS_SPIN_NS
 * before it blocks, and the caller likewise watches for its workers before
 * it blocks. Between steps (eval, checkpoints, an idle process) everyone is
 * blocked within that time: no thread spins while the pool is idle. */
#define _GNU_SOURCE
#include <fivo/internal/threads.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define FIVO_THREADS_SPIN_NS 100000L

struct fivo_threads {
    int n;                 /* threads in all, the caller included */
    pthread_t *workers;    /* n - 1 */
    pthread_mutex_t mu;
    pthread_cond_t go;     /* a new generation (or stop) */
    pthread_cond_t done;   /* the last worker finished a generation */
    atomic_ulong gen;
    atomic_int finished;   /* workers done with the current generation */
    atomic_int sleepers;   /* workers blocked (or about to block) on go */
    atomic_int caller_asleep;
    atomic_int stop;
    fivo_task_fn fn;
    void *arg;
    int pieces;
    atomic_int next;
};

int fivo_threads_available(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Spins until done(p, v) or the spin budget is spent; true when done. */
static bool spin_until(bool (*done)(fivo_threads *, unsigned long), fivo_threads *p, unsigned long v)
{
    long start = now_ns();
    for (unsigned i = 1;; i++) {
        if (done(p, v))
            return true;
        cpu_relax();
        if ((i & 63) == 0 && now_ns() - start > FIVO_THREADS_SPIN_NS)
            return done(p, v);
    }
}

static bool new_generation(fivo_threads *p, unsigned long seen)
{
    return atomic_load(&p->gen) != seen || atomic_load(&p->stop);
}

static bool all_finished(fivo_threads *p, unsigned long unused)
{
    (void)unused;
    return atomic_load(&p->finished) == p->n - 1;
}

static void take_pieces(fivo_threads *p)
{
    for (;;) {
        int i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->pieces)
            return;
        p->fn(p->arg, i);
    }
}

/* The sleeper counts and the published values are sequentially consistent
 * atomics: a thread that announces it will sleep and then re-reads the
 * value, against one that writes the value and then reads the announcement,
 * cannot both miss each other; and the sleeper re-reads under the mutex the
 * waker broadcasts under, so no wake-up is lost. */
static void *worker_main(void *arg)
{
    fivo_threads *p = arg;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until(new_generation, p, seen)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (!new_generation(p, seen))
                pthread_cond_wait(&p->go, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        seen = atomic_load(&p->gen);
        take_pieces(p);
        if (atomic_fetch_add(&p->finished, 1) + 1 == p->n - 1 && atomic_load(&p->caller_asleep)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

fivo_threads *fivo_threads_new(int n, fivo_error *err)
{
    if (n < 1) { /* a count, never "all": the caller resolves that */
        fivo_error_set(err, FIVO_ERR_INVALID, "threads = %d: expected a count >= 1", n);
        return NULL;
    }
    fivo_threads *p = calloc(1, sizeof *p);
    if (p == NULL || (n > 1 && (p->workers = calloc((size_t)n - 1, sizeof *p->workers)) == NULL)) {
        free(p);
        fivo_error_set(err, FIVO_ERR_NOMEM, "threads: out of memory");
        return NULL;
    }
    p->n = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_asleep, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->next, 0);
    for (int i = 0; i < n - 1; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
            fivo_threads_free(p);
            fivo_error_set(err, FIVO_ERR_IO, "threads: cannot start thread %d of %d", i + 2, n);
            return NULL;
        }
        p->n++;
    }
    return p;
}

void fivo_threads_free(fivo_threads *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n - 1; i++)
        pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->go);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

int fivo_threads_count(const fivo_threads *p) { return p != NULL ? p->n : 1; }

void fivo_threads_run(fivo_threads *p, int n, fivo_task_fn fn, void *arg)
{
    if (p == NULL || p->n == 1 || n <= 1) {
        for (int i = 0; i < n; i++)
            fn(arg, i);
        return;
    }
    /* Every worker has counted itself done with the last generation, so
     * none reads these until the new generation is published. */
    p->fn = fn;
    p->arg = arg;
    p->pieces = n;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store(&p->finished, 0);
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    take_pieces(p);
    if (!spin_until(all_finished, p, 0)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_asleep, 1);
        while (!all_finished(p, 0))
            pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_asleep, 0);
        pthread_mutex_unlock(&p->mu);
    }
}
