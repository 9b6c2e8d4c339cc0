/* Processes working on one run: the MPI ranks of MPI_COMM_WORLD when fivo
 * is built with MPI (-DFIVO_MPI) and started by an MPI launcher (mpirun,
 * mpiexec, srun), otherwise a single process (rank 0 of 1), where every
 * call below is a cheap no-op. Only collective, deterministic operations:
 * exact integer sums, gathers in rank order, broadcasts, and a status
 * agreement that lets every rank stop together, naming the rank that
 * failed and why, instead of waiting forever for it.
 *
 * Every function marked "collective" must be called by every rank in the
 * same order. Call them from one thread. */
#ifndef FIVO_COMM_H
#define FIVO_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts MPI when this build has it and the process was started by an MPI
 * launcher (or FIVO_MPI=1 is set; FIVO_MPI=0 never starts it). Installs an
 * error handler that prints the rank, host and MPI error, then aborts the
 * job. Idempotent. */
fivo_status fivo_comm_init(int *argc, char ***argv, fivo_error *err);
/* Ends MPI if fivo_comm_init started it. */
void fivo_comm_finalize(void);

int fivo_comm_rank(void);
int fivo_comm_size(void);
int fivo_comm_local_size(void); /* ranks on this machine, this one included (1 without MPI) */
const char *fivo_comm_host(void); /* this process's host name */

/* Batch `index` of an in-order pass belongs to this rank (round robin). */
static inline bool fivo_comm_owns(uint64_t index, int rank, int size)
{
    return size <= 1 || index % (uint64_t)size == (uint64_t)rank;
}

/* Collective. Every rank passes its own status (and message in *err when
 * not FIVO_OK). Returns FIVO_OK when every rank is fine; otherwise, on
 * every rank, the status of the lowest failing rank with err set to
 * "rank R of K (host H): <its message>". `maxv[0..n)` (may be NULL) is
 * replaced by the element-wise maximum over the ranks, in the same message
 * (how a step's status travels with the gradient exponents). */
fivo_status fivo_comm_agree(fivo_status st, fivo_error *err, int32_t *maxv, int n);

/* Collective: v[0..n) := the sum over ranks, exactly (integer addition is
 * associative, so the result does not depend on the order of the ranks). */
fivo_status fivo_comm_sum_int64(int64_t *v, size_t n, fivo_error *err);

/* Collective: `mine[0..n)` from every rank concatenated in rank order into
 * *all (malloc'd, caller frees; *n_all values). */
fivo_status fivo_comm_gather_doubles(const double *mine, int n, double **all, int *n_all,
                                     fivo_error *err);

/* Collective: `bytes` bytes at buf from rank `root` to every rank. */
fivo_status fivo_comm_broadcast(void *buf, size_t bytes, int root, fivo_error *err);

/* Ends every rank of the job now (MPI_Abort), after printing `why` (may be
 * NULL) with the rank and host. Without MPI: exit(code). Does not return. */
void fivo_comm_abort(int code, const char *why);

/* Bytes this rank has passed to collectives so far (payload, as given to
 * MPI: what the benchmark reports per step). */
uint64_t fivo_comm_bytes_sent(void);
/* Seconds this rank has spent inside those collectives (waiting for slower
 * ranks included). */
double fivo_comm_seconds(void);

#ifdef __cplusplus
}
#endif
#endif
