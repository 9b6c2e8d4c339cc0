/* LD_PRELOAD fault injector for the write-fault tests (after SQLite's
 * test_vfs): fails chosen write(), fsync() and file creations on files whose
 * path contains FIVO_FAULT_MATCH, so every error path of a writer can be
 * driven from a test without a full disk.
 *
 *   FIVO_FAULT_MATCH   substring of the file's path; nothing happens without it
 *   FIVO_FAULT_CHUNK   at most this many bytes per matching write (short
 *                      writes, so one file takes many calls to sweep over)
 *   FIVO_FAULT_AT      the Nth matching write (1-based) fails
 *   FIVO_FAULT_STICKY  1: every matching write after the Nth fails too
 *   FIVO_FAULT_ERRNO   ENOSPC (default), EIO or EFBIG
 *   FIVO_FAULT_FSYNC   1: fsync of a matching file fails with EIO
 *   FIVO_FAULT_CREATE  1: creating a matching file (open with O_CREAT,
 *                      mkstemp) fails with EROFS, as in a read-only folder
 *   FIVO_FAULT_DELAY_US  sleep this long before each matching write (makes a
 *                      write last long enough to be interrupted by kill -9)
 *   FIVO_FAULT_REPORT  file that receives the number of matching writes at exit
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static long g_writes; /* matching write() calls so far */

static const char *match(void)
{
    const char *m = getenv("FIVO_FAULT_MATCH");
    return m != NULL && m[0] != '\0' ? m : NULL;
}

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? strtol(v, NULL, 10) : def;
}

static int fault_errno(void)
{
    const char *v = getenv("FIVO_FAULT_ERRNO");
    if (v == NULL || strcmp(v, "ENOSPC") == 0)
        return ENOSPC;
    if (strcmp(v, "EIO") == 0)
        return EIO;
    if (strcmp(v, "EFBIG") == 0)
        return EFBIG;
    return ENOSPC;
}

static int fd_matches(int fd)
{
    const char *m = match();
    if (m == NULL)
        return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    return strstr(path, m) != NULL;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (real == NULL)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fd > 2 && fd_matches(fd)) {
        long n = ++g_writes;
        long at = env_long("FIVO_FAULT_AT", 0);
        if (at > 0 && (n == at || (n > at && env_long("FIVO_FAULT_STICKY", 0)))) {
            errno = fault_errno();
            return -1;
        }
        long delay = env_long("FIVO_FAULT_DELAY_US", 0);
        if (delay > 0)
            usleep((useconds_t)delay);
        long chunk = env_long("FIVO_FAULT_CHUNK", 0);
        if (chunk > 0 && count > (size_t)chunk)
            count = (size_t)chunk;
    }
    return real(fd, buf, count);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (env_long("FIVO_FAULT_FSYNC", 0) && fd_matches(fd)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

static int create_fails(const char *path)
{
    const char *m = match();
    return m != NULL && env_long("FIVO_FAULT_CREATE", 0) && strstr(path, m) != NULL;
}

int mkstemp(char *tmpl)
{
    static int (*real)(char *);
    if (real == NULL)
        real = (int (*)(char *))dlsym(RTLD_NEXT, "mkstemp");
    if (create_fails(tmpl)) {
        errno = EROFS;
        return -1;
    }
    return real(tmpl);
}

int open(const char *path, int flags, ...)
{
    static int (*real)(const char *, int, ...);
    if (real == NULL)
        real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
        if (create_fails(path)) {
            errno = EROFS;
            return -1;
        }
    }
    return real(path, flags, mode);
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("FIVO_FAULT_REPORT");
    if (path == NULL || path[0] == '\0')
        return;
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fprintf(f, "%ld\n", g_writes);
        fclose(f);
    }
}
