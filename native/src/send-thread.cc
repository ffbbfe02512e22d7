// The sender thread: takes probe batches off the queue, builds each probe's frames (wire.h: one
// or several per probe: payloads, decoys, fragments), and transmits them in sendmmsg batches on an AF_PACKET socket (PACKET_QDISC_BYPASS: the frames go
// straight to the driver), paced by the token bucket.
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "engine-core.h"
#include "rate-limit.h"

namespace prtip {

uint32_t realtime_us32() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint32_t(uint64_t(ts.tv_sec) * 1000000ull + uint64_t(ts.tv_nsec) / 1000ull);
}

double realtime_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return double(ts.tv_sec) * 1000.0 + double(ts.tv_nsec) / 1e6;
}

// Sends every message, retrying the rest after a partial send or a full device queue: a probe
// the scan believes sent must be on the wire.
static void send_all(EngineCore& core, mmsghdr* msgs, unsigned n) {
  unsigned done = 0;
  int backoff_us = 20;
  while (done < n) {
    const int r = sendmmsg(core.packet_fd, msgs + done, n - done, 0);
    if (r > 0) {
      done += unsigned(r);
      backoff_us = 20;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EBUSY)) {
      core.counters.send_retries++;
      timespec ts{0, long(backoff_us) * 1000};
      nanosleep(&ts, nullptr);
      backoff_us = backoff_us < 2000 ? backoff_us * 2 : 2000;
      if (core.stopping.load()) return;
      continue;
    }
    // Anything else (the link went away, …): count it and drop this message.
    core.counters.send_errors++;
    core.counters.last_send_errno.store(errno);
    done++;
  }
}

// Probes holding a place in the congestion window, oldest first (only while a window is set).
struct WindowEntry {
  std::shared_ptr<InFlightBatch> batch;
  uint32_t i;
  uint32_t stamp;  // the send's sent_us: a later resend of the probe has its own entry
  uint64_t at_ns;
};

// Unanswered probes older than the timeout leave the window (they count as lost, not as waiting).
static void age_window(EngineCore& core, std::deque<WindowEntry>& win) {
  const uint64_t now = monotonic_ns(), timeout = core.window_timeout_ns.load(std::memory_order_relaxed);
  while (!win.empty()) {
    WindowEntry& e = win.front();
    const bool held = e.batch->in_window[e.i].load(std::memory_order_relaxed) != 0;
    if (held && now - e.at_ns < timeout) break;
    if (held && e.batch->sent_us[e.i].load(std::memory_order_relaxed) == e.stamp) leave_window(core, *e.batch, e.i);
    win.pop_front();
  }
}

// Waits until the congestion window has room for one more probe, and returns how many it has room
// for (up to `want`). --min-rate sends one probe past a full window whenever the floor would
// otherwise be missed. Returns 0 when the engine is stopping.
static size_t window_room(EngineCore& core, std::deque<WindowEntry>& win, size_t want, uint64_t& last_send_ns) {
  bool waited = false;
  for (;;) {
    if (core.stopping.load(std::memory_order_relaxed)) return 0;
    const uint32_t w = core.window.load(std::memory_order_relaxed);
    if (w == 0) return want;
    age_window(core, win);
    const int64_t out = core.outstanding.load(std::memory_order_relaxed);
    if (out < int64_t(w)) return std::min<size_t>(want, size_t(int64_t(w) - out));
    const uint64_t now = monotonic_ns();
    if (core.min_rate > 0 && last_send_ns != 0 && double(now - last_send_ns) >= 1e9 / core.min_rate) {
      core.counters.min_rate_sends++;
      return 1;
    }
    if (!waited) core.counters.window_waits++;
    waited = true;
    // Answers (receiver thread) and timeouts open the window; poll at 100 µs.
    timespec ts{0, 100000};
    nanosleep(&ts, nullptr);
  }
}

// One host lane's state in the sender: its jobs in order, how far the front one got, and when its
// next probe is due (monotonic ns).
struct Lane {
  std::deque<SendJob> jobs;
  size_t k = 0;
  uint64_t due = 0;
};

void run_sender(EngineCore& core) {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // µs-accurate sleeps for the pacing
  TokenBucket bucket(core.live_rate.load() > 0 ? core.live_rate.load() : core.rate);
  FrameSink sink;
  sink.bytes.reserve(TokenBucket::kMaxBatch * 128);
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;
  std::vector<uint32_t> idx(TokenBucket::kMaxBatch);
  uint64_t last_send_ns = 0;
  std::deque<WindowEntry> win;
  std::unordered_map<uint32_t, Lane> lanes;
  std::unordered_map<uint32_t, double> lane_pace;
  sockaddr_ll dest[2];
  for (int k = 0; k < 2; k++) {
    memset(&dest[k], 0, sizeof dest[k]);
    dest[k].sll_family = AF_PACKET;
    dest[k].sll_ifindex = core.ifindex;
    dest[k].sll_protocol = htons(k == 0 ? ETH_P_IP : ETH_P_IPV6);
    dest[k].sll_halen = core.ip_link ? 0 : 6;
  }
  // On an IP link (SOCK_DGRAM) the frames' Ethernet header stays behind: the IP packet goes.
  const size_t skip = core.ip_link ? 14 : 0;

  // Sends entries k … k+m−1 of a job (their frames in sendmmsg batches, paced by the global
  // bucket: lane probes count against it too). Returns the frames sent, or -1 when stopping.
  auto send_entries = [&](SendJob& job, size_t k, size_t m) -> long {
    InFlightBatch& b = *job.batch;
    const size_t alen = b.addr_len();
    // SOCK_RAW: the frame's own Ethernet header decides where it goes (per probe when the batch
    // carries MACs); sll_addr only names the template's next hop.
    sockaddr_ll* to = &dest[b.family == 4 ? 0 : 1];
    if (!core.ip_link) memcpy(to->sll_addr, b.family == 4 ? core.wire.dst_mac4 : core.wire.dst_mac6, 6);
    const size_t batch_max = bucket.batch_size();
    sink.clear();
    for (size_t j = 0; j < m; j++) {
      const uint32_t i = job.entries.empty() ? uint32_t(k + j) : job.entries[k + j];
      idx[j] = i;
      build_probe_frames(core.wire, b.family, b.addrs.data() + size_t(i) * alen, b.port(i),
                         (job.slot << kTagEntryBits) | i, sink, b.mac(i));
    }
    const size_t nf = sink.count();
    iov.resize(nf);
    msgs.resize(nf);
    for (size_t q = 0; q < nf; q++) {
      iov[q].iov_base = sink.bytes.data() + sink.offsets[q] + skip;
      iov[q].iov_len = sink.lengths[q] - skip;
      memset(&msgs[q], 0, sizeof msgs[q]);
      msgs[q].msg_hdr.msg_iov = &iov[q];
      msgs[q].msg_hdr.msg_iovlen = 1;
      msgs[q].msg_hdr.msg_name = to;
      msgs[q].msg_hdr.msg_namelen = sizeof *to;
    }
    for (size_t q = 0; q < nf; q += batch_max) {
      const size_t chunk = std::min(batch_max, nf - q);
      if (!bucket.acquire(chunk, core.stopping)) return -1;
      if (q == 0) {
        // Stamped (and counted into the window) before the frames leave, so that no reply can
        // be captured ahead of its probe's stamp.
        const uint32_t stamp = realtime_us32();
        const bool windowed = core.window.load(std::memory_order_relaxed) != 0;
        const uint64_t at = windowed ? monotonic_ns() : 0;
        for (size_t j = 0; j < m; j++) {
          const uint32_t i = idx[j];
          b.sent_us[i].store(stamp, std::memory_order_relaxed);
          const uint8_t t = b.tries[i].load(std::memory_order_relaxed);
          if (t < 255) b.tries[i].store(uint8_t(t + 1), std::memory_order_relaxed);
          if (windowed) {
            if (!b.in_window[i].exchange(1, std::memory_order_relaxed)) core.outstanding.fetch_add(1, std::memory_order_relaxed);
            win.push_back(WindowEntry{job.batch, i, stamp, at});
          }
        }
      }
      if (core.counters.first_send_ns.load(std::memory_order_relaxed) == 0) core.counters.first_send_ns = monotonic_ns();
      send_all(core, msgs.data() + q, unsigned(chunk));
      if (core.trace.on.load(std::memory_order_relaxed)) {
        const double ms = realtime_ms();
        for (size_t c = q; c < q + chunk; c++) core.trace.add(0, ms, static_cast<const uint8_t*>(iov[c].iov_base) - skip, iov[c].iov_len + skip);
      }
      last_send_ns = monotonic_ns();
      core.counters.last_send_ns = last_send_ns;
      core.counters.sent += chunk;
    }
    return long(nf);
  };

  // Moves new lane jobs and lane paces into the sender's own tables (caller holds qmu).
  auto take_lanes = [&] {
    for (SendJob& j : core.lane_queue) {
      lane_pace[j.lane] = j.pace;
      lanes[j.lane].jobs.push_back(std::move(j));
    }
    core.lane_queue.clear();
    for (const auto& [lane, pps] : core.lane_paces) lane_pace[lane] = pps;
    core.lane_paces.clear();
  };

  // Sends what every lane has due now (each lane at its own pace, beside the other jobs). Returns
  // ns until the next lane probe is due (UINT64_MAX: no lane has work), or 0 after a stop.
  bool quit = false;
  auto serve_lanes = [&]() -> uint64_t {
    uint64_t next = UINT64_MAX;
    for (auto it = lanes.begin(); it != lanes.end();) {
      Lane& l = it->second;
      if (l.jobs.empty()) {
        it = lanes.erase(it);
        continue;
      }
      SendJob& j = l.jobs.front();
      const double pace = std::max(lane_pace[it->first], 0.001);
      const uint64_t gap = uint64_t(1e9 / pace);
      const uint64_t now = monotonic_ns();
      if (l.due == 0) l.due = now;
      // A lane held up (a long sendmmsg, a busy machine) does not burst to catch up.
      if (now > l.due + 5000000ull + gap) l.due = now;
      if (l.k == 0) j.batch->job_start_ns = now;
      if (now >= l.due) {
        const size_t total = j.entries.size();
        const size_t n = std::min<size_t>({total - l.k, size_t((now - l.due) / gap) + 1, 64});
        const long nf = send_entries(j, l.k, n);
        if (nf < 0) {
          quit = true;
          return 0;
        }
        core.counters.lane_sent += uint64_t(nf);
        l.k += n;
        l.due += gap * n;
        if (l.k == total) {
          j.batch->job_end_ns = monotonic_ns();
          core.queued_probes -= total;
          j.batch->pending_jobs.fetch_sub(1);
          l.jobs.pop_front();
          l.k = 0;
        }
      }
      if (!l.jobs.empty()) {
        const uint64_t t = monotonic_ns();
        next = std::min(next, l.due > t ? l.due - t : 0);
      }
      ++it;
    }
    return next;
  };

  for (;;) {
    SendJob job;
    {
      std::unique_lock<std::mutex> lock(core.qmu);
      auto ready = [&] { return core.stopping.load() || !core.queue.empty() || !core.lane_queue.empty() || !core.lane_paces.empty(); };
      for (;;) {
        if (core.stopping.load()) return;
        take_lanes();
        if (!core.queue.empty()) break;
        uint64_t wait_ns = UINT64_MAX;
        if (!lanes.empty()) {
          lock.unlock();
          wait_ns = serve_lanes();
          lock.lock();
          if (quit) return;
          take_lanes();
          if (!core.queue.empty()) break;
        }
        if (wait_ns == UINT64_MAX) core.qcv.wait(lock, ready);
        else if (wait_ns > 0) core.qcv.wait_for(lock, std::chrono::nanoseconds(std::min<uint64_t>(wait_ns, 20000000ull)), ready);
      }
      job = std::move(core.queue.front());
      core.queue.pop_front();
    }
    InFlightBatch& b = *job.batch;
    const size_t total = job.entries.empty() ? b.count : job.entries.size();
    const uint64_t job_start = monotonic_ns();
    b.job_start_ns = job_start;
    b.sent_upto.store(0);
    for (size_t k = 0; k < total;) {
      if (!lanes.empty() || !core.lane_queue.empty()) {
        // Host lanes go out beside this job, not behind it.
        {
          std::lock_guard<std::mutex> lock(core.qmu);
          take_lanes();
        }
        serve_lanes();
        if (quit) return;
      }
      const double live = core.live_rate.load(std::memory_order_relaxed);
      if (live > 0 && live != bucket.rate()) bucket.set_rate(live);
      const size_t batch_max = bucket.batch_size();
      // Up to batch_max probes per round; their frames (often one each) go out in one sendmmsg
      // per batch_max frames, and the token bucket counts frames: the rate is packets on the wire.
      size_t m = job.pace > 0 ? 1 : std::min(batch_max, total - k);
      if (job.pace > 0 && k > 0) {
        // A paced job (a target rate-limiting its answers): one probe per 1/pace seconds.
        const uint64_t due = job_start + uint64_t(double(k) * 1e9 / job.pace);
        while (!core.stopping.load()) {
          const uint64_t now = monotonic_ns();
          if (now >= due) break;
          const uint64_t ns = std::min<uint64_t>(due - now, 20000000ull);
          timespec ts{time_t(ns / 1000000000ull), long(ns % 1000000000ull)};
          nanosleep(&ts, nullptr);
        }
        if (core.stopping.load()) return;
      }
      m = window_room(core, win, m, last_send_ns);
      if (m == 0) return;
      if (send_entries(job, k, m) < 0) return;
      k += m;
      b.sent_upto.store(job.entries.empty() ? uint32_t(k) : job.entries[k - 1] + 1);
    }
    b.job_end_ns = monotonic_ns();
    core.queued_probes -= total;
    core.sent_seq.store(job.seq);
    b.pending_jobs.fetch_sub(1);
  }
}

}  // namespace prtip
