// The sender thread: takes probe batches off the queue, builds SYN frames from the template, and
// transmits them in sendmmsg batches on an AF_PACKET socket (PACKET_QDISC_BYPASS: the frames go
// straight to the driver), paced by the token bucket.
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <cstring>

#include "engine-core.h"
#include "rate-limit.h"

namespace prtip {

uint32_t realtime_us32() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint32_t(uint64_t(ts.tv_sec) * 1000000ull + uint64_t(ts.tv_nsec) / 1000ull);
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
    done++;
  }
}

void run_sender(EngineCore& core) {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // µs-accurate sleeps for the pacing
  TokenBucket bucket(core.rate);
  const size_t batch_max = bucket.batch_size();
  std::vector<uint8_t> frames(TokenBucket::kMaxBatch * kMaxSynFrame);
  std::vector<iovec> iov(TokenBucket::kMaxBatch);
  std::vector<mmsghdr> msgs(TokenBucket::kMaxBatch);
  std::vector<uint32_t> idx(TokenBucket::kMaxBatch);
  sockaddr_ll dest[2];
  for (int k = 0; k < 2; k++) {
    memset(&dest[k], 0, sizeof dest[k]);
    dest[k].sll_family = AF_PACKET;
    dest[k].sll_ifindex = core.ifindex;
    dest[k].sll_protocol = htons(k == 0 ? ETH_P_IP : ETH_P_IPV6);
    dest[k].sll_halen = 6;
  }

  for (;;) {
    SendJob job;
    {
      std::unique_lock<std::mutex> lock(core.qmu);
      core.qcv.wait(lock, [&] { return core.stopping.load() || !core.queue.empty(); });
      if (core.stopping.load()) return;
      job = std::move(core.queue.front());
      core.queue.pop_front();
    }
    InFlightBatch& b = *job.batch;
    const size_t total = job.entries.empty() ? b.count : job.entries.size();
    const size_t alen = b.addr_len();
    // SOCK_RAW: the frame's own Ethernet header decides where it goes (per probe when the batch
    // carries MACs); sll_addr only names the template's next hop.
    sockaddr_ll* to = &dest[b.family == 4 ? 0 : 1];
    memcpy(to->sll_addr, b.family == 4 ? core.tmpl.dst_mac4 : core.tmpl.dst_mac6, 6);
    for (size_t k = 0; k < total;) {
      const size_t m = std::min(batch_max, total - k);
      for (size_t j = 0; j < m; j++) {
        const uint32_t i = job.entries.empty() ? uint32_t(k + j) : job.entries[k + j];
        idx[j] = i;
        uint8_t* f = frames.data() + j * kMaxSynFrame;
        const size_t len = build_syn_frame(core.tmpl, b.family, b.addrs.data() + size_t(i) * alen, b.port(i),
                                           (job.slot << kTagEntryBits) | i, f, b.mac(i));
        iov[j].iov_base = f;
        iov[j].iov_len = len;
        memset(&msgs[j], 0, sizeof msgs[j]);
        msgs[j].msg_hdr.msg_iov = &iov[j];
        msgs[j].msg_hdr.msg_iovlen = 1;
        msgs[j].msg_hdr.msg_name = to;
        msgs[j].msg_hdr.msg_namelen = sizeof *to;
      }
      if (!bucket.acquire(m, core.stopping)) return;
      const uint32_t stamp = realtime_us32();
      for (size_t j = 0; j < m; j++) b.sent_us[idx[j]].store(stamp, std::memory_order_relaxed);
      if (core.counters.first_send_ns.load(std::memory_order_relaxed) == 0) core.counters.first_send_ns = monotonic_ns();
      send_all(core, msgs.data(), unsigned(m));
      core.counters.last_send_ns = monotonic_ns();
      core.counters.sent += m;
      k += m;
    }
    core.queued_probes -= total;
    core.sent_seq.store(job.seq);
  }
}

}  // namespace prtip
