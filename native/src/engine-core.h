// The raw engine's shared state: probe batches in flight (slots), the send queue, counters, and
// the packed replies waiting for JavaScript. The sender thread (send-thread.cc), the receiver
// thread (recv-thread.cc) and the JS-facing object (raw-engine.cc) meet only here.
#pragma once
#include <pcap/pcap.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <array>
#include <unordered_map>

#include "wire.h"

namespace prtip {

// One probe batch as JS handed it over, kept until JS retires it. `answered` is the per-probe
// state the scan keeps: one bit per probe.
struct InFlightBatch {
  int family = 4;
  uint32_t count = 0;
  double start = 0;             // permutation index of entry 0
  std::vector<uint8_t> addrs;   // count × 4 or 16 bytes, network order
  std::vector<uint8_t> ports;   // count × 2 bytes, big-endian
  std::vector<uint8_t> macs;    // count × 6 bytes: each probe's next-hop MAC; empty: the template's
  std::vector<uint64_t> answered;
  uint32_t answered_count = 0;
  std::unique_ptr<std::atomic<uint32_t>[]> sent_us;  // last send time, µs of the realtime clock mod 2^32
  // Times each probe went on the wire (saturating): a reply to a probe sent more than once has no
  // RTT sample (Karn's rule: it may answer either send).
  std::unique_ptr<std::atomic<uint8_t>[]> tries;
  // 1 while the probe holds a place in the engine's congestion window (sent, not answered, not
  // timed out); exchanged atomically by the sender, the receiver and retire.
  std::unique_ptr<std::atomic<uint8_t>[]> in_window;
  // When the sender started and finished this batch's latest job (monotonic ns): how long a round
  // took on the wire, whatever time it spent queued behind other batches' jobs.
  std::atomic<uint64_t> job_start_ns{0}, job_end_ns{0};
  // Send jobs of this batch queued or being sent: a batch whose probes of a slow host wait in
  // that host's lane has finished its round only when this is 0 (sent_seq cannot say it: lanes
  // finish out of order).
  std::atomic<uint32_t> pending_jobs{0};
  // Entries below this index that the latest job (not a lane's) holds are on the wire: the
  // sender goes through a job's entries in order.
  std::atomic<uint32_t> sent_upto{0};

  size_t addr_len() const { return family == 4 ? 4 : 16; }
  uint16_t port(uint32_t i) const { return uint16_t((ports[2 * i] << 8) | ports[2 * i + 1]); }
  const uint8_t* mac(uint32_t i) const { return macs.empty() ? nullptr : macs.data() + size_t(i) * 6; }
};

struct SendJob {
  uint32_t slot;
  std::shared_ptr<InFlightBatch> batch;
  std::vector<uint32_t> entries;  // empty: every entry of the batch
  uint64_t seq;
  double pace = 0;                // probes per second for this job alone (ICMP rate limits); 0: the engine's rate
  // A host's lane (> 0): the job waits behind that host's earlier lane jobs and goes out at the
  // lane's pace, beside the other jobs instead of in front of them (per-host pacing: a slow host
  // is neither flooded nor holds the others up).
  uint32_t lane = 0;
};

constexpr size_t kReplyRecordSize = sizeof(ReplyRecord);

// (family, address, port) of a probe, for protocols whose replies carry no tag (UDP).
struct ProbeKey {
  std::array<uint8_t, 19> bytes{};
  bool operator==(const ProbeKey& o) const { return bytes == o.bytes; }
};
struct ProbeKeyHash {
  size_t operator()(const ProbeKey& k) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (uint8_t b : k.bytes) h = (h ^ b) * 1099511628211ull;
    return size_t(h);
  }
};
inline ProbeKey probe_key(int family, const uint8_t* addr, uint16_t port) {
  ProbeKey k;
  k.bytes[0] = uint8_t(family);
  memcpy(k.bytes.data() + 1, addr, family == 4 ? 4 : 16);
  k.bytes[17] = uint8_t(port >> 8);
  k.bytes[18] = uint8_t(port);
  return k;
}

// --packet-trace: copies of the frames sent and the packets captured, for JS to print in nmap's
// SENT/RCVD lines. Off unless asked (one atomic load per frame then); bounded: JS takes the bytes
// every few ms, and past kMaxBytes pending, frames are counted as dropped instead of kept.
// Record: u8 direction (0 sent, 1 received), u8 0, u16 stored length, u32 length on the wire,
// f64 realtime ms, then the stored bytes (the Ethernet frame, at most kMaxFrame of it).
struct TraceBuffer {
  static constexpr size_t kHeader = 16, kMaxFrame = 256, kMaxBytes = 4u << 20;
  std::atomic<bool> on{false};
  std::mutex mu;
  std::vector<uint8_t> bytes;
  uint64_t dropped = 0;
  // `ethertype`: the frame is a bare IP packet (a non-Ethernet link) of this type; it is stored
  // behind a zeroed Ethernet header, so every trace record reads the same way.
  void add(uint8_t dir, double time_ms, const uint8_t* frame, size_t len, uint16_t ethertype = 0) {
    const size_t head = ethertype ? 14 : 0;
    const size_t keep = std::min(len + head, kMaxFrame);
    std::lock_guard<std::mutex> lock(mu);
    if (bytes.size() + kHeader + keep > kMaxBytes) {
      dropped++;
      return;
    }
    const size_t at = bytes.size();
    bytes.resize(at + kHeader + keep);
    uint8_t* p = bytes.data() + at;
    const uint16_t k16 = uint16_t(keep);
    const uint32_t l32 = uint32_t(len + head);
    p[0] = dir;
    p[1] = 0;
    memcpy(p + 2, &k16, 2);
    memcpy(p + 4, &l32, 4);
    memcpy(p + 8, &time_ms, 8);
    if (head) {
      memset(p + kHeader, 0, 12);
      p[kHeader + 12] = uint8_t(ethertype >> 8);
      p[kHeader + 13] = uint8_t(ethertype);
    }
    memcpy(p + kHeader + head, frame, keep - head);
  }
};

struct EngineCounters {
  std::atomic<uint64_t> sent{0}, send_errors{0}, send_retries{0};
  std::atomic<uint64_t> first_send_ns{0}, last_send_ns{0};  // monotonic clock, for the achieved rate
  std::atomic<uint64_t> captured{0}, replies{0}, invalid{0}, duplicates{0}, foreign{0}, pcap_dropped{0}, if_dropped{0}, rst_replies{0};
  // Sends the window held back (the congestion window was full), and probes sent early because
  // --min-rate would have been missed.
  std::atomic<uint64_t> window_waits{0}, min_rate_sends{0};
  // Frames sent by host lanes (their hosts have their own pace: the group's share leaves them out).
  std::atomic<uint64_t> lane_sent{0};
  // errno of the latest send error (0: none): ENETDOWN/ENODEV/ENXIO say the link itself went away.
  std::atomic<int> last_send_errno{0};
};

struct EngineCore {
  WireConfig wire;
  const L4Proto* proto = nullptr;
  bool have4 = false, have6 = false;
  std::string ifname;
  int ifindex = 0;
  double rate = 0;
  // The pace the scan's congestion control chose (probes/s, 0: none), changed while running
  // (setRate); the sender re-reads it before every chunk.
  std::atomic<double> live_rate{0};
  // Congestion window: most probes sent and still waiting for an answer (0: no limit), and how
  // many are (answered or expired ones leave it). --min-rate sends past a full window.
  std::atomic<uint32_t> window{0};
  std::atomic<int64_t> outstanding{0};
  // A probe unanswered this long leaves the window (JS sets it to the scan's probe timeout).
  std::atomic<uint64_t> window_timeout_ns{1000000000ull};
  double min_rate = 0;
  int packet_fd = -1;
  pcap_t* pcap = nullptr;
  // The link: Ethernet frames (SOCK_RAW) or bare IP packets (SOCK_DGRAM: tun, ppp, tunnels), and
  // the capture's datalink type (where a captured packet's IP header starts).
  bool ip_link = false;
  int dlt = DLT_EN10MB;

  std::mutex mu;  // guards slots, free_slots and every batch's answered bitmap
  std::vector<std::shared_ptr<InFlightBatch>> slots = std::vector<std::shared_ptr<InFlightBatch>>(kMaxSlots);
  std::vector<uint32_t> free_slots;
  // Probes in flight by (family, address, port), when the protocol carries no tag (UDP).
  bool by_key = false;
  std::unordered_map<ProbeKey, uint32_t, ProbeKeyHash> tag_of;

  std::mutex qmu;  // guards queue and next_seq
  std::condition_variable qcv;
  std::deque<SendJob> queue;
  uint64_t next_seq = 0;
  std::atomic<uint64_t> sent_seq{0};
  std::atomic<uint64_t> queued_probes{0};
  // Jobs for host lanes (guarded by qmu), and lanes' new paces (lane → probes/s): the sender takes both.
  std::deque<SendJob> lane_queue;
  std::vector<std::pair<uint32_t, double>> lane_paces;

  std::atomic<bool> stopping{false};
  EngineCounters counters;
  TraceBuffer trace;
  std::string thread_error;  // set (under qmu) when a thread gave up

  // Replies waiting to be handed to JS (receiver thread only), and how to hand them.
  std::vector<uint8_t> out;
  std::function<void(std::vector<uint8_t>*)> deliver;

  // Drain barriers (RawEngine.barrier): JS asks, the receiver answers with a marker delivered
  // behind every reply it parsed before — with `ring`, only once every packet captured before the
  // request has been parsed (TPACKET_V3 hands over a block up to kRingLatencyNs late).
  struct Barrier {
    uint64_t id;
    bool ring;
    uint64_t at_ns;       // monotonic, when asked
    uint64_t at_us;       // realtime µs (the capture's clock), when asked
  };
  static constexpr uint64_t kRingLatencyNs = 25000000ull;
  std::mutex bmu;  // guards barriers, next_barrier
  std::deque<Barrier> barriers;
  uint64_t next_barrier = 0;
  // Realtime µs of the latest packet captured (receiver thread only): packets come in order, so
  // one stamped after a barrier's request means every packet before it has been seen.
  uint64_t last_capture_us = 0;
  std::function<void(uint64_t)> deliver_barrier;
};

// Frees a probe's place in the congestion window, if it holds one (answer, timeout, retire).
inline void leave_window(EngineCore& core, InFlightBatch& b, uint32_t i) {
  if (b.in_window && b.in_window[i].exchange(0, std::memory_order_relaxed)) core.outstanding.fetch_sub(1, std::memory_order_relaxed);
}

void run_sender(EngineCore& core);
void run_receiver(EngineCore& core);
// Realtime clock in µs, mod 2^32 (send stamps and pcap timestamps share it).
uint32_t realtime_us32();
// Realtime clock in ms (the packet trace's stamps, like pcap's).
double realtime_ms();

}  // namespace prtip
