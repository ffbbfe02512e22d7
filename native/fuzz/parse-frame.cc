// libFuzzer target: parse_frame / parse_link_frame (native/src/wire-ip.cc) on any captured frame
// (Ethernet, and the same bytes under the non-Ethernet datalinks), for any
// scan configuration: Ethernet/802.1Q, IPv4 with options and fragments, IPv6, TCP and UDP replies,
// ICMP/ICMPv6 errors quoting probes (the quote parsers of proto-tcp.cc and proto-udp.cc).
// Random bytes rarely get past the Ethernet and IP checks, so the first input byte picks a mode:
// the bytes as they are, or a real probe (build_probe_frames) turned into a reply or quoted in an
// ICMP error, then mutated by the rest of the input (so the deep paths see near-valid packets).
#include <pcap/dlt.h>

#include <vector>

#include "fuzz-input.h"

namespace {

void swap_bytes(uint8_t* a, uint8_t* b, size_t n) {
  for (size_t i = 0; i < n; i++) std::swap(a[i], b[i]);
}

// A probe of `c` to a fuzz-chosen address and port (its first frame), or empty.
std::vector<uint8_t> probe_frame(const prtip::WireConfig& c, int family, prtip_fuzz::Input& in) {
  uint8_t daddr[16];
  in.take(daddr, 16);
  const uint16_t dport = in.u16();
  prtip::FrameSink sink;
  if (prtip::build_probe_frames(c, family, daddr, dport, in.u16(), sink) == 0) return {};
  return std::vector<uint8_t>(sink.bytes.data(), sink.bytes.data() + sink.lengths[0]);
}

// The probe as its target's answer: addresses and ports swapped, TCP flags from the input.
void as_reply(std::vector<uint8_t>& f, int family, prtip_fuzz::Input& in) {
  uint8_t* ip = f.data() + 14;
  const size_t ihl = family == 4 ? size_t(ip[0] & 0x0f) * 4 : 40;
  if (f.size() < 14 + ihl + 14) return;
  if (family == 4) swap_bytes(ip + 12, ip + 16, 4);
  else swap_bytes(ip + 8, ip + 24, 16);
  swap_bytes(ip + ihl, ip + ihl + 2, 2);
  if (f.size() >= 14 + ihl + 14) ip[ihl + 13] = in.byte();
}

// An ICMP(v6) error from the target quoting the probe (as much of it as the input says).
std::vector<uint8_t> as_icmp_error(const std::vector<uint8_t>& probe, int family, prtip_fuzz::Input& in) {
  std::vector<uint8_t> f(probe.begin(), probe.begin() + 14);
  const uint8_t* pip = probe.data() + 14;
  const size_t quoted = std::min<size_t>(probe.size() - 14, in.byte());
  if (family == 4) {
    uint8_t ip[20] = {0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1};
    prtip::put16(ip + 2, uint16_t(20 + 8 + quoted));
    memcpy(ip + 12, pip + 16, 4);  // from the target
    memcpy(ip + 16, pip + 12, 4);  // to us
    f.insert(f.end(), ip, ip + 20);
  } else {
    f[12] = 0x86;
    f[13] = 0xdd;
    uint8_t ip[40] = {0x60};
    prtip::put16(ip + 4, uint16_t(8 + quoted));
    ip[6] = 58;
    ip[7] = 64;
    memcpy(ip + 8, pip + 24, 16);
    memcpy(ip + 24, pip + 8, 16);
    f.insert(f.end(), ip, ip + 40);
  }
  const uint8_t icmp[8] = {in.byte(), in.byte(), 0, 0, 0, 0, 0, 0};
  f.insert(f.end(), icmp, icmp + 8);
  f.insert(f.end(), pip, pip + quoted);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  prtip_fuzz::Input in{data, size};
  const uint8_t mode = in.byte() % 3;
  const prtip::WireConfig c = prtip_fuzz::config_from(in);
  std::vector<uint8_t> frame;
  if (mode == 0) {
    frame.assign(in.p, in.p + in.n);
  } else {
    const int family = (in.byte() & 1) && c.have6 ? 6 : c.have4 ? 4 : 6;
    frame = probe_frame(c, family, in);
    if (frame.size() < 14 + 40) return 0;
    if (mode == 1) as_reply(frame, family, in);
    else frame = as_icmp_error(frame, family, in);
    // The rest of the input: (position, xor) mutations, then a new length.
    while (in.n >= 3 && !frame.empty()) {
      const size_t at = in.u16() % frame.size();
      frame[at] ^= in.byte();
    }
    if (in.n > 0 && !frame.empty()) frame.resize(size_t(in.byte()) * frame.size() / 255);
  }
  // The frame on its own heap block of exactly its size: a read past it is an ASan report.
  std::vector<uint8_t> exact(frame.begin(), frame.end());
  prtip::Reply r;
  if (prtip::parse_frame(c, exact.data(), exact.size(), r)) prtip_fuzz::check_reply(r, exact.data(), exact.size());
  // The same bytes as captured on non-Ethernet links (tun, cooked, BSD loopback), and the IP packet
  // alone as a tun delivers it, each on an exact heap block.
  for (const int dlt : {DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP}) {
    prtip::Reply q;
    if (prtip::parse_link_frame(c, dlt, exact.data(), exact.size(), q)) prtip_fuzz::check_reply(q, exact.data(), exact.size());
  }
  if (exact.size() > 14) {
    std::vector<uint8_t> ip(exact.begin() + 14, exact.end());
    prtip::Reply q;
    if (prtip::parse_link_frame(c, DLT_RAW, ip.data(), ip.size(), q)) prtip_fuzz::check_reply(q, ip.data(), ip.size());
  }
  return 0;
}
