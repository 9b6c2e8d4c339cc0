/* LD_PRELOAD shim for the MPI fault tests (tests/mpi/run.sh): installs
 * libfivo's training-step test hook (fivo_train_set_test_hook) from
 * FIVO_TEST_FAULT=rank:step:kind, so one rank misbehaves at one step:
 * exit (the process ends at once, exit code 3), nan (its bound is NaN),
 * error (its batch cannot be read). Production code reads no such
 * variable; without this shim the hook is NULL. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fivo/train_step.h>

enum { FAULT_NONE, FAULT_EXIT, FAULT_NAN, FAULT_ERROR };

static int fault_rank, fault_kind;
static long fault_step;

static fivo_status fault(fivo_train_point at, const fivo_trainer *t, long step,
                         fivo_smc_result *res, fivo_error *err)
{
    if (t->rank != fault_rank || step != fault_step)
        return FIVO_OK;
    if (at == FIVO_TRAIN_AT_BATCH && fault_kind == FAULT_EXIT) {
        fprintf(stderr, "fivo: test fault: rank %d exits at step %ld\n", t->rank, step);
        fflush(stderr);
        _exit(3);
    }
    if (at == FIVO_TRAIN_AT_BATCH && fault_kind == FAULT_ERROR)
        return fivo_error_set(err, FIVO_ERR_IO, "dataset '%s' (%s): test fault: batch %ld unreadable",
                              t->set.dataset_name,
                              t->set.dataset_path ? t->set.dataset_path : "-", step);
    if (at == FIVO_TRAIN_AT_BOUND && fault_kind == FAULT_NAN)
        res->log_phat->data[0] = (float)NAN;
    return FIVO_OK;
}

__attribute__((constructor)) static void install(void)
{
    const char *f = getenv("FIVO_TEST_FAULT");
    char kind[16] = {0};
    if (f == NULL || sscanf(f, "%d:%ld:%15s", &fault_rank, &fault_step, kind) != 3)
        return;
    fault_kind = strcmp(kind, "exit") == 0    ? FAULT_EXIT
                 : strcmp(kind, "nan") == 0   ? FAULT_NAN
                 : strcmp(kind, "error") == 0 ? FAULT_ERROR
                                              : FAULT_NONE;
    if (fault_kind != FAULT_NONE)
        fivo_train_set_test_hook(fault);
}
