/* LD_PRELOAD shim for the allocation-fault tests: aligned_alloc fails (NULL,
 * ENOMEM) when called from the function named by FIVO_FAULT_ALLOC_IN (an
 * exported symbol, e.g. fivo_adam_new; looked up in the first few frames, so
 * static helpers inlined or not are covered), so a test can run the fivo
 * executable out of memory at one chosen place. Nothing happens without it.
 *   FIVO_FAULT_ALLOC_REPORT  file that receives the number of failed calls */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long g_failed;

static int called_from(const char *name)
{
    void *frames[5];
    int n = backtrace(frames, 5);
    for (int i = 1; i < n; i++) {
        Dl_info info;
        if (dladdr(frames[i], &info) != 0 && info.dli_sname != NULL &&
            strcmp(info.dli_sname, name) == 0)
            return 1;
    }
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size)
{
    static void *(*real)(size_t, size_t);
    if (real == NULL)
        real = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    const char *in = getenv("FIVO_FAULT_ALLOC_IN");
    if (in != NULL && in[0] != '\0' && called_from(in)) {
        g_failed++;
        errno = ENOMEM;
        return NULL;
    }
    return real(alignment, size);
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("FIVO_FAULT_ALLOC_REPORT");
    if (path == NULL || path[0] == '\0')
        return;
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fprintf(f, "%ld\n", g_failed);
        fclose(f);
    }
}
