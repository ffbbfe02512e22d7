// See raw-handles.h. The only place that opens AF_PACKET sockets and captures for scanning.
#include "raw-handles.h"

#include "pcap-info.h"
#include "wire.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace prtip {

namespace {

std::mutex pool_mu;
std::map<std::pair<std::string, int>, std::vector<RawHandle>> pool;

void close_handle(RawHandle& h) {
  if (h.pcap) pcap_close(h.pcap);
  if (h.fd >= 0) close(h.fd);
  h.pcap = nullptr;
  h.fd = -1;
}

// A filter that accepts nothing: an idle reserved capture must not fill its ring with traffic.
bool capture_nothing(pcap_t* p, std::string& error) {
  bpf_program prog{};
  if (pcap_compile(p, &prog, "less 1", 1, PCAP_NETMASK_UNKNOWN) != 0) {
    error = std::string("pcap_compile: ") + pcap_geterr(p);
    return false;
  }
  const int rc = pcap_setfilter(p, &prog);
  pcap_freecode(&prog);
  if (rc != 0) error = std::string("pcap_setfilter: ") + pcap_geterr(p);
  return rc == 0;
}

void discard(u_char*, const pcap_pkthdr*, const u_char*) {}

// Reads and drops what the ring still holds, so the next engine sees only its own packets.
void drain(pcap_t* p) {
  for (int i = 0; i < 4096; i++) {
    const int n = pcap_dispatch(p, -1, discard, nullptr);
    if (n == PCAP_ERROR_BREAK) continue;  // a breakloop the receiver did not see: cleared now
    if (n <= 0) return;
  }
}

bool open_handle(const std::string& ifname, CaptureKind kind, RawHandle& h, std::string& error) {
  const int ifindex = int(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) {
    error = "no interface " + ifname;
    return false;
  }
  // Ethernet (and loopback) take whole frames; tun, ppp and tunnels take IP packets, with no
  // link-layer address to resolve.
  const int hw = interface_hw_type(ifname);
  const LinkSend link = link_send_of(hw);
  if (link == LinkSend::kUnsupported) {
    error = ifname + " is a link of type " + hw_type_name(hw) + ", which raw probes cannot be sent on";
    return false;
  }
  h.ip_link = link == LinkSend::kIp;
  h.fd = socket(AF_PACKET, h.ip_link ? SOCK_DGRAM : SOCK_RAW, 0);  // protocol 0: send only, receives nothing
  if (h.fd < 0) {
    error = std::string("AF_PACKET socket: ") + strerror(errno);
    return false;
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex;
  sll.sll_protocol = 0;
  if (bind(h.fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    error = "bind to " + ifname + ": " + strerror(errno);
    close_handle(h);
    return false;
  }
  if (kind == CaptureKind::engine) {
    int one = 1;
    setsockopt(h.fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);  // best effort (Linux ≥ 3.14)
    int sndbuf = 4 << 20;
    setsockopt(h.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  char err[PCAP_ERRBUF_SIZE] = {0};
  h.pcap = pcap_create(ifname.c_str(), err);
  if (!h.pcap) {
    error = std::string("pcap_create: ") + err;
    close_handle(h);
    return false;
  }
  if (kind == CaptureKind::engine) {
    pcap_set_snaplen(h.pcap, 256);
    pcap_set_promisc(h.pcap, 0);
    // Not immediate mode: TPACKET_V3 hands over blocks of packets (at most 2 ms old), so a
    // flood of replies costs one wake-up per block instead of one per packet.
    pcap_set_immediate_mode(h.pcap, 0);
    pcap_set_timeout(h.pcap, 2);
    // 8 MiB: ~25k replies of headroom. A larger ring only grows RSS with the number of replies
    // (its pages are touched as it fills); a reply lost to a full ring is recovered by a retry.
    pcap_set_buffer_size(h.pcap, 8 << 20);
  } else {
    // Whole packets, each as it arrives (OS detection, traceroute and the idle scan time them).
    pcap_set_snaplen(h.pcap, 65535);
    pcap_set_immediate_mode(h.pcap, 1);
    pcap_set_buffer_size(h.pcap, 4 << 20);
  }
  if (pcap_activate(h.pcap) < 0) {
    error = std::string("pcap_activate: ") + pcap_geterr(h.pcap);
    close_handle(h);
    return false;
  }
  h.dlt = pcap_datalink(h.pcap);
  if (!link_supported(h.dlt)) {
    const char* name = pcap_datalink_val_to_name(h.dlt);
    error = "the capture on " + ifname + " has datalink " + std::to_string(h.dlt) + " (" + (name ? name : "?") +
            "), which prtip cannot read replies from";
    close_handle(h);
    return false;
  }
  pcap_setdirection(h.pcap, PCAP_D_IN);
  if (!capture_nothing(h.pcap, error) || pcap_setnonblock(h.pcap, 1, err) != 0) {
    if (error.empty()) error = std::string("pcap_setnonblock: ") + err;
    close_handle(h);
    return false;
  }
  return true;
}

CaptureKind kind_of(Napi::Env env, const Napi::Value& v) {
  const std::string k = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (k == "engine") return CaptureKind::engine;
  if (k == "exchange") return CaptureKind::exchange;
  Napi::TypeError::New(env, "raw handle kind must be \"engine\" or \"exchange\"").ThrowAsJavaScriptException();
  return CaptureKind::engine;
}

}  // namespace

bool take_raw_handle(const std::string& ifname, CaptureKind kind, RawHandle& out, std::string& error) {
  {
    std::lock_guard<std::mutex> lock(pool_mu);
    auto it = pool.find({ifname, int(kind)});
    if (it != pool.end() && !it->second.empty()) {
      out = it->second.back();
      it->second.pop_back();
      return true;
    }
  }
  out = RawHandle{};
  return open_handle(ifname, kind, out, error);
}

void return_raw_handle(const std::string& ifname, CaptureKind kind, RawHandle& h) {
  if (!h.pooled) {
    close_handle(h);
    return;
  }
  std::string error;
  if (!h.pcap || !capture_nothing(h.pcap, error)) {
    close_handle(h);
    return;
  }
  drain(h.pcap);
  std::lock_guard<std::mutex> lock(pool_mu);
  pool[{ifname, int(kind)}].push_back(h);
  h = RawHandle{};
}

bool have_reserved_raw_handles() {
  std::lock_guard<std::mutex> lock(pool_mu);
  for (auto& [key, handles] : pool) {
    if (!handles.empty()) return true;
  }
  return false;
}

// reserveRawHandles(ifname, kind, count) → how many (ifname, kind) handles are reserved now.
// Throws (EPERM without root or CAP_NET_RAW) when one cannot be opened; those opened stay.
Napi::Value ReserveRawHandles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "reserveRawHandles(ifname, kind, count)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string ifname = info[0].As<Napi::String>().Utf8Value();
  const CaptureKind kind = kind_of(env, info[1]);
  if (env.IsExceptionPending()) return env.Undefined();
  const int want = info[2].As<Napi::Number>().Int32Value();
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      auto& have = pool[{ifname, int(kind)}];
      if (int(have.size()) >= want) return Napi::Number::New(env, double(have.size()));
    }
    RawHandle h;
    std::string error;
    if (!open_handle(ifname, kind, h, error)) {
      Napi::Error e = Napi::Error::New(env, "cannot open a raw socket on " + ifname + ": " + error);
      const bool denied = error.find("not permitted") != std::string::npos || error.find("permission") != std::string::npos;
      e.Set("code", Napi::String::New(env, denied ? "EPERM" : "ERAWHANDLE"));
      e.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    h.pooled = true;
    std::lock_guard<std::mutex> lock(pool_mu);
    pool[{ifname, int(kind)}].push_back(h);
  }
}

Napi::Value ReservedRawHandles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) {
    Napi::TypeError::New(env, "reservedRawHandles(ifname, kind)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const CaptureKind kind = kind_of(env, info[1]);
  if (env.IsExceptionPending()) return env.Undefined();
  std::lock_guard<std::mutex> lock(pool_mu);
  auto it = pool.find({info[0].As<Napi::String>().Utf8Value(), int(kind)});
  return Napi::Number::New(env, it == pool.end() ? 0 : double(it->second.size()));
}

Napi::Value CloseRawHandles(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(pool_mu);
  for (auto& [key, handles] : pool) {
    for (auto& h : handles) close_handle(h);
  }
  pool.clear();
  return info.Env().Undefined();
}

}  // namespace prtip
