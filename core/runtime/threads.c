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
 * blocked within that time: no thread spins while the pool is idle.
 *
 * Shared products: in a run started by fivo_threads_run_helped, a thread
 * whose pieces are done does not wait idle while the others' run (a
 * training step's shards end at their sequences' lengths: the longest runs
 * alone at the end). It takes pieces of the products the running pieces
 * post to the pool's board (fivo_threads_share) until every piece of the
 * run has returned. A board slot's ticket packs generation, piece count and
 * next piece in one 64-bit word, so a piece is claimed by one
 * compare-exchange that fails if the slot has moved on; the poster frees
 * its slot only when every claimed piece is done. */
#define _GNU_SOURCE
#include <fivo/internal/threads.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define FIVO_THREADS_SPIN_NS 100000L

/* A ticket: generation << 32 | pieces << 16 | next piece. */
#define SHARE_MAX_PIECES 0xffff

typedef struct share_slot {
    _Alignas(64) atomic_int owner; /* 1 while a poster holds the slot (own cache line) */
    _Atomic uint64_t ticket;
    _Atomic(fivo_task_fn) fn;
    _Atomic(void *) arg;
    atomic_int done;         /* pieces finished, by anyone */
} share_slot;

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
    /* Shared products (fivo_threads_run_helped): one slot per thread. */
    share_slot *slots;
    atomic_int helping;      /* the current run lets idle threads help */
    atomic_int running;      /* its pieces not yet returned */
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

/* One round of waiting for a share: a pause, and after about 100 us of
 * them a yield, so that with more threads than cores (or under valgrind,
 * which runs one thread at a time) a waiting thread hands its core to the
 * ones with work instead of spinning it away. */
static void wait_a_little(unsigned *idle)
{
    if (++*idle < 2048)
        cpu_relax();
    else
        sched_yield();
}

/* Claims the next piece of slot s, if it has one left. */
static bool share_claim(share_slot *s, fivo_task_fn *fn, void **arg, int *piece)
{
    uint64_t t = atomic_load_explicit(&s->ticket, memory_order_acquire);
    for (;;) {
        int next = (int)(t & 0xffff), pieces = (int)((t >> 16) & 0xffff);
        if (next >= pieces)
            return false;
        if (atomic_compare_exchange_weak_explicit(&s->ticket, &t, t + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            /* the slot cannot move on before this piece is done */
            *fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
            *arg = atomic_load_explicit(&s->arg, memory_order_relaxed);
            *piece = next;
            return true;
        }
    }
}

/* One piece of any posted product; false when none was left. */
static bool share_help(fivo_threads *p)
{
    for (int k = 0; k < p->n; k++) {
        fivo_task_fn fn;
        void *arg;
        int piece;
        if (share_claim(&p->slots[k], &fn, &arg, &piece)) {
            fn(arg, piece);
            atomic_fetch_add_explicit(&p->slots[k].done, 1, memory_order_release);
            return true;
        }
    }
    return false;
}

static void take_pieces(fivo_threads *p)
{
    for (;;) {
        int i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->pieces)
            break;
        p->fn(p->arg, i);
        atomic_fetch_sub_explicit(&p->running, 1, memory_order_release);
    }
    /* A helped run: serve the products of the pieces still running. */
    if (atomic_load_explicit(&p->helping, memory_order_relaxed)) {
        unsigned idle = 0;
        while (atomic_load_explicit(&p->running, memory_order_acquire) > 0) {
            if (share_help(p))
                idle = 0;
            else
                wait_a_little(&idle);
        }
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
    if (p == NULL || (n > 1 && (p->workers = calloc((size_t)n - 1, sizeof *p->workers)) == NULL) ||
        (p->slots = aligned_alloc(64, (size_t)n * sizeof *p->slots)) == NULL) {
        if (p != NULL)
            free(p->workers);
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
    atomic_init(&p->helping, 0);
    atomic_init(&p->running, 0);
    for (int k = 0; k < n; k++) {
        atomic_init(&p->slots[k].owner, 0);
        atomic_init(&p->slots[k].ticket, 0);
        atomic_init(&p->slots[k].fn, NULL);
        atomic_init(&p->slots[k].arg, NULL);
        atomic_init(&p->slots[k].done, 0);
    }
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
    free(p->slots);
    free(p);
}

int fivo_threads_count(const fivo_threads *p) { return p != NULL ? p->n : 1; }

static void run_pool(fivo_threads *p, int n, fivo_task_fn fn, void *arg, bool helped)
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
    atomic_store_explicit(&p->running, n, memory_order_relaxed);
    atomic_store_explicit(&p->helping, helped, memory_order_relaxed);
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
    atomic_store_explicit(&p->helping, 0, memory_order_relaxed); /* no posts outside a run */
}

void fivo_threads_run(fivo_threads *p, int n, fivo_task_fn fn, void *arg)
{
    run_pool(p, n, fn, arg, false);
}

void fivo_threads_run_helped(fivo_threads *p, int n, fivo_task_fn fn, void *arg)
{
    run_pool(p, n, fn, arg, true);
}

void fivo_threads_share(fivo_threads *p, int n, fivo_task_fn fn, void *arg)
{
    share_slot *s = NULL;
    if (p != NULL && p->n > 1 && n > 1 && n <= SHARE_MAX_PIECES &&
        atomic_load_explicit(&p->helping, memory_order_relaxed))
        for (int k = 0; k < p->n && s == NULL; k++) {
            int free_slot = 0;
            if (atomic_compare_exchange_strong(&p->slots[k].owner, &free_slot, 1))
                s = &p->slots[k];
        }
    if (s == NULL) {
        for (int i = 0; i < n; i++)
            fn(arg, i);
        return;
    }
    uint64_t gen = (atomic_load_explicit(&s->ticket, memory_order_relaxed) >> 32) + 1;
    atomic_store_explicit(&s->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&s->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&s->done, 0, memory_order_relaxed);
    atomic_store_explicit(&s->ticket, (gen << 32) | ((uint64_t)n << 16), memory_order_release);
    int mine = 0, piece;
    while (share_claim(s, &fn, &arg, &piece)) {
        fn(arg, piece);
        mine++;
    }
    /* every piece is claimed; wait for the helpers' (their writes with them) */
    int done = atomic_fetch_add_explicit(&s->done, mine, memory_order_acq_rel) + mine;
    unsigned idle = 0;
    while (done < n) {
        wait_a_little(&idle);
        done = atomic_load_explicit(&s->done, memory_order_acquire);
    }
    atomic_store_explicit(&s->owner, 0, memory_order_release);
}
