// libFuzzer target: parse_frame (native/src/wire-ip.cc) on any captured Ethernet frame, for any
// scan configuration: Ethernet/802.1Q, IPv4 with options and fragments, IPv6, TCP and UDP replies,
// ICMP/ICMPv6 errors quoting probes (the quote parsers of proto-tcp.cc and proto-udp.cc).
#include <vector>

#include "fuzz-input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  prtip_fuzz::Input in{data, size};
  const prtip::WireConfig c = prtip_fuzz::config_from(in);
  // The frame on its own heap block of exactly its size: a read past it is an ASan report.
  std::vector<uint8_t> frame(in.p, in.p + in.n);
  prtip::Reply r;
  if (prtip::parse_frame(c, frame.data(), frame.size(), r)) prtip_fuzz::check_reply(r, frame.data(), frame.size());
  return 0;
}
