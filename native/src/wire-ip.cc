// Everything of the wire below L4: Ethernet and IPv4/IPv6 headers, IPv4 options, fragments and
// decoy sources (several frames per probe), the cookie, and the parse of a captured frame down to
// the L4 protocol's own parser.
#include <pcap/dlt.h>

#include <cstring>

#include "checksum.h"
#include "siphash.h"
#include "wire.h"

namespace prtip {

const std::vector<const L4Proto*>& l4_protos() {
  static const std::vector<const L4Proto*> all = {&kTcpProto, &kUdpProto, &kSctpProto, &kIpProtoScan, &kIcmpProto};
  return all;
}

const L4Proto* l4_proto(uint16_t ip_proto) {
  for (const L4Proto* p : l4_protos()) {
    if (p->ip_proto == ip_proto) return p;
  }
  return nullptr;
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

uint32_t probe_cookie(const uint8_t key[16], int family, const uint8_t* saddr, const uint8_t* daddr,
                      uint16_t sport, uint16_t dport) {
  return uint32_t(tuple_hash(key, family, saddr, daddr, sport, dport));
}

uint16_t probe_ip_id(const uint8_t key[16], const uint8_t* daddr, uint16_t dport) {
  uint8_t buf[6];
  memcpy(buf, daddr, 4);
  put16(buf + 4, dport);
  return uint16_t(siphash24(key, buf, 6) >> 48);
}

uint16_t l4_checksum(int family, uint8_t proto, const uint8_t* saddr, const uint8_t* daddr, const uint8_t* segment,
                     size_t len) {
  uint32_t sum = 0;
  if (family == 4) {
    sum = checksum_add(sum, saddr, 4);
    sum = checksum_add(sum, daddr, 4);
    sum += proto;  // zero byte + protocol
    sum += uint32_t(len);
  } else {
    sum = checksum_add(sum, saddr, 16);
    sum = checksum_add(sum, daddr, 16);
    sum += uint32_t(len >> 16) + uint32_t(len & 0xffff);  // 32-bit upper-layer length
    sum += proto;  // three zero bytes + next header
  }
  sum = checksum_add(sum, segment, len);
  return checksum_fold(sum);
}

// IPv4 options that later fragments repeat: those with the "copied" bit (LSRR, SSRR, …).
static size_t copied_options(const std::vector<uint8_t>& opts, uint8_t* out) {
  size_t n = 0;
  for (size_t i = 0; i < opts.size();) {
    const uint8_t type = opts[i];
    if (type == 0) break;
    if (type == 1) { i++; continue; }
    if (i + 1 >= opts.size() || opts[i + 1] < 2 || i + opts[i + 1] > opts.size()) break;
    if (type & 0x80) { memcpy(out + n, opts.data() + i, opts[i + 1]); n += opts[i + 1]; }
    i += opts[i + 1];
  }
  while (n % 4) out[n++] = 0;
  return n;
}

static void write_eth(const WireConfig& c, int family, const uint8_t* dst_mac, uint8_t* out) {
  memcpy(out, dst_mac ? dst_mac : family == 4 ? c.dst_mac4 : c.dst_mac6, 6);
  memcpy(out + 6, c.src_mac, 6);
  put16(out + 12, family == 4 ? 0x0800 : 0x86dd);
}

static size_t write_ipv4(const WireConfig& c, uint8_t ip_proto, const uint8_t* saddr, const uint8_t* daddr, uint16_t id,
                         const uint8_t* opts, size_t opts_len, size_t l4_len, uint16_t frag_field, uint8_t* ip) {
  const size_t hlen = 20 + opts_len;
  ip[0] = uint8_t(0x40 | (hlen / 4));
  ip[1] = 0;
  put16(ip + 2, uint16_t(hlen + l4_len));
  put16(ip + 4, id);
  put16(ip + 6, frag_field);
  ip[8] = c.ttl;
  ip[9] = ip_proto;
  put16(ip + 10, 0);
  memcpy(ip + 12, saddr, 4);
  memcpy(ip + 16, daddr, 4);
  if (opts_len) memcpy(ip + 20, opts, opts_len);
  put16(ip + 10, checksum_fold(checksum_add(0, ip, hlen)));
  return hlen;
}

size_t build_probe_frames(const WireConfig& c, int family, const uint8_t* daddr, uint16_t dport, uint32_t tag,
                          FrameSink& sink, const uint8_t* dst_mac) {
  const L4Proto* proto = l4_proto(c.ip_proto);
  if (!proto) return 0;
  // The protocol scan's "port" is the probe's IP protocol.
  const uint8_t ip_proto = c.ip_proto == kProtoScan ? uint8_t(dport) : uint8_t(c.ip_proto);
  static const std::vector<uint8_t> kNone;
  std::vector<const std::vector<uint8_t>*> payloads;
  if (!c.payload.empty()) payloads.push_back(&c.payload);
  else if (auto it = c.port_payloads.find(dport); it != c.port_payloads.end()) for (auto& p : it->second) payloads.push_back(&p);
  if (payloads.empty()) payloads.push_back(&kNone);
  std::vector<const uint8_t*> sources;
  if (family == 4) for (auto& d : c.decoys4) sources.push_back(d.data());
  else for (auto& d : c.decoys6) sources.push_back(d.data());
  if (sources.empty()) sources.push_back(family == 4 ? c.src4 : c.src6);
  uint8_t l4[kMaxFrame];
  uint8_t later_opts[40];
  const size_t later_opts_len = c.fragment ? copied_options(c.ip_options, later_opts) : 0;
  const size_t before = sink.count();
  for (const auto* payload : payloads) {
    const size_t plen = std::min(payload->size(), kMaxPayload);
    for (size_t s = 0; s < sources.size(); s++) {
      const uint8_t* saddr = sources[s];
      const size_t l4_len = proto->build(c, family, saddr, daddr, dport, tag, payload->data(), plen, l4);
      if (family == 6) {
        uint8_t* f = sink.add(14 + 40 + l4_len);
        write_eth(c, 6, dst_mac, f);
        uint8_t* ip = f + 14;
        put32(ip, 0x60000000);  // version 6, no traffic class, no flow label
        put16(ip + 4, uint16_t(l4_len));
        ip[6] = c.ip_proto == 1 ? 58 : ip_proto;  // an ICMP discovery probe is ICMPv6 on IPv6
        ip[7] = c.ttl;
        memcpy(ip + 8, saddr, 16);
        memcpy(ip + 24, daddr, 16);
        memcpy(ip + 40, l4, l4_len);
        sink.set_last_length(14 + 40 + l4_len);
        continue;
      }
      const uint16_t id = uint16_t(probe_ip_id(c.key, daddr, dport) + s);
      const size_t piece = c.fragment ? c.fragment : l4_len;
      for (size_t off = 0; off < l4_len || off == 0; off += piece) {
        const size_t n = std::min(piece, l4_len - off);
        const bool first = off == 0, more = off + n < l4_len;
        const uint8_t* opts = first ? c.ip_options.data() : later_opts;
        const size_t olen = first ? c.ip_options.size() : later_opts_len;
        uint8_t* f = sink.add(14 + 20 + olen + n);
        write_eth(c, 4, dst_mac, f);
        const size_t hlen = write_ipv4(c, ip_proto, saddr, daddr, id, opts, olen, n, uint16_t((more ? 0x2000 : 0) | (off / 8)), f + 14);
        memcpy(f + 14 + hlen, l4 + off, n);
        sink.set_last_length(14 + hlen + n);
        if (n == 0) break;
      }
    }
  }
  return sink.count() - before;
}

// Whether a packet of IP protocol `p` is one the scan's probes may get back directly.
static bool scan_protocol(const WireConfig& c, uint8_t p) { return c.ip_proto == kProtoScan || p == c.ip_proto || (c.ip_proto == 1 && p == 58); }

// The probe an ICMP error quotes: its IP header and the first 8 bytes of its L4 header (the L4
// module checks it has them: a protocol-scan probe may have no L4 header at all).
static bool parse_quoted(const WireConfig& c, int family, const uint8_t* q, size_t len, Reply& out) {
  const uint8_t* l4;
  size_t l4len;
  out.local_port = c.source_port;
  if (family == 4) {
    if (len < 20 || (q[0] >> 4) != 4) return false;
    const size_t ihl = size_t(q[0] & 0x0f) * 4;
    if (ihl < 20 || !scan_protocol(c, q[9]) || len < ihl) return false;
    out.ip_proto = q[9];
    if (get16(q + 6) & 0x1fff) return false;  // a later fragment quotes no L4 header
    memcpy(out.local, q + 12, 4);
    memcpy(out.peer, q + 16, 4);
    out.quoted_len = get16(q + 2);
    l4 = q + ihl;
    l4len = len - ihl;
  } else {
    if (len < 40 || (q[0] >> 4) != 6 || !scan_protocol(c, q[6])) return false;
    out.ip_proto = q[6];
    memcpy(out.local, q + 8, 16);
    memcpy(out.peer, q + 24, 16);
    out.quoted_len = get16(q + 4);
    l4 = q + 40;
    l4len = len - 40;
  }
  const L4Proto* proto = l4_proto(c.ip_proto);
  if (!proto || !proto->parse_quoted(l4, l4len, out)) return false;
  if (c.ip_proto == 1) out.local_port = c.source_port;  // ICMP probes have no ports: their cookie decides
  out.kind = kReplyIcmp;
  return true;
}

bool link_payload(int dlt, const uint8_t* f, size_t len, size_t& off, uint16_t& type) {
  switch (dlt) {
    case DLT_EN10MB: {
      if (len < 14) return false;
      off = 12;
      type = get16(f + off);
      while ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {  // VLAN tags
        off += 4;
        type = get16(f + off);
      }
      off += 2;
      return true;
    }
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      // tun, WireGuard, ipip/gre tunnels: the packet is the IP packet; its version says which.
      if (len < 1) return false;
      off = 0;
      type = (f[0] >> 4) == 4 ? 0x0800 : (f[0] >> 4) == 6 ? 0x86dd : 0;
      return type != 0;
    case DLT_LINUX_SLL:  // Linux "cooked" capture v1 (ppp, …): 16 bytes, the protocol last
      if (len < 16) return false;
      off = 16;
      type = get16(f + 14);
      return true;
    case DLT_LINUX_SLL2:  // v2: 20 bytes, the protocol first
      if (len < 20) return false;
      off = 20;
      type = get16(f);
      return true;
    case DLT_NULL:
    case DLT_LOOP: {  // BSD loopback: a 4-byte address family (host order for NULL, network order for LOOP)
      if (len < 4) return false;
      uint32_t af;
      if (dlt == DLT_LOOP) af = get32(f);
      else memcpy(&af, f, 4);
      off = 4;
      type = af == 2 ? 0x0800 : (af == 10 || af == 24 || af == 28 || af == 30) ? 0x86dd : 0;
      return type != 0;
    }
    default:
      return false;
  }
}

bool link_supported(int dlt) {
  return dlt == DLT_EN10MB || dlt == DLT_RAW || dlt == DLT_IPV4 || dlt == DLT_IPV6 || dlt == DLT_LINUX_SLL ||
         dlt == DLT_LINUX_SLL2 || dlt == DLT_NULL || dlt == DLT_LOOP;
}

bool parse_frame(const WireConfig& c, const uint8_t* f, size_t len, Reply& out) {
  return parse_link_frame(c, DLT_EN10MB, f, len, out);
}

bool parse_link_frame(const WireConfig& c, int dlt, const uint8_t* f, size_t len, Reply& out) {
  size_t off = 0;
  uint16_t type = 0;
  if (!link_payload(dlt, f, len, off, type)) return false;
  return parse_ip_packet(c, type, f + off, len - off, out);
}

bool parse_ip_packet(const WireConfig& c, uint16_t type, const uint8_t* ip, size_t iplen, Reply& out) {
  const L4Proto* proto = l4_proto(c.ip_proto);
  if (!proto) return false;
  if (type == 0x0800) {
    if (iplen < 20 || (ip[0] >> 4) != 4) return false;
    const size_t ihl = size_t(ip[0] & 0x0f) * 4;
    const size_t total = get16(ip + 2);
    if (ihl < 20 || total < ihl || iplen < ihl) return false;
    if (get16(ip + 6) & 0x3fff) return false;  // a fragment: replies to probes fit one packet
    if (total < iplen) iplen = total;           // Ethernet padding is not payload
    out.family = 4;
    out.ttl = ip[8];
    out.ip_id = get16(ip + 4);
    memcpy(out.from, ip + 12, 4);
    const uint8_t* l4 = ip + ihl;
    const size_t l4len = iplen - ihl;
    if (ip[9] == 1 && l4len >= 8 && (l4[0] == 3 || l4[0] == 11)) {  // unreachable, time exceeded
      out.icmp_type = l4[0];
      out.icmp_code = l4[1];
      return parse_quoted(c, 4, l4 + 8, l4len - 8, out);
    }
    if (scan_protocol(c, ip[9])) {
      memcpy(out.peer, ip + 12, 4);
      memcpy(out.local, ip + 16, 4);
      out.ip_proto = ip[9];
      out.local_port = c.source_port;
      return proto->parse(c, l4, l4len, out);
    }
    return false;
  }
  if (type == 0x86dd) {
    if (iplen < 40 || (ip[0] >> 4) != 6) return false;
    const size_t payload = get16(ip + 4);
    if (iplen > 40 + payload) iplen = 40 + payload;
    out.family = 6;
    out.ttl = ip[7];
    memcpy(out.from, ip + 8, 16);
    const uint8_t* l4 = ip + 40;
    const size_t l4len = iplen - 40;
    // unreachable, time exceeded; parameter problem (the protocol scan's "unknown next header")
    if (ip[6] == 58 && l4len >= 8 && (l4[0] == 1 || l4[0] == 3 || (l4[0] == 4 && c.ip_proto == kProtoScan))) {
      out.icmp_type = l4[0];
      out.icmp_code = l4[1];
      return parse_quoted(c, 6, l4 + 8, l4len - 8, out);
    }
    if (scan_protocol(c, ip[6])) {
      memcpy(out.peer, ip + 8, 16);
      memcpy(out.local, ip + 24, 16);
      out.ip_proto = ip[6];
      out.local_port = c.source_port;
      return proto->parse(c, l4, l4len, out);
    }
    return false;
  }
  return false;
}

std::string capture_filter(const WireConfig& c) {
  std::string hosts;
  char text[64];
  auto fmt4 = [&](const uint8_t* a) { snprintf(text, sizeof text, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]); return std::string(text); };
  auto fmt6 = [&](const uint8_t* a) {
    std::string s;
    for (int i = 0; i < 16; i += 2) { snprintf(text, sizeof text, "%s%x", i ? ":" : "", get16(a + i)); s += text; }
    return s;
  };
  if (c.have4) hosts += "dst host " + fmt4(c.src4);
  if (c.have6) hosts += std::string(hosts.empty() ? "" : " or ") + "dst host " + fmt6(c.src6);
  const L4Proto* proto = l4_proto(c.ip_proto);
  return "(" + hosts + ") and ((" + (proto ? proto->bpf(c) : std::string("tcp")) + ") or icmp or icmp6)";
}

const char* wire_selftest() {
  WireConfig c;
  for (int i = 0; i < 6; i++) { c.src_mac[i] = uint8_t(0x10 + i); c.dst_mac4[i] = uint8_t(0x20 + i); c.dst_mac6[i] = uint8_t(0x30 + i); }
  const uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 18, 0, 2};
  memcpy(c.src4, s4, 4);
  c.have4 = true;
  for (int i = 0; i < 16; i++) { c.src6[i] = uint8_t(i * 7); c.key[i] = uint8_t(0xa0 + i); }
  c.source_port = 40000;
  FrameSink sink;
  if (build_probe_frames(c, 4, d4, 80, 77, sink) != 1 || sink.lengths[0] != 58) return "IPv4 SYN frame";
  const uint8_t* f = sink.bytes.data();
  if (checksum_fold(checksum_add(0, f + 14, 20)) != 0) return "IPv4 header checksum";
  if (l4_checksum(4, 6, s4, d4, f + 34, 24) != 0) return "TCP checksum over the IPv4 pseudo-header";
  uint8_t d6[16];
  for (int i = 0; i < 16; i++) d6[i] = uint8_t(0xff - i);
  sink.clear();
  if (build_probe_frames(c, 6, d6, 443, 5, sink) != 1 || sink.lengths[0] != 78) return "IPv6 SYN frame";
  if (l4_checksum(6, 6, c.src6, d6, sink.bytes.data() + 54, 24) != 0) return "TCP checksum over the IPv6 pseudo-header";
  // -f: a 24-byte TCP header in 8-byte fragments: three frames, offsets 0, 1, 2, MF on all but the last.
  c.fragment = 8;
  sink.clear();
  if (build_probe_frames(c, 4, d4, 80, 77, sink) != 3) return "fragments: count";
  for (size_t k = 0; k < 3; k++) {
    const uint8_t* ip = sink.bytes.data() + sink.offsets[k] + 14;
    if (get16(ip + 6) != uint16_t((k < 2 ? 0x2000 : 0) | k) || get16(ip + 2) != 28) return "fragments: offset, MF, length";
    if (get16(ip + 4) != get16(sink.bytes.data() + 14 + 4)) return "fragments: one IP ID";
  }
  c.fragment = 0;
  // -D: one frame per source, in order.
  c.decoys4 = {{198, 18, 0, 9}, {198, 18, 0, 1}, {198, 18, 0, 10}};
  sink.clear();
  if (build_probe_frames(c, 4, d4, 80, 77, sink) != 3) return "decoys: count";
  for (size_t k = 0; k < 3; k++) {
    const uint8_t* ip = sink.bytes.data() + sink.offsets[k] + 14;
    if (memcmp(ip + 12, c.decoys4[k].data(), 4) != 0) return "decoys: source order";
    if (l4_checksum(4, 6, ip + 12, d4, ip + 20, 24) != 0) return "decoys: TCP checksum over the decoy's address";
  }
  c.decoys4.clear();
  // --ip-options: the header grows, its checksum covers them.
  c.ip_options = {7, 7, 4, 0, 0, 0, 0, 0};  // record route, one slot, padded
  sink.clear();
  build_probe_frames(c, 4, d4, 80, 77, sink);
  if ((sink.bytes[14] & 0x0f) != 7 || checksum_fold(checksum_add(0, sink.bytes.data() + 14, 28)) != 0) return "IP options";
  c.ip_options.clear();
  // A SYN-ACK answering the IPv4 probe parses back to the probe's cookie + tag.
  uint8_t r[60] = {0};
  memcpy(r, c.src_mac, 6);
  memcpy(r + 6, c.dst_mac4, 6);
  put16(r + 12, 0x0800);
  r[14] = 0x45; put16(r + 16, 40); r[22] = 63; r[23] = 6;
  memcpy(r + 26, d4, 4); memcpy(r + 30, s4, 4);
  put16(r + 34, 80); put16(r + 36, 40000); put32(r + 38, 12345);
  put32(r + 42, probe_cookie(c.key, 4, s4, d4, 40000, 80) + 77 + 1);
  r[46] = 0x50; r[47] = 0x12; put16(r + 48, 29200);
  Reply p;
  if (!parse_frame(c, r, sizeof r, p) || p.kind != kReplyTcp || p.ttl != 63 || p.peer_port != 80 || p.window != 29200 ||
      p.tag_value != probe_cookie(c.key, 4, s4, d4, 40000, 80) + 77) {
    return "parse of a SYN-ACK";
  }
  // The same reply captured on a tun (raw IP) and as a Linux cooked frame (v1, v2) parses alike.
  Reply q;
  if (!parse_link_frame(c, DLT_RAW, r + 14, sizeof r - 14, q) || q.tag_value != p.tag_value || q.ttl != 63) return "parse of a raw-IP SYN-ACK";
  uint8_t sll[16 + 46] = {0};
  put16(sll + 14, 0x0800);
  memcpy(sll + 16, r + 14, 46);
  if (!parse_link_frame(c, DLT_LINUX_SLL, sll, sizeof sll, q) || q.tag_value != p.tag_value) return "parse of a cooked (SLL) SYN-ACK";
  uint8_t sll2[20 + 46] = {0};
  put16(sll2, 0x0800);
  memcpy(sll2 + 20, r + 14, 46);
  if (!parse_link_frame(c, DLT_LINUX_SLL2, sll2, sizeof sll2, q) || q.tag_value != p.tag_value) return "parse of a cooked (SLL2) SYN-ACK";
  if (parse_link_frame(c, DLT_RAW, r, sizeof r, q)) return "an Ethernet frame taken for raw IP";
  if (link_supported(DLT_IEEE802_11)) return "802.11 taken for a supported link";
  return nullptr;
}

}  // namespace prtip
