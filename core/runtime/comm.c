/* Processes of one run (see fivo/internal/comm.h). With FIVO_HAVE_MPI the ranks of
 * MPI_COMM_WORLD, else one process. All operations are deterministic:
 * integer sums, rank-ordered gathers, broadcasts; no floating-point
 * reduction whose result would depend on MPI's choice of order. */
#define _POSIX_C_SOURCE 200809L
#include <fivo/internal/comm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef FIVO_HAVE_MPI
#include <mpi.h>
#endif

static int comm_rank = 0, comm_size = 1, comm_local_size = 1;
static bool comm_started;
static uint64_t comm_bytes;
static double comm_seconds; /* inside collectives, waiting included */
static char comm_hostname[256];

int fivo_comm_rank(void) { return comm_rank; }
int fivo_comm_size(void) { return comm_size; }
int fivo_comm_local_size(void) { return comm_local_size; }
uint64_t fivo_comm_bytes_sent(void) { return comm_bytes; }
double fivo_comm_seconds(void) { return comm_seconds; }

const char *fivo_comm_host(void)
{
    if (comm_hostname[0] == '\0' && gethostname(comm_hostname, sizeof comm_hostname - 1) != 0)
        snprintf(comm_hostname, sizeof comm_hostname, "unknown-host");
    return comm_hostname;
}

#ifdef FIVO_HAVE_MPI
/* Started by a launcher: Open MPI, MPICH/Hydra, PMI/PMIx (srun --mpi=...). */
static bool launched_by_mpi(void)
{
    const char *force = getenv("FIVO_MPI");
    if (force != NULL && force[0] != '\0')
        return strcmp(force, "0") != 0;
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]) != NULL)
            return true;
    return false;
}

/* Any MPI failure (a peer gone, a network error) ends the whole job with
 * one line naming this rank, instead of an error code nobody can act on. */
static void on_mpi_error(MPI_Comm *c, int *code, ...)
{
    (void)c;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(*code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", *code);
    fprintf(stderr, "fivo: error: rank %d of %d (host %s): MPI: %s; aborting the job\n",
            comm_rank, comm_size, fivo_comm_host(), text);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
}
#endif

fivo_status fivo_comm_init(int *argc, char ***argv, fivo_error *err)
{
    (void)argc;
    (void)argv;
    (void)err;
#ifdef FIVO_HAVE_MPI
    if (comm_started || !launched_by_mpi())
        return FIVO_OK;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS)
        return fivo_error_set(err, FIVO_ERR_IO, "MPI_Init failed on host %s", fivo_comm_host());
    comm_started = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &comm_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &comm_size);
    /* ranks sharing this machine (they share its cores) */
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, comm_rank, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &comm_local_size);
        MPI_Comm_free(&node);
    }
    MPI_Errhandler eh;
    MPI_Comm_create_errhandler(on_mpi_error, &eh);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, eh);
    MPI_Errhandler_free(&eh);
#endif
    return FIVO_OK;
}

void fivo_comm_finalize(void)
{
#ifdef FIVO_HAVE_MPI
    if (comm_started) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin)
            MPI_Finalize();
    }
#endif
    comm_started = false;
    comm_rank = 0;
    comm_size = 1;
}

void fivo_comm_abort(int code, const char *why)
{
    if (why != NULL)
        fprintf(stderr, "fivo: error: rank %d of %d (host %s): %s\n", comm_rank, comm_size,
                fivo_comm_host(), why);
    fflush(stderr);
#ifdef FIVO_HAVE_MPI
    if (comm_started)
        MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}

/* Failure reports travel as a fixed-size message from the failing rank. */
typedef struct agree_msg {
    int32_t code;
    char text[FIVO_ERROR_MESSAGE_MAX];
} agree_msg;

fivo_status fivo_comm_agree(fivo_status st, fivo_error *err, int32_t *maxv, int n)
{
    if (comm_size <= 1 || !comm_started)
        return st;
#ifdef FIVO_HAVE_MPI
    /* Slot 0 is size - rank for a failing rank: the maximum names the lowest. */
    int32_t small[16];
    int32_t *buf = n + 1 <= 16 ? small : malloc(sizeof(int32_t) * (size_t)(n + 1));
    if (buf == NULL)
        fivo_comm_abort(1, "out of memory in a status agreement");
    buf[0] = st != FIVO_OK ? comm_size - comm_rank : 0;
    for (int i = 0; i < n; i++)
        buf[i + 1] = maxv[i];
    double t0 = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, buf, n + 1, MPI_INT32_T, MPI_MAX, MPI_COMM_WORLD);
    comm_seconds += MPI_Wtime() - t0;
    comm_bytes += sizeof(int32_t) * (size_t)(n + 1);
    for (int i = 0; i < n; i++)
        maxv[i] = buf[i + 1];
    int32_t failed = buf[0];
    if (buf != small)
        free(buf);
    if (failed == 0)
        return FIVO_OK;
    int root = comm_size - failed;
    agree_msg m;
    memset(&m, 0, sizeof m);
    if (root == comm_rank) {
        m.code = (int32_t)st;
        snprintf(m.text, sizeof m.text, "rank %d of %d (host %.100s): %.800s", comm_rank,
                 comm_size, fivo_comm_host(),
                 err != NULL && err->message[0] ? err->message : "failed");
    }
    MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, root, MPI_COMM_WORLD);
    comm_bytes += root == comm_rank ? sizeof m : 0;
    m.text[sizeof m.text - 1] = '\0';
    return fivo_error_set(err, m.code != FIVO_OK ? (fivo_status)m.code : FIVO_ERR_INVALID, "%s",
                          m.text);
#else
    (void)err;
    (void)maxv;
    (void)n;
    return st;
#endif
}

fivo_status fivo_comm_sum_int64(int64_t *v, size_t n, fivo_error *err)
{
    (void)err;
    (void)v;
    if (comm_size <= 1 || !comm_started || n == 0)
        return FIVO_OK;
#ifdef FIVO_HAVE_MPI
    /* In pieces below INT_MAX elements: MPI counts are int. */
    const size_t piece = (size_t)1 << 28;
    for (size_t off = 0; off < n; off += piece) {
        size_t m = n - off < piece ? n - off : piece;
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, v + off, (int)m, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
        comm_seconds += MPI_Wtime() - t0;
        comm_bytes += sizeof(int64_t) * m;
    }
#endif
    return FIVO_OK;
}

fivo_status fivo_comm_gather_doubles(const double *mine, int n, double **all, int *n_all,
                                     fivo_error *err)
{
    *all = NULL;
    *n_all = 0;
    if (n < 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "comm gather: negative count %d", n);
    if (comm_size <= 1 || !comm_started) {
        *all = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
        if (*all == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "comm gather: out of memory");
        if (n > 0)
            memcpy(*all, mine, sizeof(double) * (size_t)n);
        *n_all = n;
        return FIVO_OK;
    }
#ifdef FIVO_HAVE_MPI
    int *counts = malloc(sizeof(int) * 2 * (size_t)comm_size);
    if (counts == NULL)
        fivo_comm_abort(1, "out of memory in a gather");
    int *displs = counts + comm_size;
    double t0 = MPI_Wtime();
    MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    int64_t total = 0;
    for (int r = 0; r < comm_size; r++) {
        displs[r] = (int)total;
        total += counts[r];
    }
    if (total > INT32_MAX) {
        free(counts);
        fivo_comm_abort(1, "a gather of more than 2^31 values");
    }
    double *out = malloc(sizeof(double) * (size_t)(total > 0 ? total : 1));
    if (out == NULL)
        fivo_comm_abort(1, "out of memory in a gather");
    MPI_Allgatherv(mine, n, MPI_DOUBLE, out, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD);
    comm_seconds += MPI_Wtime() - t0;
    comm_bytes += sizeof(int) + sizeof(double) * (size_t)n;
    free(counts);
    *all = out;
    *n_all = (int)total;
#endif
    return FIVO_OK;
}

fivo_status fivo_comm_broadcast(void *buf, size_t bytes, int root, fivo_error *err)
{
    (void)buf;
    if (comm_size <= 1 || !comm_started || bytes == 0)
        return FIVO_OK;
    if (root < 0 || root >= comm_size)
        return fivo_error_set(err, FIVO_ERR_INVALID, "comm broadcast: root %d of %d", root,
                              comm_size);
#ifdef FIVO_HAVE_MPI
    const size_t piece = (size_t)1 << 30;
    for (size_t off = 0; off < bytes; off += piece) {
        size_t m = bytes - off < piece ? bytes - off : piece;
        MPI_Bcast((char *)buf + off, (int)m, MPI_BYTE, root, MPI_COMM_WORLD);
        if (root == comm_rank)
            comm_bytes += m;
    }
#endif
    return FIVO_OK;
}
