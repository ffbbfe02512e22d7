// SCTP probes (RFC 9260): one packet with one chunk, INIT (-sY) or COOKIE-ECHO (-sZ), under the
// common header whose checksum is CRC32c. Replies are INIT-ACK or ABORT (their first chunk's type
// goes to JS); like UDP they are matched to probes by (address, port), since an ABORT need not
// carry anything of ours.
#include <cstring>

#include "wire.h"

namespace prtip {

namespace {

constexpr uint8_t kInit = 1, kInitAck = 2, kAbort = 6, kCookieEcho = 10;

// CRC32c (Castagnoli, reflected polynomial 0x82F63B78), table built once.
const uint32_t* crc32c_table() {
  static uint32_t table[256];
  static bool ready = [] {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t r = i;
      for (int k = 0; k < 8; k++) r = (r & 1) ? (r >> 1) ^ 0x82F63B78u : r >> 1;
      table[i] = r;
    }
    return true;
  }();
  (void)ready;
  return table;
}

}  // namespace

uint32_t crc32c(const uint8_t* data, size_t len) {
  const uint32_t* t = crc32c_table();
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < len; i++) crc = t[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

// The checksum field carries the CRC least significant byte first (RFC 9260 appendix A).
static void put_crc(uint8_t* sctp, size_t len, bool bad) {
  memset(sctp + 8, 0, 4);
  uint32_t crc = crc32c(sctp, len);
  if (bad) crc ^= 0x55555555u;
  sctp[8] = uint8_t(crc);
  sctp[9] = uint8_t(crc >> 8);
  sctp[10] = uint8_t(crc >> 16);
  sctp[11] = uint8_t(crc >> 24);
}

size_t sctp_build_chunk_packet(const WireConfig& c, uint8_t chunk, uint16_t sport, uint16_t dport, uint32_t tag,
                               const uint8_t* payload, size_t payload_len, uint8_t* p) {
  put16(p, sport);
  put16(p + 2, dport);
  uint8_t* ch = p + 12;
  size_t clen;
  if (chunk == kCookieEcho) {
    // A COOKIE-ECHO with a 4-byte cookie no endpoint issued, under a vtag no association has.
    put32(p + 4, tag);
    ch[0] = kCookieEcho;
    ch[1] = 0;
    clen = 8;
    put32(ch + 4, tag ^ 0x5a5a5a5au);
  } else {
    // An INIT: vtag 0 (RFC 9260 8.5.1), our initiate tag, a_rwnd 32768, 10 outbound and 2048
    // inbound streams (nmap's values), initial TSN.
    put32(p + 4, 0);
    ch[0] = kInit;
    ch[1] = 0;
    clen = 20;
    put32(ch + 4, tag);
    put32(ch + 8, 32768);
    put16(ch + 12, 10);
    put16(ch + 14, 2048);
    put32(ch + 16, tag * 2654435761u);
  }
  put16(ch + 2, uint16_t(clen));
  size_t len = 12 + clen;
  if (payload_len) {
    memcpy(p + len, payload, payload_len);  // --data…: after the chunk, as nmap sends it
    len += payload_len;
  }
  put_crc(p, len, c.badsum);
  return len;
}

namespace {

size_t sctp_build(const WireConfig& c, int family, const uint8_t* saddr, const uint8_t* daddr, uint16_t dport,
                  uint32_t, const uint8_t* payload, size_t payload_len, uint8_t* out) {
  const uint32_t tag = probe_cookie(c.key, family, saddr, daddr, c.source_port, dport) | 1u;  // never 0
  return sctp_build_chunk_packet(c, c.sctp_chunk, c.source_port, dport, tag, payload, payload_len, out);
}

// A reply: the common header and a first chunk (INIT-ACK, ABORT, or whatever the peer sent).
bool sctp_parse(const WireConfig&, const uint8_t* p, size_t len, Reply& out) {
  if (len < 16) return false;
  const size_t clen = get16(p + 14);
  if (clen < 4 || 12 + clen > len) return false;
  out.kind = kReplySctp;
  out.ip_proto = 132;
  out.peer_port = get16(p);
  out.local_port = get16(p + 2);
  out.sctp_chunk = p[12];
  return true;
}

bool sctp_parse_quoted(const uint8_t* p, size_t len, Reply& out) {
  if (len < 8) return false;
  out.ip_proto = 132;
  out.local_port = get16(p);
  out.peer_port = get16(p + 2);
  return true;
}

std::string sctp_bpf(const WireConfig& c) { return "sctp dst port " + std::to_string(c.source_port); }

const char* sctp_selftest() {
  // CRC32c check value (RFC 3720 B.4 / the Castagnoli "123456789" vector).
  const uint8_t nine[9] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  if (crc32c(nine, 9) != 0xe3069283u) return "CRC32c of 123456789";
  uint8_t zeros[32] = {0};
  if (crc32c(zeros, 32) != 0x8a9136aau) return "CRC32c of 32 zero bytes";
  WireConfig c;
  c.ip_proto = 132;
  c.source_port = 40000;
  for (int i = 0; i < 16; i++) c.key[i] = uint8_t(i);
  const uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 18, 0, 2};
  uint8_t pkt[64];
  const size_t n = sctp_build(c, 4, s4, d4, 80, 0, nullptr, 0, pkt);
  if (n != 32 || pkt[12] != kInit || get16(pkt + 14) != 20 || get32(pkt + 4) != 0) return "INIT layout";
  uint8_t copy[64];
  memcpy(copy, pkt, n);
  memset(copy + 8, 0, 4);
  const uint32_t crc = crc32c(copy, n);
  if (pkt[8] != uint8_t(crc) || pkt[11] != uint8_t(crc >> 24)) return "INIT checksum (least significant byte first)";
  c.sctp_chunk = kCookieEcho;
  if (sctp_build(c, 4, s4, d4, 80, 0, nullptr, 0, pkt) != 20 || pkt[12] != kCookieEcho || get32(pkt + 4) == 0) return "COOKIE-ECHO layout";
  uint8_t abort[16] = {0};
  put16(abort, 80); put16(abort + 2, 40000); abort[12] = kAbort; put16(abort + 14, 4);
  Reply r;
  if (!sctp_parse(c, abort, 16, r) || r.kind != kReplySctp || r.sctp_chunk != kAbort || r.peer_port != 80) return "parse of an ABORT";
  put16(abort + 14, 40);
  Reply t;
  if (sctp_parse(c, abort, 16, t)) return "a chunk beyond the packet";
  (void)kInitAck;
  return nullptr;
}

}  // namespace

const L4Proto kSctpProto = {"sctp", 132, sctp_build, sctp_parse, sctp_parse_quoted, sctp_bpf, sctp_selftest};

}  // namespace prtip
