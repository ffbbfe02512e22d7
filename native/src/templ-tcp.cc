#include "templ-tcp.h"

#include <cstring>

#include "checksum.h"
#include "siphash.h"

namespace prtip {

static inline void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
static inline void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}
static inline uint16_t get16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
static inline uint32_t get32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

static uint64_t tuple_hash(const uint8_t key[16], int family, const uint8_t* saddr, const uint8_t* daddr,
                           uint16_t sport, uint16_t dport) {
  uint8_t buf[36];
  const size_t alen = family == 4 ? 4 : 16;
  memcpy(buf, saddr, alen);
  memcpy(buf + alen, daddr, alen);
  put16(buf + 2 * alen, sport);
  put16(buf + 2 * alen + 2, dport);
  return siphash24(key, buf, 2 * alen + 4);
}

uint32_t syn_cookie(const uint8_t key[16], int family, const uint8_t* saddr, const uint8_t* daddr,
                    uint16_t sport, uint16_t dport) {
  return uint32_t(tuple_hash(key, family, saddr, daddr, sport, dport));
}

uint16_t syn_ip_id(const uint8_t key[16], const uint8_t* daddr, uint16_t dport) {
  uint8_t buf[6];
  memcpy(buf, daddr, 4);
  put16(buf + 4, dport);
  return uint16_t(siphash24(key, buf, 6) >> 48);
}

uint16_t tcp_checksum(int family, const uint8_t* saddr, const uint8_t* daddr, const uint8_t* segment, size_t len) {
  uint32_t sum = 0;
  if (family == 4) {
    sum = checksum_add(sum, saddr, 4);
    sum = checksum_add(sum, daddr, 4);
    sum += 6;  // zero byte + protocol
    sum += uint32_t(len);
  } else {
    sum = checksum_add(sum, saddr, 16);
    sum = checksum_add(sum, daddr, 16);
    sum += uint32_t(len >> 16) + uint32_t(len & 0xffff);  // 32-bit upper-layer length
    sum += 6;  // three zero bytes + next header
  }
  sum = checksum_add(sum, segment, len);
  return checksum_fold(sum);
}

size_t build_syn_frame(const SynTemplateConfig& c, int family, const uint8_t* daddr, uint16_t dport,
                       uint32_t tag, uint8_t* out, const uint8_t* dst_mac) {
  const uint8_t* saddr = family == 4 ? c.src4 : c.src6;
  memcpy(out, dst_mac ? dst_mac : family == 4 ? c.dst_mac4 : c.dst_mac6, 6);
  memcpy(out + 6, c.src_mac, 6);
  put16(out + 12, family == 4 ? 0x0800 : 0x86dd);
  uint8_t* ip = out + 14;
  uint8_t* tcp;
  if (family == 4) {
    ip[0] = 0x45;  // version 4, 20-byte header
    ip[1] = 0;
    put16(ip + 2, uint16_t(20 + kTcpSynLen));
    put16(ip + 4, syn_ip_id(c.key, daddr, dport));
    put16(ip + 6, 0);  // no flags, no fragment offset
    ip[8] = c.ttl;
    ip[9] = 6;
    put16(ip + 10, 0);
    memcpy(ip + 12, saddr, 4);
    memcpy(ip + 16, daddr, 4);
    put16(ip + 10, checksum_fold(checksum_add(0, ip, 20)));
    tcp = ip + 20;
  } else {
    put32(ip, 0x60000000);  // version 6, no traffic class, no flow label
    put16(ip + 4, uint16_t(kTcpSynLen));
    ip[6] = 6;
    ip[7] = c.ttl;
    memcpy(ip + 8, saddr, 16);
    memcpy(ip + 24, daddr, 16);
    tcp = ip + 40;
  }
  const uint32_t seq = syn_cookie(c.key, family, saddr, daddr, c.source_port, dport) + tag;
  put16(tcp, c.source_port);
  put16(tcp + 2, dport);
  put32(tcp + 4, seq);
  put32(tcp + 8, 0);
  tcp[12] = uint8_t((kTcpSynLen / 4) << 4);
  tcp[13] = 0x02;  // SYN
  put16(tcp + 14, c.window);
  put16(tcp + 16, 0);
  put16(tcp + 18, 0);
  tcp[20] = 2; tcp[21] = 4; put16(tcp + 22, 1460);  // MSS 1460
  put16(tcp + 16, tcp_checksum(family, saddr, daddr, tcp, kTcpSynLen));
  return family == 4 ? kSynFrameLen4 : kSynFrameLen6;
}

// The TCP part of a reply: flags decide the kind; the ack reveals our sequence number.
static bool parse_tcp(const uint8_t* tcp, size_t len, ParsedReply& out) {
  if (len < 20) return false;
  const uint8_t flags = tcp[13];
  const bool syn = flags & 0x02, rst = flags & 0x04, ack = flags & 0x10;
  if (!ack) return false;  // a reply to a SYN acknowledges it (RFC 9293 3.10.7.1: RST with ACK)
  if (rst) out.kind = kReplyRst;
  else if (syn) out.kind = kReplySynAck;
  else return false;
  out.peer_port = get16(tcp);
  out.local_port = get16(tcp + 2);
  out.probe_seq = get32(tcp + 8) - 1;
  out.window = get16(tcp + 14);
  return true;
}

// The probe an ICMP error quotes: its IP header and the first 8 bytes of its TCP header.
static bool parse_quoted(int family, const uint8_t* q, size_t len, ParsedReply& out) {
  const uint8_t* tcp;
  if (family == 4) {
    if (len < 20 || (q[0] >> 4) != 4) return false;
    const size_t ihl = size_t(q[0] & 0x0f) * 4;
    if (ihl < 20 || q[9] != 6 || len < ihl + 8) return false;
    memcpy(out.local, q + 12, 4);
    memcpy(out.peer, q + 16, 4);
    tcp = q + ihl;
  } else {
    if (len < 48 || (q[0] >> 4) != 6 || q[6] != 6) return false;
    memcpy(out.local, q + 8, 16);
    memcpy(out.peer, q + 24, 16);
    tcp = q + 40;
  }
  out.local_port = get16(tcp);
  out.peer_port = get16(tcp + 2);
  out.probe_seq = get32(tcp + 4);
  out.kind = kReplyIcmp;
  return true;
}

bool parse_reply(const uint8_t* f, size_t len, ParsedReply& out) {
  if (len < 14) return false;
  size_t off = 12;
  uint16_t type = get16(f + off);
  while ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {  // VLAN tags
    off += 4;
    type = get16(f + off);
  }
  off += 2;
  const uint8_t* ip = f + off;
  size_t iplen = len - off;
  if (type == 0x0800) {
    if (iplen < 20 || (ip[0] >> 4) != 4) return false;
    const size_t ihl = size_t(ip[0] & 0x0f) * 4;
    const size_t total = get16(ip + 2);
    if (ihl < 20 || total < ihl || iplen < ihl) return false;
    if (get16(ip + 6) & 0x3fff) return false;  // a fragment: never a reply to a SYN
    if (total < iplen) iplen = total;           // Ethernet padding is not payload
    out.family = 4;
    out.ttl = ip[8];
    const uint8_t* l4 = ip + ihl;
    const size_t l4len = iplen - ihl;
    if (ip[9] == 6) {
      memcpy(out.peer, ip + 12, 4);
      memcpy(out.local, ip + 16, 4);
      return parse_tcp(l4, l4len, out);
    }
    if (ip[9] == 1) {
      if (l4len < 8 || l4[0] != 3) return false;  // destination unreachable only
      out.icmp_type = l4[0];
      out.icmp_code = l4[1];
      return parse_quoted(4, l4 + 8, l4len - 8, out);
    }
    return false;
  }
  if (type == 0x86dd) {
    if (iplen < 40 || (ip[0] >> 4) != 6) return false;
    const size_t payload = get16(ip + 4);
    if (iplen > 40 + payload) iplen = 40 + payload;
    out.family = 6;
    out.ttl = ip[7];
    const uint8_t* l4 = ip + 40;
    const size_t l4len = iplen - 40;
    if (ip[6] == 6) {
      memcpy(out.peer, ip + 8, 16);
      memcpy(out.local, ip + 24, 16);
      return parse_tcp(l4, l4len, out);
    }
    if (ip[6] == 58) {
      if (l4len < 8 || l4[0] != 1) return false;  // ICMPv6 destination unreachable only
      out.icmp_type = l4[0];
      out.icmp_code = l4[1];
      return parse_quoted(6, l4 + 8, l4len - 8, out);
    }
    return false;
  }
  return false;
}

const char* templ_selftest() {
  SynTemplateConfig c{};
  for (int i = 0; i < 6; i++) { c.src_mac[i] = uint8_t(0x10 + i); c.dst_mac4[i] = uint8_t(0x20 + i); c.dst_mac6[i] = uint8_t(0x30 + i); }
  const uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 18, 0, 2};
  memcpy(c.src4, s4, 4);
  for (int i = 0; i < 16; i++) c.src6[i] = uint8_t(i * 7);
  c.source_port = 40000;
  c.ttl = 64;
  c.window = 1024;
  for (int i = 0; i < 16; i++) c.key[i] = uint8_t(0xa0 + i);
  uint8_t f[kMaxSynFrame];
  if (build_syn_frame(c, 4, d4, 80, 77, f) != kSynFrameLen4) return "IPv4 frame length";
  if (checksum_fold(checksum_add(0, f + 14, 20)) != 0) return "IPv4 header checksum";
  if (tcp_checksum(4, s4, d4, f + 34, kTcpSynLen) != 0) return "TCP checksum over the IPv4 pseudo-header";
  if (get32(f + 34 + 4) != syn_cookie(c.key, 4, s4, d4, 40000, 80) + 77) return "IPv4 sequence number = cookie + tag";
  uint8_t d6[16];
  for (int i = 0; i < 16; i++) d6[i] = uint8_t(0xff - i);
  if (build_syn_frame(c, 6, d6, 443, 5, f) != kSynFrameLen6) return "IPv6 frame length";
  if (tcp_checksum(6, c.src6, d6, f + 54, kTcpSynLen) != 0) return "TCP checksum over the IPv6 pseudo-header";
  if (memcmp(f, c.dst_mac6, 6) != 0) return "IPv6 frame: the template's next-hop MAC";
  // A probe's own next-hop MAC (a host on the local link) changes the Ethernet destination only.
  const uint8_t host_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
  uint8_t g[kMaxSynFrame];
  if (build_syn_frame(c, 6, d6, 443, 5, g, host_mac) != kSynFrameLen6) return "IPv6 frame length with a given MAC";
  if (memcmp(g, host_mac, 6) != 0) return "IPv6 frame: the given destination MAC";
  if (memcmp(g + 6, f + 6, kSynFrameLen6 - 6) != 0) return "IPv6 frame with a given MAC: rest of the frame unchanged";
  // A hand-made SYN-ACK answering the IPv4 probe parses back to the probe's sequence number.
  uint8_t r[60] = {0};
  memcpy(r, c.src_mac, 6);
  memcpy(r + 6, c.dst_mac4, 6);
  put16(r + 12, 0x0800);
  r[14] = 0x45; put16(r + 16, 40); r[22] = 63; r[23] = 6;
  memcpy(r + 26, d4, 4); memcpy(r + 30, s4, 4);
  put16(r + 34, 80); put16(r + 36, 40000); put32(r + 38, 12345);
  put32(r + 42, syn_cookie(c.key, 4, s4, d4, 40000, 80) + 77 + 1);
  r[46] = 0x50; r[47] = 0x12; put16(r + 48, 29200);
  ParsedReply p;
  if (!parse_reply(r, sizeof r, p) || p.kind != kReplySynAck || p.ttl != 63 || p.peer_port != 80 ||
      p.window != 29200 || p.probe_seq != syn_cookie(c.key, 4, s4, d4, 40000, 80) + 77) {
    return "parse of a SYN-ACK";
  }
  return nullptr;
}

}  // namespace prtip
