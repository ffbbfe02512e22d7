// libFuzzer target: build_probe_frames (wire-ip.cc + the L4 builders) with random options inside
// the limits JS enforces (stages/probes/evasion.ts): IPv4 options (≤ 40 bytes, multiple of 4),
// fragments (multiple of 8), decoys (≤ 128), payloads (≤ kMaxPayload), TCP options (≤ 40), any
// flags. Every frame must fit kMaxFrame, and parsing it back must not misbehave.
#include <vector>

#include "fuzz-input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  prtip_fuzz::Input in{data, size};
  prtip::WireConfig c = prtip_fuzz::config_from(in);
  const int family = (in.byte() & 1) && c.have6 ? 6 : c.have4 ? 4 : 6;
  c.ttl = in.byte();
  c.tcp_window = in.u16();
  c.badsum = (in.byte() & 1) != 0;
  c.tcp_options.resize(in.byte() % 41);
  in.take(c.tcp_options.data(), c.tcp_options.size());
  if (family == 4) {
    c.ip_options.resize((in.byte() % 11) * 4);
    in.take(c.ip_options.data(), c.ip_options.size());
    c.fragment = uint16_t((in.byte() % 32) * 8);
    const size_t decoys = in.byte() % 9;
    for (size_t i = 0; i < decoys; i++) {
      std::array<uint8_t, 4> a{};
      in.take(a.data(), 4);
      c.decoys4.push_back(a);
    }
  } else {
    const size_t decoys = in.byte() % 5;
    for (size_t i = 0; i < decoys; i++) {
      std::array<uint8_t, 16> a{};
      in.take(a.data(), 16);
      c.decoys6.push_back(a);
    }
  }
  const size_t payload = in.u16() % (prtip::kMaxPayload + 1);
  c.payload.resize(payload);
  in.take(c.payload.data(), payload);
  uint8_t daddr[16];
  in.take(daddr, 16);
  const uint16_t dport = in.u16();
  const uint32_t tag = (uint32_t(in.u16()) << 16) | in.u16();
  prtip::FrameSink sink;
  const size_t n = prtip::build_probe_frames(c, family, daddr, dport, tag, sink);
  if (n != sink.count() || n > prtip::kMaxFramesPerProbe) abort();
  for (size_t k = 0; k < n; k++) {
    if (sink.lengths[k] > prtip::kMaxFrame || sink.lengths[k] < 14) abort();
    std::vector<uint8_t> frame(sink.bytes.data() + sink.offsets[k], sink.bytes.data() + sink.offsets[k] + sink.lengths[k]);
    prtip::Reply r;
    if (prtip::parse_frame(c, frame.data(), frame.size(), r)) prtip_fuzz::check_reply(r, frame.data(), frame.size());
  }
  return 0;
}
