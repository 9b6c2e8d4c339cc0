/* CRC-32 with the reflected polynomial 0xEDB88320 (zlib, zip, PNG). */
#include <fivo/internal/crc32.h>

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_table_ready = 1;
}

uint32_t fivo_crc32_update(uint32_t crc, const void *data, size_t n)
{
    /* The table is a pure function of constants: a racing first use writes
     * the same values, so no lock is needed. */
    if (!crc_table_ready)
        crc_init();
    const unsigned char *p = data;
    uint32_t c = crc ^ 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}
