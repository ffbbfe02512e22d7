#include "checksum.h"

namespace prtip {

uint32_t checksum_add(uint32_t sum, const uint8_t* data, size_t len) {
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += (uint32_t(data[i]) << 8) | data[i + 1];
  if (i < len) sum += uint32_t(data[i]) << 8;
  // Fold early so a long buffer cannot overflow the 32-bit accumulator.
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

uint16_t checksum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

const char* checksum_selftest() {
  // RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to 0xddf2, checksum 0x220d.
  const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  if (checksum_fold(checksum_add(0, rfc, sizeof rfc)) != 0x220d) return "RFC 1071 example";
  // An IPv4 header with its checksum field filled in sums to zero.
  const uint8_t ip[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                        0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  if (checksum_fold(checksum_add(0, ip, sizeof ip)) != 0) return "IPv4 header verification";
  // Odd length: the trailing byte counts as the high half of a word.
  const uint8_t odd[] = {0x01};
  if (checksum_fold(checksum_add(0, odd, 1)) != 0xfeff) return "odd-length buffer";
  return nullptr;
}

}  // namespace prtip
