/* Test helper for tests/test_atomic_file.cc: writes BYTES bytes (a pattern
 * of the byte value FILL) to PATH with the SDK's atomic writer, so the
 * write-fault shim (fault_write.c) can be preloaded into it.
 *   atomic_write PATH BYTES FILL     exit 0, or 1 with the error on stderr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/atomic_file.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: atomic_write PATH BYTES FILL\n");
        return 2;
    }
    size_t n = (size_t)strtoull(argv[2], NULL, 10);
    unsigned char *data = malloc(n ? n : 1);
    if (data == NULL)
        return 2;
    memset(data, atoi(argv[3]), n);
    fivo_error err = {0};
    fivo_status st = fivo_file_write_atomic(argv[1], data, n, &err);
    free(data);
    if (st != FIVO_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    return 0;
}
