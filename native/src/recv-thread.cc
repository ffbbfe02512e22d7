// The receiver thread: libpcap on the scan's interface (immediate mode, BPF filter for replies to
// our address), parsing in place, cookie validation against the probes in flight, duplicate
// suppression through the answered bitmap, and batched hand-off of packed replies to JS.
#include <poll.h>

#include <algorithm>
#include <cstring>

#include "engine-core.h"
#include "rate-limit.h"

namespace prtip {

static void put_reply(std::vector<uint8_t>& out, double index, double time_ms, float rtt_ms, uint32_t slot,
                      uint8_t tries, const Reply& r) {
  const size_t at = out.size();
  out.resize(at + kReplyRecordSize, 0);
  ReplyRecord rec{};
  const size_t alen = r.family == 4 ? 4 : 16;
  rec.index = index;
  rec.time_ms = time_ms;
  rec.rtt_ms = rtt_ms;
  rec.slot = slot;
  rec.tries = tries;
  memcpy(rec.addr, r.peer, alen);
  memcpy(rec.from, r.from, alen);
  rec.seq = r.seq;
  rec.ack = r.ack;
  rec.port = r.peer_port;
  rec.window = r.window;
  rec.ip_id = r.ip_id;
  rec.payload_len = r.payload_len;
  rec.quoted_len = r.quoted_len;
  rec.family = uint8_t(r.family);
  rec.kind = r.kind;
  rec.ttl = r.ttl;
  rec.tcp_flags = r.tcp_flags;
  rec.icmp_type = r.icmp_type;
  rec.icmp_code = r.icmp_code;
  rec.tcp_options_len = uint8_t(std::min<size_t>(r.tcp_options_len, sizeof rec.tcp_options));
  if (rec.tcp_options_len) memcpy(rec.tcp_options, r.tcp_options, rec.tcp_options_len);
  rec.payload_head_len = uint8_t(std::min<size_t>(r.payload_len, sizeof rec.payload_head));
  if (rec.payload_head_len) memcpy(rec.payload_head, r.payload, rec.payload_head_len);
  rec.sctp_chunk = r.sctp_chunk;
  rec.ip_proto = r.ip_proto;
  memcpy(out.data() + at, &rec, sizeof rec);
}

static void on_packet(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  EngineCore& core = *reinterpret_cast<EngineCore*>(user);
  core.counters.captured++;
  core.last_capture_us = uint64_t(h->ts.tv_sec) * 1000000ull + uint64_t(h->ts.tv_usec);
  if (core.trace.on.load(std::memory_order_relaxed)) {
    const double ms = double(h->ts.tv_sec) * 1000.0 + double(h->ts.tv_usec) / 1000.0;
    size_t off = 0;
    uint16_t type = 0;
    if (core.dlt == DLT_EN10MB) core.trace.add(1, ms, bytes, h->caplen);
    else if (link_payload(core.dlt, bytes, h->caplen, off, type)) core.trace.add(1, ms, bytes + off, h->caplen - off, type);
  }
  Reply r;
  if (!parse_link_frame(core.wire, core.dlt, bytes, h->caplen, r)) {
    core.counters.foreign++;
    return;
  }
  const bool ours = r.local_port == core.wire.source_port &&
                    ((r.family == 4 && core.have4 && memcmp(r.local, core.wire.src4, 4) == 0) ||
                     (r.family == 6 && core.have6 && memcmp(r.local, core.wire.src6, 16) == 0));
  if (!ours) {
    core.counters.foreign++;
    return;
  }
  double index, rtt_ms = -1;
  uint32_t slot, i;
  uint8_t tries = 0;
  {
    std::lock_guard<std::mutex> lock(core.mu);
    uint32_t tag;
    const size_t alen = r.family == 4 ? 4 : 16;
    auto names_probe = [&](uint32_t t) {
      const InFlightBatch* b = core.slots[t >> kTagEntryBits].get();
      const uint32_t e = t & kTagEntryMask;
      return b != nullptr && b->family == r.family && e < b->count && b->port(e) == r.peer_port &&
             memcmp(b->addrs.data() + size_t(e) * alen, r.peer, alen) == 0;
    };
    if (r.has_tag_value) {
      const uint32_t cookie = probe_cookie(core.wire.key, r.family, r.local, r.peer, r.local_port, r.peer_port);
      tag = r.tag_value - cookie;
      if (r.has_alt_tag_value && !names_probe(tag)) tag = r.alt_tag_value - cookie;
    } else {
      auto it = core.tag_of.find(probe_key(r.family, r.peer, r.peer_port));
      if (it == core.tag_of.end()) {
        core.counters.invalid++;
        return;
      }
      tag = it->second;
    }
    slot = tag >> kTagEntryBits;
    i = tag & kTagEntryMask;
    const InFlightBatch* b = core.slots[slot].get();
    if (!names_probe(tag)) {
      core.counters.invalid++;  // not a reply to a probe in flight: forged, stray or late
      return;
    }
    uint64_t& word = core.slots[slot]->answered[i / 64];
    const uint64_t bit = 1ull << (i % 64);
    if (word & bit) {
      core.counters.duplicates++;
      return;
    }
    word |= bit;
    InFlightBatch& hit = *core.slots[slot];
    hit.answered_count++;
    leave_window(core, hit, i);
    index = b->start + double(i);
    tries = hit.tries[i].load(std::memory_order_relaxed);
    const uint32_t sent = b->sent_us[i].load(std::memory_order_relaxed);
    const uint32_t now = uint32_t(uint64_t(h->ts.tv_sec) * 1000000ull + uint64_t(h->ts.tv_usec));
    // Signed: a reply to the first send captured just after a resend re-stamped the probe comes
    // out negative (no RTT), not as a 4.29-million-ms wrap.
    const int32_t delta = int32_t(now - sent);
    if (sent != 0 && delta >= 0) rtt_ms = double(delta) / 1000.0;
  }
  core.counters.replies++;
  if (r.kind == kReplyTcp && (r.tcp_flags & 0x04)) core.counters.rst_replies++;
  const double time_ms = double(h->ts.tv_sec) * 1000.0 + double(h->ts.tv_usec) / 1000.0;
  put_reply(core.out, index, time_ms, float(rtt_ms), slot, tries, r);
}

static void flush(EngineCore& core) {
  if (core.out.empty()) return;
  auto* batch = new std::vector<uint8_t>(std::move(core.out));
  core.out = std::vector<uint8_t>();
  core.out.reserve(256 * kReplyRecordSize);
  core.deliver(batch);
}

// Answers the barriers that are due, oldest first (answers go out in order): a plain one at once,
// a ring one once the capture is known to hold nothing from before its request — a later packet
// was seen, or a whole drain ran after the ring's hand-over latency. `all`: answer every one (the
// receiver is ending: nothing more will come).
static void answer_barriers(EngineCore& core, uint64_t drain_started_ns, bool all) {
  for (;;) {
    EngineCore::Barrier b;
    {
      std::lock_guard<std::mutex> lock(core.bmu);
      if (core.barriers.empty()) return;
      b = core.barriers.front();
      const bool due = all || !b.ring || core.last_capture_us > b.at_us || drain_started_ns >= b.at_ns + EngineCore::kRingLatencyNs;
      if (!due) return;
      core.barriers.pop_front();
    }
    flush(core);
    core.deliver_barrier(b.id);
  }
}

void run_receiver(EngineCore& core) {
  const int fd = pcap_get_selectable_fd(core.pcap);
  uint64_t last_flush = monotonic_ns();
  core.out.reserve(256 * kReplyRecordSize);
  auto drain = [&]() {
    for (;;) {
      const int n = pcap_dispatch(core.pcap, 512, on_packet, reinterpret_cast<u_char*>(&core));
      if (n <= 0) return n;
      if (core.out.size() >= 512 * kReplyRecordSize) {
        flush(core);
        last_flush = monotonic_ns();
      }
    }
  };
  uint64_t last_stats = monotonic_ns();
  // A capture reserved before a privilege drop may have served an engine before: count from here.
  pcap_stat base{};
  pcap_stats(core.pcap, &base);
  auto read_drops = [&]() {
    pcap_stat st{};
    if (pcap_stats(core.pcap, &st) == 0) {
      core.counters.pcap_dropped = st.ps_drop - base.ps_drop;
      core.counters.if_dropped = st.ps_ifdrop - base.ps_ifdrop;
    }
  };
  while (!core.stopping.load()) {
    // Drops are read as the scan runs (not only at its end), so the live counters show them.
    if (monotonic_ns() - last_stats > 250000000ull) {
      read_drops();
      last_stats = monotonic_ns();
    }
    pollfd pfd{fd, POLLIN, 0};
    poll(&pfd, 1, 5);
    const uint64_t drain_started = monotonic_ns();
    const int n = drain();
    if (n < 0 && n != PCAP_ERROR_BREAK) {
      std::lock_guard<std::mutex> lock(core.qmu);
      core.thread_error = std::string("pcap: ") + pcap_geterr(core.pcap);
      break;
    }
    // Hand replies over at least every 2 ms, and in batches of up to 512.
    if (!core.out.empty() && monotonic_ns() - last_flush > 2000000ull) {
      flush(core);
      last_flush = monotonic_ns();
    }
    answer_barriers(core, drain_started, false);
  }
  drain();
  read_drops();
  flush(core);
  answer_barriers(core, monotonic_ns(), true);
}

}  // namespace prtip
