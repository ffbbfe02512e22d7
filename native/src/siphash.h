// SipHash-2-4 (Aumasson & Bernstein): a keyed PRF, fast on short inputs. prtip uses it for the
// stateless SYN cookie: only the scan that holds the key can make or check one.
#pragma once
#include <cstddef>
#include <cstdint>

namespace prtip {

uint64_t siphash24(const uint8_t key[16], const uint8_t* data, size_t len);
// Checks the reference vectors of the SipHash paper; nullptr on success, else what failed.
const char* siphash_selftest();

}  // namespace prtip
