// TCP probes: any flag combination (SYN, FIN, NULL, Xmas, Maimon, ACK, Window, --scanflags), the
// cookie + tag in the sequence number, and in the ack number too when the ACK flag is set: a RST
// answering a segment with ACK takes its sequence number from our ack (RFC 9293 3.10.7.1), one
// answering a segment without ACK acknowledges our sequence number plus SYN, FIN and the payload.
#include <cstring>

#include "checksum.h"
#include "wire.h"

namespace prtip {

namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

size_t options_len(const WireConfig& c) { return (c.tcp_options.size() + 3) & ~size_t(3); }

size_t tcp_build(const WireConfig& c, int family, const uint8_t* saddr, const uint8_t* daddr, uint16_t dport,
                 uint32_t tag, const uint8_t* payload, size_t payload_len, uint8_t* tcp) {
  const size_t olen = options_len(c);
  const size_t hlen = 20 + olen;
  const uint32_t seq = probe_cookie(c.key, family, saddr, daddr, c.source_port, dport) + tag;
  put16(tcp, c.source_port);
  put16(tcp + 2, dport);
  put32(tcp + 4, seq);
  put32(tcp + 8, (c.tcp_flags & kAck) ? seq : 0);
  tcp[12] = uint8_t((hlen / 4) << 4);
  tcp[13] = c.tcp_flags;
  put16(tcp + 14, c.tcp_window);
  put16(tcp + 16, 0);
  put16(tcp + 18, 0);
  memset(tcp + 20, 0, olen);  // pad with EOL
  if (!c.tcp_options.empty()) memcpy(tcp + 20, c.tcp_options.data(), c.tcp_options.size());
  if (payload_len) memcpy(tcp + hlen, payload, payload_len);
  uint16_t sum = l4_checksum(family, 6, saddr, daddr, tcp, hlen + payload_len);
  if (c.badsum) sum ^= 0x5555;  // never the other spelling of the right sum (0x0000 / 0xffff)
  put16(tcp + 16, sum);
  return hlen + payload_len;
}

// A reply to one of our probes: a RST (any scan type), or a SYN-ACK (probes with SYN). A bare ACK
// or a SYN without ACK answers nothing we send.
bool tcp_parse(const WireConfig& c, const uint8_t* tcp, size_t len, Reply& out) {
  if (len < 20) return false;
  const uint8_t flags = tcp[13];
  const bool rst = flags & kRst, syn = flags & kSyn, ack = flags & kAck;
  if (!rst && !(syn && ack)) return false;
  const size_t hlen = size_t(tcp[12] >> 4) * 4;
  if (hlen < 20 || hlen > len) return false;
  out.kind = kReplyTcp;
  out.ip_proto = 6;
  out.peer_port = get16(tcp);
  out.local_port = get16(tcp + 2);
  out.seq = get32(tcp + 4);
  out.ack = get32(tcp + 8);
  out.tcp_flags = flags;
  out.window = get16(tcp + 14);
  out.tcp_options = tcp + 20;
  out.tcp_options_len = uint8_t(hlen - 20);
  const uint32_t advance = ((c.tcp_flags & kSyn) ? 1 : 0) + ((c.tcp_flags & kFin) ? 1 : 0) + uint32_t(c.payload.size());
  out.has_tag_value = true;
  out.tag_value = ack ? out.ack - advance : out.seq;
  if (ack && !c.payload.empty()) {
    // Stacks acknowledge a probe's payload in a RST but, without TCP Fast Open, not in a SYN-ACK.
    out.has_alt_tag_value = true;
    out.alt_tag_value = out.ack - (advance - uint32_t(c.payload.size()));
  }
  return true;
}

// The first 8 bytes of a quoted TCP probe: ports and its sequence number.
bool tcp_parse_quoted(const uint8_t* tcp, size_t len, Reply& out) {
  if (len < 8) return false;
  out.ip_proto = 6;
  out.local_port = get16(tcp);
  out.peer_port = get16(tcp + 2);
  out.has_tag_value = true;
  out.tag_value = get32(tcp + 4);
  return true;
}

std::string tcp_bpf(const WireConfig& c) { return "tcp dst port " + std::to_string(c.source_port); }

const char* tcp_selftest() {
  WireConfig c;
  const uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 18, 0, 2};
  for (int i = 0; i < 16; i++) c.key[i] = uint8_t(0xa0 + i);
  c.source_port = 40000;
  uint8_t seg[80];
  // A SYN with MSS: 24 bytes, valid checksum, cookie + tag in seq, no ack.
  if (tcp_build(c, 4, s4, d4, 80, 77, nullptr, 0, seg) != 24) return "SYN length";
  if (l4_checksum(4, 6, s4, d4, seg, 24) != 0) return "SYN checksum";
  const uint32_t cookie = probe_cookie(c.key, 4, s4, d4, 40000, 80);
  if (get32(seg + 4) != cookie + 77 || get32(seg + 8) != 0) return "SYN seq = cookie + tag, ack 0";
  // A FIN answered by RST-ACK (ack = seq + 1) gives the tag back.
  c.tcp_flags = kFin;
  c.tcp_options.clear();
  if (tcp_build(c, 4, s4, d4, 80, 9, nullptr, 0, seg) != 20 || seg[13] != kFin) return "FIN probe";
  uint8_t r[20] = {0};
  put16(r, 80); put16(r + 2, 40000); put32(r + 8, cookie + 9 + 1); r[12] = 0x50; r[13] = kRst | kAck;
  Reply p;
  if (!tcp_parse(c, r, 20, p) || p.tag_value != cookie + 9) return "RST-ACK to a FIN";
  // An ACK probe carries the value in ack too; its RST (no ACK) takes seq from it.
  c.tcp_flags = kAck;
  tcp_build(c, 4, s4, d4, 80, 5, nullptr, 0, seg);
  if (get32(seg + 8) != cookie + 5) return "ACK probe: ack = cookie + tag";
  memset(r, 0, 20); put16(r, 80); put16(r + 2, 40000); put32(r + 4, cookie + 5); r[12] = 0x50; r[13] = kRst;
  Reply q;
  if (!tcp_parse(c, r, 20, q) || q.tag_value != cookie + 5) return "RST to an ACK";
  r[13] = kAck;
  Reply z;
  if (tcp_parse(c, r, 20, z)) return "a bare ACK is no reply";
  // --badsum: the checksum is wrong.
  c.badsum = true;
  tcp_build(c, 4, s4, d4, 80, 5, nullptr, 0, seg);
  if (l4_checksum(4, 6, s4, d4, seg, 20) == 0) return "--badsum still valid";
  return nullptr;
}

}  // namespace

const L4Proto kTcpProto = {"tcp", 6, tcp_build, tcp_parse, tcp_parse_quoted, tcp_bpf, tcp_selftest};

}  // namespace prtip
