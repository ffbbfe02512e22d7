// The SYN engine's shared state: probe batches in flight (slots), the send queue, counters, and
// the packed replies waiting for JavaScript. The sender thread (send-thread.cc), the receiver
// thread (recv-thread.cc) and the JS-facing object (syn-engine.cc) meet only here.
#pragma once
#include <pcap/pcap.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "templ-tcp.h"

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

  size_t addr_len() const { return family == 4 ? 4 : 16; }
  uint16_t port(uint32_t i) const { return uint16_t((ports[2 * i] << 8) | ports[2 * i + 1]); }
  const uint8_t* mac(uint32_t i) const { return macs.empty() ? nullptr : macs.data() + size_t(i) * 6; }
};

struct SendJob {
  uint32_t slot;
  std::shared_ptr<InFlightBatch> batch;
  std::vector<uint32_t> entries;  // empty: every entry of the batch
  uint64_t seq;
};

// A reply as JS receives it: fixed-size little-endian structs packed in one Buffer.
//   0 f64 probe index   8 f64 time (ms since the epoch)   16 f32 rtt ms (-1: unknown)   20 u32 slot
//   24 addr[16]   40 u16 port   42 u16 window   44 u8 family   45 u8 kind (1 syn-ack, 2 rst, 3 icmp)
//   46 u8 ttl   47 u8 icmp type   48 u8 icmp code   49..55 padding
constexpr size_t kReplyRecordSize = 56;

struct EngineCounters {
  std::atomic<uint64_t> sent{0}, send_errors{0}, send_retries{0};
  std::atomic<uint64_t> first_send_ns{0}, last_send_ns{0};  // monotonic clock, for the achieved rate
  std::atomic<uint64_t> captured{0}, replies{0}, invalid{0}, duplicates{0}, foreign{0}, pcap_dropped{0};
};

struct EngineCore {
  SynTemplateConfig tmpl{};
  bool have4 = false, have6 = false;
  std::string ifname;
  int ifindex = 0;
  double rate = 0;
  int packet_fd = -1;
  pcap_t* pcap = nullptr;

  std::mutex mu;  // guards slots, free_slots and every batch's answered bitmap
  std::vector<std::shared_ptr<InFlightBatch>> slots = std::vector<std::shared_ptr<InFlightBatch>>(kMaxSlots);
  std::vector<uint32_t> free_slots;

  std::mutex qmu;  // guards queue and next_seq
  std::condition_variable qcv;
  std::deque<SendJob> queue;
  uint64_t next_seq = 0;
  std::atomic<uint64_t> sent_seq{0};
  std::atomic<uint64_t> queued_probes{0};

  std::atomic<bool> stopping{false};
  EngineCounters counters;
  std::string thread_error;  // set (under qmu) when a thread gave up

  // Replies waiting to be handed to JS (receiver thread only), and how to hand them.
  std::vector<uint8_t> out;
  std::function<void(std::vector<uint8_t>*)> deliver;
};

void run_sender(EngineCore& core);
void run_receiver(EngineCore& core);
// Realtime clock in µs, mod 2^32 (send stamps and pcap timestamps share it).
uint32_t realtime_us32();

}  // namespace prtip
