// The IP protocol scan (-sO; -PO pings): a probe per IP protocol number, its "port". Protocols a
// host is likely to answer get a proper header, as nmap sends them: ICMP echo request (ICMPv6 on
// IPv6), IGMP membership query, TCP ACK to port 80, UDP to port 40125, SCTP INIT to port 80; any
// other protocol gets the IP header alone (plus --data…). A reply is any packet of the probed
// protocol from the target (TCP/UDP/SCTP to our source port, ICMP echo replies), or an ICMP
// error quoting the probe; the protocol is what matches it to its probe.
#include <cstring>

#include "checksum.h"
#include "wire.h"

namespace prtip {

namespace {

constexpr uint16_t kTcpPort = 80, kUdpPort = 40125, kSctpPort = 80;

size_t ipproto_build(const WireConfig& c, int family, const uint8_t* saddr, const uint8_t* daddr, uint16_t proto,
                     uint32_t, const uint8_t* payload, size_t payload_len, uint8_t* p) {
  const uint32_t cookie = probe_cookie(c.key, family, saddr, daddr, c.source_port, proto);
  size_t hlen = 0;
  const bool icmp = (proto == 1 && family == 4) || (proto == 58 && family == 6);
  if (proto == 6) {
    put16(p, c.source_port);
    put16(p + 2, kTcpPort);
    put32(p + 4, cookie);
    put32(p + 8, cookie ^ 0x9e3779b9u);
    p[12] = 5 << 4;
    p[13] = 0x10;  // ACK
    put16(p + 14, 1024);
    put32(p + 16, 0);
    hlen = 20;
  } else if (proto == 17) {
    put16(p, c.source_port);
    put16(p + 2, kUdpPort);
    put16(p + 4, uint16_t(8 + payload_len));
    put16(p + 6, 0);
    hlen = 8;
  } else if (proto == 132) {
    return sctp_build_chunk_packet(c, 1, c.source_port, kSctpPort, cookie | 1u, payload, payload_len, p);
  } else if (icmp) {
    p[0] = family == 4 ? 8 : 128;  // echo request
    p[1] = 0;
    put16(p + 2, 0);
    put16(p + 4, uint16_t(cookie) | 1);  // an identifier of 0 goes unanswered by some hosts
    put16(p + 6, uint16_t(cookie >> 16));
    hlen = 8;
  } else if (proto == 2 && family == 4) {
    p[0] = 0x11;  // IGMP membership query, group 0.0.0.0 (general)
    p[1] = 0;
    put16(p + 2, 0);
    put32(p + 4, 0);
    hlen = 8;
  }
  if (payload_len) memcpy(p + hlen, payload, payload_len);
  const size_t len = hlen + payload_len;
  uint16_t sum;
  if (proto == 6 || proto == 17 || (proto == 58 && family == 6)) {
    sum = l4_checksum(family, uint8_t(proto), saddr, daddr, p, len);
    if (proto == 17 && sum == 0) sum = 0xffff;
  } else if (icmp || (proto == 2 && family == 4)) {
    sum = checksum_fold(checksum_add(0, p, len));
  } else {
    return len;
  }
  if (c.badsum) sum ^= 0x5555;
  put16(p + (proto == 6 ? 16 : proto == 17 ? 6 : 2), sum);
  return len;
}

// A packet of the protocol probed, from the target: out.ip_proto says which (wire-ip.cc).
bool ipproto_parse(const WireConfig& c, const uint8_t* l4, size_t len, Reply& out) {
  const uint8_t proto = out.ip_proto;
  out.peer_port = proto;
  if (proto == 6 || proto == 17 || proto == 132) {
    if (len < (proto == 6 ? 20u : proto == 17 ? 8u : 16u) || get16(l4 + 2) != c.source_port) return false;
    out.kind = proto == 6 ? kReplyTcp : proto == 17 ? kReplyUdp : kReplySctp;
    if (proto == 6) {
      out.tcp_flags = l4[13];
      out.window = get16(l4 + 14);
      out.seq = get32(l4 + 4);
      out.ack = get32(l4 + 8);
    } else if (proto == 17) {
      out.payload = l4 + 8;
      out.payload_len = uint16_t(len - 8);
    } else {
      out.sctp_chunk = l4[12];
    }
    return true;
  }
  out.kind = kReplyProto;
  if (proto == 1 || proto == 58) {
    // Only an echo reply answers our echo request (errors were handled before; ICMPv6 also
    // carries neighbour discovery, which answers nothing).
    if (len < 8 || l4[0] != (proto == 1 ? 0 : 129)) return false;
    out.icmp_type = l4[0];
    out.icmp_code = l4[1];
  }
  return true;
}

// The quoted probe names its protocol in the quoted IP header (out.ip_proto), nothing more needed.
bool ipproto_parse_quoted(const uint8_t*, size_t, Reply& out) {
  out.peer_port = out.ip_proto;
  return true;
}

std::string ipproto_bpf(const WireConfig&) { return "ip or ip6"; }

const char* ipproto_selftest() {
  WireConfig c;
  c.ip_proto = kProtoScan;
  c.source_port = 50000;
  c.src_mac[0] = 2;
  const uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 18, 0, 2};
  memcpy(c.src4, s4, 4);
  c.have4 = true;
  FrameSink sink;
  // Protocol 99: a bare IP header of protocol 99.
  if (build_probe_frames(c, 4, d4, 99, 0, sink) != 1 || sink.lengths[0] != 34 || sink.bytes[14 + 9] != 99) return "bare probe";
  // ICMP: an echo request with a valid checksum.
  sink.clear();
  build_probe_frames(c, 4, d4, 1, 0, sink);
  const uint8_t* f = sink.bytes.data();
  if (sink.lengths[0] != 42 || f[23] != 1 || f[34] != 8 || checksum_fold(checksum_add(0, f + 34, 8)) != 0) return "ICMP echo";
  // TCP: an ACK to port 80 with a valid checksum.
  sink.clear();
  build_probe_frames(c, 4, d4, 6, 0, sink);
  f = sink.bytes.data();
  if (f[23] != 6 || get16(f + 36) != 80 || f[47] != 0x10 || l4_checksum(4, 6, s4, d4, f + 34, 20) != 0) return "TCP ACK";
  // A port unreachable quoting the UDP probe, and a proto unreachable quoting protocol 99, match their protocols.
  uint8_t r[14 + 20 + 8 + 20 + 8] = {0};
  put16(r + 12, 0x0800);
  r[14] = 0x45; put16(r + 16, 56); r[22] = 64; r[23] = 1;
  memcpy(r + 26, d4, 4); memcpy(r + 30, s4, 4);
  r[34] = 3; r[35] = 2;
  uint8_t* q = r + 42;
  q[0] = 0x45; put16(q + 2, 20); q[8] = 64; q[9] = 99;
  memcpy(q + 12, s4, 4); memcpy(q + 16, d4, 4);
  Reply a;
  if (!parse_frame(c, r, 14 + 20 + 8 + 20, a) || a.kind != kReplyIcmp || a.peer_port != 99 || a.icmp_code != 2 ||
      a.local_port != 50000) {
    return "proto unreachable quoting protocol 99";
  }
  // An echo reply is the ICMP protocol's answer; an echo request from the target is not.
  uint8_t e[14 + 20 + 8] = {0};
  put16(e + 12, 0x0800);
  e[14] = 0x45; put16(e + 16, 28); e[22] = 64; e[23] = 1;
  memcpy(e + 26, d4, 4); memcpy(e + 30, s4, 4);
  Reply b;
  if (!parse_frame(c, e, sizeof e, b) || b.kind != kReplyProto || b.peer_port != 1) return "echo reply";
  e[34] = 8;
  Reply d;
  if (parse_frame(c, e, sizeof e, d)) return "an echo request is no reply";
  return nullptr;
}

}  // namespace

const L4Proto kIpProtoScan = {"ipproto", kProtoScan, ipproto_build, ipproto_parse, ipproto_parse_quoted, ipproto_bpf, ipproto_selftest};

}  // namespace prtip
