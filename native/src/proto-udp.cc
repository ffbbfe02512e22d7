// UDP probes: a datagram per payload of the port (nmap-payloads), or the scan's --data, or none.
// UDP has no room for a cookie, so replies are matched to probes by (address, port) only.
#include <cstring>

#include "checksum.h"
#include "wire.h"

namespace prtip {

namespace {

size_t udp_build(const WireConfig& c, int family, const uint8_t* saddr, const uint8_t* daddr, uint16_t dport,
                 uint32_t, const uint8_t* payload, size_t payload_len, uint8_t* udp) {
  const size_t len = 8 + payload_len;
  put16(udp, c.source_port);
  put16(udp + 2, dport);
  put16(udp + 4, uint16_t(len));
  put16(udp + 6, 0);
  if (payload_len) memcpy(udp + 8, payload, payload_len);
  uint16_t sum = l4_checksum(family, 17, saddr, daddr, udp, len);
  if (sum == 0) sum = 0xffff;  // 0 means "no checksum" in UDP
  if (c.badsum) sum ^= 0x5555;
  put16(udp + 6, sum);
  return len;
}

bool udp_parse(const WireConfig&, const uint8_t* udp, size_t len, Reply& out) {
  if (len < 8) return false;
  const size_t ulen = get16(udp + 4);
  if (ulen < 8 || ulen > len) return false;
  out.kind = kReplyUdp;
  out.ip_proto = 17;
  out.peer_port = get16(udp);
  out.local_port = get16(udp + 2);
  out.payload = udp + 8;
  out.payload_len = uint16_t(ulen - 8);
  return true;
}

bool udp_parse_quoted(const uint8_t* udp, size_t len, Reply& out) {
  if (len < 8) return false;
  out.ip_proto = 17;
  out.local_port = get16(udp);
  out.peer_port = get16(udp + 2);
  return true;
}

std::string udp_bpf(const WireConfig& c) { return "udp dst port " + std::to_string(c.source_port); }

const char* udp_selftest() {
  WireConfig c;
  c.ip_proto = 17;
  c.source_port = 53000;
  const uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 18, 0, 2};
  const uint8_t data[5] = {'h', 'e', 'l', 'l', 'o'};
  uint8_t seg[64];
  if (udp_build(c, 4, s4, d4, 161, 0, data, 5, seg) != 13 || get16(seg + 4) != 13) return "length";
  if (l4_checksum(4, 17, s4, d4, seg, 13) != 0) return "checksum";
  if (memcmp(seg + 8, data, 5) != 0) return "payload";
  Reply r;
  uint8_t reply[12] = {0};
  put16(reply, 161); put16(reply + 2, 53000); put16(reply + 4, 12);
  if (!udp_parse(c, reply, 12, r) || r.peer_port != 161 || r.payload_len != 4) return "parse";
  put16(reply + 4, 40);
  Reply t;
  if (udp_parse(c, reply, 12, t)) return "a length beyond the packet";
  return nullptr;
}

}  // namespace

const L4Proto kUdpProto = {"udp", 17, udp_build, udp_parse, udp_parse_quoted, udp_bpf, udp_selftest};

}  // namespace prtip
