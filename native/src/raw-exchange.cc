// RawExchange: per-host exchanges of exact prebuilt frames (OS detection): send whole Ethernet
// frames (IPv4 or IPv6) on an AF_PACKET socket bound to the route's interface, and capture whole reply packets
// (libpcap, immediate mode, incoming only, a BPF filter from JS) with their kernel timestamps.
// Not a hot path: a few dozen frames per host, so everything runs on the JS thread, non-blocking.
#include <napi.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>

#include "raw-handles.h"
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "pcap-info.h"

namespace prtip {

namespace {

// Microseconds on the realtime clock: the clock libpcap stamps captures with, so send and
// capture times compare directly.
double now_us() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Bytes of link header before the IP packet for a datalink type, or -1 when unsupported.
int link_header_length(int dlt) {
  switch (dlt) {
    case DLT_EN10MB: return 14;
    case DLT_RAW: return 0;
    case DLT_LINUX_SLL: return 16;
    case DLT_LINUX_SLL2: return 20;
    default: return -1;
  }
}

// Why a frame cannot be sent as given (too short, not IPv4 or IPv6, version and ethertype
// disagreeing), or nullptr. IPv6 frames carry OS detection's IPv6 probes.
const char* frame_problem(const uint8_t* f, size_t n) {
  if (n < 14 + 20) return "frame shorter than an Ethernet header and an IPv4 header";
  if (f[12] == 0x86 && f[13] == 0xdd) {
    if (n < 14 + 40) return "frame shorter than an Ethernet header and an IPv6 header";
    if (n > 14 + 40 + 65535) return "frame longer than an IPv6 packet can be";
    if ((f[14] >> 4) != 6) return "IP version is not 6 in an IPv6 frame";
    return nullptr;
  }
  if (n > 14 + 65535) return "frame longer than an IPv4 packet can be";
  if (f[12] != 0x08 || f[13] != 0x00) return "not an IPv4 or IPv6 Ethernet frame (ethertype 0x0800 or 0x86dd)";
  if ((f[14] >> 4) != 4) return "IP version is not 4";
  return nullptr;
}

}  // namespace

const char* raw_exchange_selftest() {
  uint8_t f[60] = {0};
  f[12] = 0x08; f[13] = 0x00; f[14] = 0x45;
  if (frame_problem(f, sizeof f) != nullptr) return "a valid IPv4 frame was refused";
  if (frame_problem(f, 20) == nullptr) return "a short frame was accepted";
  f[12] = 0x86; f[13] = 0xdd;
  if (frame_problem(f, sizeof f) == nullptr) return "IP version 4 in an IPv6 frame was accepted";
  f[14] = 0x60;
  if (frame_problem(f, sizeof f) != nullptr) return "a valid IPv6 frame was refused";
  if (frame_problem(f, 14 + 39) == nullptr) return "a short IPv6 frame was accepted";
  f[12] = 0x08; f[13] = 0x00; f[14] = 0x65;
  if (frame_problem(f, sizeof f) == nullptr) return "IP version 6 in an IPv4 frame was accepted";
  f[13] = 0x06;
  if (frame_problem(f, sizeof f) == nullptr) return "an ARP ethertype was accepted";
  if (link_header_length(DLT_EN10MB) != 14 || link_header_length(DLT_RAW) != 0) return "link header lengths";
  const double a = now_us(), b = now_us();
  if (!(a > 1e15 && b >= a)) return "the realtime clock in microseconds";
  return nullptr;
}

class RawExchange : public Napi::ObjectWrap<RawExchange> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RawExchange", {
      InstanceMethod("send", &RawExchange::Send),
      InstanceMethod("poll", &RawExchange::Poll),
      InstanceMethod("close", &RawExchange::Close),
      StaticMethod("nowUs", &RawExchange::NowUs),
    });
  }

  // new RawExchange(ifname, bpfFilter)
  explicit RawExchange(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RawExchange>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
      Napi::TypeError::New(env, "RawExchange(ifname, filter): two strings").ThrowAsJavaScriptException();
      return;
    }
    const std::string ifname = info[0].As<Napi::String>();
    const std::string filter = info[1].As<Napi::String>();
    const unsigned ifindex = if_nametoindex(ifname.c_str());
    if (ifindex == 0) { fail(env, "RawExchange: no interface " + ifname); return; }
    ifindex_ = static_cast<int>(ifindex);
    // Reserved before a privilege drop (raw-handles.cc), else opened now.
    ifname_ = ifname;
    std::string error;
    if (!take_raw_handle(ifname, CaptureKind::exchange, handle_, error)) { fail(env, "RawExchange: " + error); return; }
    fd_ = handle_.fd;
    pcap_ = handle_.pcap;
    ip_link_ = handle_.ip_link;
    link_len_ = link_header_length(pcap_datalink(pcap_));
    if (link_len_ < 0) { fail(env, "RawExchange: unsupported link type on " + ifname); return; }
    bpf_program prog{};
    if (pcap_compile(pcap_, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      { fail(env, std::string("RawExchange: filter \"") + filter + "\": " + pcap_geterr(pcap_)); return; }
    }
    const int rc = pcap_setfilter(pcap_, &prog);
    pcap_freecode(&prog);
    if (rc != 0) { fail(env, std::string("RawExchange: pcap_setfilter: ") + pcap_geterr(pcap_)); return; }
  }

  ~RawExchange() override { release(); }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  pcap_t* pcap_ = nullptr;
  std::string ifname_;
  RawHandle handle_;
  int link_len_ = 14;
  bool ip_link_ = false;

  void release() {
    return_raw_handle(ifname_, CaptureKind::exchange, handle_);
    fd_ = -1;
    pcap_ = nullptr;
  }

  void fail(Napi::Env env, const std::string& msg) {
    release();
    Napi::Error::New(env, msg).ThrowAsJavaScriptException();
  }

  // send(frame) → the realtime µs just before the frame went to the kernel.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) { Napi::Error::New(env, "RawExchange.send: closed").ThrowAsJavaScriptException(); return env.Undefined(); }
    if (info.Length() < 1 || !info[0].IsTypedArray()) { Napi::TypeError::New(env, "send(frame: Uint8Array)").ThrowAsJavaScriptException(); return env.Undefined(); }
    auto f = info[0].As<Napi::Uint8Array>();
    if (const char* p = frame_problem(f.Data(), f.ByteLength())) { Napi::Error::New(env, std::string("RawExchange.send: ") + p).ThrowAsJavaScriptException(); return env.Undefined(); }
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_protocol = htons(f.Data()[12] == 0x86 ? ETH_P_IPV6 : ETH_P_IP);
    to.sll_halen = ip_link_ ? 0 : 6;
    if (!ip_link_) memcpy(to.sll_addr, f.Data(), 6);
    const size_t skip = ip_link_ ? 14 : 0;
    const double t = now_us();
    for (int attempt = 0;; attempt++) {
      const ssize_t n = sendto(fd_, f.Data() + skip, f.ByteLength() - skip, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      if (n == static_cast<ssize_t>(f.ByteLength() - skip)) break;
      if (n < 0 && (errno == ENOBUFS || errno == EAGAIN) && attempt < 100) { usleep(100); continue; }
      Napi::Error::New(env, std::string("RawExchange.send: ") + (n < 0 ? strerror(errno) : "short write")).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, t);
  }

  // poll() → [{ timeUs, packet }] of every packet captured since the last poll (IP packet, link header removed).
  Napi::Value Poll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (!pcap_) return out;
    struct Ctx { Napi::Env env; Napi::Array out; uint32_t n; int link; } ctx{env, out, 0, link_len_};
    auto cb = [](u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
      Ctx* c = reinterpret_cast<Ctx*>(user);
      if (static_cast<int>(h->caplen) <= c->link) return;
      Napi::Object o = Napi::Object::New(c->env);
      o.Set("timeUs", static_cast<double>(h->ts.tv_sec) * 1e6 + static_cast<double>(h->ts.tv_usec));
      o.Set("packet", Napi::Buffer<uint8_t>::Copy(c->env, bytes + c->link, h->caplen - c->link));
      c->out.Set(c->n++, o);
    };
    if (pcap_dispatch(pcap_, -1, cb, reinterpret_cast<u_char*>(&ctx)) < 0) {
      Napi::Error::New(env, std::string("RawExchange.poll: ") + pcap_geterr(pcap_)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    release();
    return info.Env().Undefined();
  }

  static Napi::Value NowUs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), now_us()); }
};

Napi::Function DefineRawExchange(Napi::Env env) { return RawExchange::Define(env); }

}  // namespace prtip
