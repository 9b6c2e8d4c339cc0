/* Private to libfivo: how readers compare a stored checksum with the one
 * they computed. A fuzzing build (-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION,
 * the libFuzzer/OSS-Fuzz convention) accepts every checksum, so mutated
 * inputs reach the parsing behind the CRCs instead of all dying there. Such
 * a build must never read real files. */
#ifndef FIVO_CORE_CRC_CHECK_H
#define FIVO_CORE_CRC_CHECK_H

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define FIVO_CRC_MISMATCH(computed, stored) ((void)(computed), (void)(stored), 0)
#else
#define FIVO_CRC_MISMATCH(computed, stored) ((computed) != (stored))
#endif

#endif
