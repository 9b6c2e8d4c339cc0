/* CRC-32 (IEEE 802.3, the zlib / zip polynomial), used by checkpoints and
 * the .npz writer. */
#ifndef FIVO_CRC32_H
#define FIVO_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Continues a running CRC: start with crc = 0. */
uint32_t fivo_crc32_update(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
