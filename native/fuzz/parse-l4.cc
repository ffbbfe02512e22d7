// libFuzzer target: each L4 protocol's own parsers (proto-tcp.cc, proto-udp.cc) on any bytes: a
// direct reply's L4 header (parse) and the first bytes of a probe quoted by an ICMP error
// (parse_quoted), without the IP layer in front deciding what reaches them.
#include <vector>

#include "fuzz-input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  prtip_fuzz::Input in{data, size};
  const prtip::WireConfig c = prtip_fuzz::config_from(in);
  const prtip::L4Proto* proto = prtip::l4_proto(c.ip_proto);
  if (proto == nullptr) return 0;
  std::vector<uint8_t> l4(in.p, in.p + in.n);
  prtip::Reply r;
  r.family = 4;
  r.kind = prtip::kReplyTcp;
  if (proto->parse(c, l4.data(), l4.size(), r)) prtip_fuzz::check_reply(r, l4.data(), l4.size());
  prtip::Reply q;
  q.family = 4;
  q.kind = prtip::kReplyIcmp;
  if (proto->parse_quoted(l4.data(), l4.size(), q)) prtip_fuzz::check_reply(q, l4.data(), l4.size());
  return 0;
}
