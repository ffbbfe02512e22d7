#include "siphash.h"

namespace prtip {

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

#define PRTIP_SIPROUND                                             \
  do {                                                             \
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);      \
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                         \
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                         \
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);      \
  } while (0)

uint64_t siphash24(const uint8_t key[16], const uint8_t* data, size_t len) {
  const uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
  uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = k1 ^ 0x7465646279746573ULL;
  const size_t whole = len - (len % 8);
  for (size_t i = 0; i < whole; i += 8) {
    const uint64_t m = load_le64(data + i);
    v3 ^= m;
    PRTIP_SIPROUND;
    PRTIP_SIPROUND;
    v0 ^= m;
  }
  // Last block: the remaining bytes, little-endian, with the length in the top byte.
  uint64_t b = uint64_t(len & 0xff) << 56;
  for (size_t i = 0; i < len % 8; i++) b |= uint64_t(data[whole + i]) << (8 * i);
  v3 ^= b;
  PRTIP_SIPROUND;
  PRTIP_SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  PRTIP_SIPROUND;
  PRTIP_SIPROUND;
  PRTIP_SIPROUND;
  PRTIP_SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

const char* siphash_selftest() {
  // The paper's setup: key = 00 01 … 0f, message = 00 01 … (len-1).
  uint8_t key[16], msg[64];
  for (int i = 0; i < 16; i++) key[i] = uint8_t(i);
  for (int i = 0; i < 64; i++) msg[i] = uint8_t(i);
  if (siphash24(key, msg, 0) != 0x726fdb47dd0e0e31ULL) return "empty message";
  if (siphash24(key, msg, 1) != 0x74f839c593dc67fdULL) return "1-byte message";
  if (siphash24(key, msg, 2) != 0x0d6c8009d9a94f5aULL) return "2-byte message";
  if (siphash24(key, msg, 15) != 0xa129ca6149be45e5ULL) return "15-byte message (paper appendix A)";
  return nullptr;
}

}  // namespace prtip
