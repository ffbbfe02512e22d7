// Internet checksum (RFC 1071): one's-complement sum of 16-bit words, folded.
#pragma once
#include <cstddef>
#include <cstdint>

namespace prtip {

// Adds `len` bytes to a running 32-bit sum (big-endian words; an odd last byte is the high half).
uint32_t checksum_add(uint32_t sum, const uint8_t* data, size_t len);
// Folds a running sum to the final 16-bit checksum (already complemented).
uint16_t checksum_fold(uint32_t sum);
// Self-test against known vectors; returns nullptr on success or a description of the failure.
const char* checksum_selftest();

}  // namespace prtip
