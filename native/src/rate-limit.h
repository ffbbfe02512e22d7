// TokenBucket: holds the sender to a rate in packets per second, with adaptive batching: the
// batch (packets per sendmmsg) grows with the rate so that wake-ups stay near 2000/s, and tokens
// accrue from the clock, so oversleeping by a timer's slack is paid back in the next batch
// instead of lowering the rate.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>

namespace prtip {

inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

class TokenBucket {
 public:
  static constexpr size_t kMaxBatch = 256;

  // rate <= 0: unlimited.
  explicit TokenBucket(double rate) {
    set_rate(rate);
    tokens_ = double(batch_);
    last_ = monotonic_ns();
  }

  // A new rate (congestion control changes it while the scan runs); credit above the new burst is dropped.
  void set_rate(double rate) {
    rate_ = rate;
    batch_ = rate_ <= 0 ? kMaxBatch : std::clamp<size_t>(size_t(rate_ / 2000.0), 1, kMaxBatch);
    // Up to 10 ms of credit (never less than one batch): enough to absorb a late wake-up,
    // too little to show as a burst on the wire.
    burst_ = std::max<double>(double(batch_), rate_ * 0.01);
    tokens_ = std::min(tokens_, burst_);
  }

  double rate() const { return rate_; }
  size_t batch_size() const { return batch_; }

  // Waits until n tokens are there and takes them; returns false when `stop` was raised meanwhile.
  bool acquire(size_t n, const std::atomic<bool>& stop) {
    if (rate_ <= 0) return !stop.load(std::memory_order_relaxed);
    for (;;) {
      refill();
      if (tokens_ >= double(n)) {
        tokens_ -= double(n);
        return true;
      }
      if (stop.load(std::memory_order_relaxed)) return false;
      const double wait_s = (double(n) - tokens_) / rate_;
      const uint64_t ns = uint64_t(std::min(wait_s, 0.05) * 1e9);
      timespec ts{time_t(ns / 1000000000ull), long(ns % 1000000000ull)};
      nanosleep(&ts, nullptr);
    }
  }

 private:
  void refill() {
    const uint64_t now = monotonic_ns();
    tokens_ = std::min(burst_, tokens_ + double(now - last_) * 1e-9 * rate_);
    last_ = now;
  }

  double rate_ = 0;
  size_t batch_ = kMaxBatch;
  double burst_ = 0;
  double tokens_ = 0;
  uint64_t last_ = 0;
};

}  // namespace prtip
