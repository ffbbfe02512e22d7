// ICMP discovery probes (nmap's -PE, -PP, -PM; ICMPv6 echo on IPv6). The probe's "port" column
// names the request type: 8 echo, 13 timestamp, 17 address mask (IPv6: 8 becomes ICMPv6 echo
// request 128; ICMPv6 has no timestamp or mask). The engine's ipProto is 1 for both families; on
// IPv6 the wire says 58 (wire-ip.cc). The cookie + tag rides in the identifier and sequence
// number (id = high 16 bits, seq = low 16), which every answer echoes back.
#include <cstring>
#include <ctime>

#include "checksum.h"
#include "wire.h"

namespace prtip {

namespace {

constexpr uint8_t kEcho = 8, kTimestamp = 13, kMask = 17;
constexpr uint8_t kEcho6 = 128, kEchoReply6 = 129;

// The request type an answer belongs to (IPv4 echo reply 0 → 8, timestamp reply 14 → 13, mask
// reply 18 → 17; ICMPv6 echo reply 129 → 8); 0 for anything that answers none of our probes.
uint8_t request_of(int family, uint8_t type) {
  if (family == 6) return type == kEchoReply6 ? kEcho : 0;
  switch (type) {
    case 0: return kEcho;
    case 14: return kTimestamp;
    case 18: return kMask;
    default: return 0;
  }
}

// Milliseconds since midnight UT, as RFC 792's timestamps count.
uint32_t ms_since_midnight() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint32_t((ts.tv_sec % 86400) * 1000 + ts.tv_nsec / 1000000);
}

size_t icmp_build(const WireConfig& c, int family, const uint8_t* saddr, const uint8_t* daddr, uint16_t dport,
                  uint32_t tag, const uint8_t* payload, size_t payload_len, uint8_t* icmp) {
  const uint8_t request = uint8_t(dport);
  const uint32_t value = probe_cookie(c.key, family, saddr, daddr, c.source_port, dport) + tag;
  icmp[0] = family == 6 ? kEcho6 : request;
  icmp[1] = 0;
  put16(icmp + 2, 0);
  put16(icmp + 4, uint16_t(value >> 16));
  put16(icmp + 6, uint16_t(value));
  size_t len = 8;
  if (family == 4 && request == kTimestamp) {
    put32(icmp + 8, ms_since_midnight());  // originate; receive and transmit are the target's to fill
    memset(icmp + 12, 0, 8);
    len = 20;
  } else if (family == 4 && request == kMask) {
    memset(icmp + 8, 0, 4);
    len = 12;
  }
  if (payload_len) {
    memcpy(icmp + len, payload, payload_len);
    len += payload_len;
  }
  uint16_t sum = family == 6 ? l4_checksum(6, 58, saddr, daddr, icmp, len) : checksum_fold(checksum_add(0, icmp, len));
  if (c.badsum) sum ^= 0x5555;
  put16(icmp + 2, sum);
  return len;
}

// An answer to one of our requests (errors are the IP layer's: they quote the request).
bool icmp_parse(const WireConfig& c, const uint8_t* icmp, size_t len, Reply& out) {
  if (len < 8) return false;
  const uint8_t request = request_of(out.family, icmp[0]);
  if (request == 0) return false;
  out.kind = kReplyIcmpAnswer;
  out.ip_proto = 1;
  out.icmp_type = icmp[0];
  out.icmp_code = icmp[1];
  out.peer_port = request;
  out.local_port = c.source_port;  // ICMP has no ports: the cookie in id/seq is what proves it ours
  out.has_tag_value = true;
  out.tag_value = (uint32_t(get16(icmp + 4)) << 16) | get16(icmp + 6);
  out.payload = icmp + 8;
  out.payload_len = uint16_t(len - 8);
  return true;
}

// The first 8 bytes of a quoted request: its type, identifier and sequence number.
bool icmp_parse_quoted(const uint8_t* icmp, size_t len, Reply& out) {
  if (len < 8) return false;
  const uint8_t type = icmp[0];
  if (type != kEcho && type != kTimestamp && type != kMask && type != kEcho6) return false;
  out.ip_proto = 1;
  out.peer_port = type == kEcho6 ? kEcho : type;
  out.has_tag_value = true;
  out.tag_value = (uint32_t(get16(icmp + 4)) << 16) | get16(icmp + 6);
  return true;
}

std::string icmp_bpf(const WireConfig&) { return "icmp or icmp6"; }

const char* icmp_selftest() {
  WireConfig c;
  c.ip_proto = 1;
  c.source_port = 61000;
  for (int i = 0; i < 16; i++) c.key[i] = uint8_t(0x30 + i);
  const uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 18, 0, 2};
  uint8_t m[64];
  // Echo: 8 bytes, valid checksum, cookie + tag split over id and seq.
  if (icmp_build(c, 4, s4, d4, kEcho, 42, nullptr, 0, m) != 8 || m[0] != kEcho) return "echo request";
  if (checksum_fold(checksum_add(0, m, 8)) != 0) return "echo checksum";
  const uint32_t value = probe_cookie(c.key, 4, s4, d4, 61000, kEcho) + 42;
  if (get16(m + 4) != uint16_t(value >> 16) || get16(m + 6) != uint16_t(value)) return "echo id/seq";
  if (icmp_build(c, 4, s4, d4, kTimestamp, 1, nullptr, 0, m) != 20 || m[0] != kTimestamp) return "timestamp request";
  if (checksum_fold(checksum_add(0, m, 20)) != 0) return "timestamp checksum";
  if (icmp_build(c, 4, s4, d4, kMask, 1, nullptr, 0, m) != 12 || m[0] != kMask) return "mask request";
  // IPv6: echo request 128 with the pseudo-header checksum.
  uint8_t s6[16] = {0x20, 0x01, 0, 2}, d6[16] = {0x20, 0x01, 0, 2};
  s6[15] = 1; d6[15] = 2;
  if (icmp_build(c, 6, s6, d6, kEcho, 7, nullptr, 0, m) != 8 || m[0] != kEcho6) return "ICMPv6 echo request";
  if (l4_checksum(6, 58, s6, d6, m, 8) != 0) return "ICMPv6 checksum";
  // Answers map back to their request and give the value back.
  uint8_t r[20] = {0};
  put16(r + 4, uint16_t(value >> 16)); put16(r + 6, uint16_t(value));
  Reply p;
  p.family = 4;
  if (!icmp_parse(c, r, 8, p) || p.peer_port != kEcho || p.tag_value != value || p.local_port != 61000) return "echo reply";
  r[0] = 14;
  Reply t;
  t.family = 4;
  if (!icmp_parse(c, r, 20, t) || t.peer_port != kTimestamp) return "timestamp reply";
  r[0] = 8;
  Reply q;
  q.family = 4;
  if (icmp_parse(c, r, 8, q)) return "a request is no answer";
  r[0] = kEchoReply6;
  Reply v;
  v.family = 6;
  if (!icmp_parse(c, r, 8, v) || v.peer_port != kEcho) return "ICMPv6 echo reply";
  return nullptr;
}

}  // namespace

const L4Proto kIcmpProto = {"icmp", 1, icmp_build, icmp_parse, icmp_parse_quoted, icmp_bpf, icmp_selftest};

}  // namespace prtip
