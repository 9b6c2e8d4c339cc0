/* The thread pool (fivo/threads.h): workers wait on a condition variable
 * for a new generation of pieces, take pieces from a shared counter, and
 * report back; the caller takes pieces too, then waits for every worker. */
#define _GNU_SOURCE
#include <fivo/threads.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

struct fivo_threads {
    int n;                 /* threads in all, the caller included */
    pthread_t *workers;    /* n - 1 */
    pthread_mutex_t mu;
    pthread_cond_t go;     /* a new generation (or stop) */
    pthread_cond_t done;   /* the last worker finished a generation */
    unsigned long gen;
    int finished;          /* workers done with the current generation */
    int stop;
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

static void take_pieces(fivo_threads *p)
{
    for (;;) {
        int i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->pieces)
            return;
        p->fn(p->arg, i);
    }
}

static void *worker_main(void *arg)
{
    fivo_threads *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        take_pieces(p);
        pthread_mutex_lock(&p->mu);
        if (++p->finished == p->n - 1)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

fivo_threads *fivo_threads_new(int n, fivo_error *err)
{
    if (n <= 0)
        n = fivo_threads_available();
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
    p->stop = 1;
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->pieces = n;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->finished = 0;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    take_pieces(p);
    pthread_mutex_lock(&p->mu);
    while (p->finished < p->n - 1)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
