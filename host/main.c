/* Placeholder entry point until the host lands (issue: foundation). */
#include <stdio.h>
#include <fivo/fivo.h>
int main(void)
{
    printf("fivo: ABI %u.%u\n", FIVO_ABI_MAJOR, FIVO_ABI_MINOR);
    return 0;
}
