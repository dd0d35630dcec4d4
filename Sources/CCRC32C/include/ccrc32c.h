#ifndef LYNX_CCRC32C_H
#define LYNX_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Extends a CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) over `len` bytes.
/// `crc` is a finished CRC value (0 for "no data yet"); the result is again a finished value,
/// so lynx_crc32c_extend(lynx_crc32c_extend(0, a), b) == crc32c(a ++ b).
/// Uses the SSE4.2 `crc32` instruction when the CPU has it (detected once at run time),
/// otherwise a slicing-by-8 table implementation. Both give identical results.
uint32_t lynx_crc32c_extend(uint32_t crc, const void *data, size_t len);

/// The CRC-32C of a ++ b from crc(a), crc(b) and the length of b (zlib's crc32_combine for this polynomial).
uint32_t lynx_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/// The software implementation only (for tests that compare both paths).
uint32_t lynx_crc32c_extend_sw(uint32_t crc, const void *data, size_t len);

/// 1 when the hardware path is used, 0 otherwise.
int lynx_crc32c_hardware(void);

#ifdef __cplusplus
}
#endif

#endif
