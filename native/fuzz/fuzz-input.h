// Shared by the libFuzzer targets: reads configuration choices off the front of the input, and
// checks what every parser promises (pointers it returns stay inside the bytes it was given).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../src/wire.h"

namespace prtip_fuzz {

// Consumes bytes from the front of the input; zeros once it is used up.
struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    n--;
    return *p++;
  }
  uint16_t u16() { return uint16_t((byte() << 8) | byte()); }
  void take(uint8_t* out, size_t len) {
    for (size_t i = 0; i < len; i++) out[i] = byte();
  }
};

// A scan's wire config as JS would hand it over: TCP or UDP, IPv4 and/or IPv6 sources, any flags.
inline prtip::WireConfig config_from(Input& in) {
  prtip::WireConfig c;
  const uint8_t choice = in.byte();
  c.ip_proto = (choice & 1) ? 17 : 6;
  c.have4 = (choice & 2) != 0 || (choice & 4) == 0;
  c.have6 = (choice & 4) != 0;
  c.tcp_flags = in.byte();
  c.source_port = in.u16();
  in.take(c.src4, 4);
  in.take(c.src6, 16);
  in.take(c.key, 16);
  return c;
}

// A pointer the parser handed back must lie inside [base, base + len].
inline void inside(const uint8_t* ptr, size_t ptr_len, const uint8_t* base, size_t len) {
  if (ptr == nullptr) {
    if (ptr_len != 0) abort();
    return;
  }
  if (ptr < base || ptr + ptr_len > base + len) abort();
}

inline void check_reply(const prtip::Reply& r, const uint8_t* base, size_t len) {
  inside(r.tcp_options, r.tcp_options_len, base, len);
  inside(r.payload, r.payload_len, base, len);
  if (r.family != 4 && r.family != 6) abort();
  if (r.kind == prtip::kReplyNone) abort();
}

}  // namespace prtip_fuzz
