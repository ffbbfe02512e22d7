#include "syn-engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "siphash.h"

namespace prtip {

namespace {

[[noreturn]] void fail(Napi::Env env, const std::string& msg) { throw Napi::Error::New(env, msg); }

// Copies a Buffer/Uint8Array field of exactly `len` bytes; false when absent.
bool bytes_field(Napi::Env env, Napi::Object o, const char* name, uint8_t* dst, size_t len) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsTypedArray()) fail(env, std::string("SynEngine: ") + name + " must be a Uint8Array");
  auto a = v.As<Napi::Uint8Array>();
  if (a.ByteLength() != len) fail(env, std::string("SynEngine: ") + name + " must be " + std::to_string(len) + " bytes");
  memcpy(dst, a.Data(), len);
  return true;
}

double number_field(Napi::Env env, Napi::Object o, const char* name, double def) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) fail(env, std::string("SynEngine: ") + name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

void parse_template(Napi::Env env, Napi::Object o, SynTemplateConfig& t, bool& have4, bool& have6) {
  if (!bytes_field(env, o, "srcMac", t.src_mac, 6)) fail(env, "SynEngine: srcMac is required");
  bool mac4 = bytes_field(env, o, "dstMac4", t.dst_mac4, 6);
  bool mac6 = bytes_field(env, o, "dstMac6", t.dst_mac6, 6);
  have4 = bytes_field(env, o, "src4", t.src4, 4);
  have6 = bytes_field(env, o, "src6", t.src6, 16);
  if (have4 && !mac4) fail(env, "SynEngine: src4 needs dstMac4 (the IPv4 next hop)");
  if (have6 && !mac6) fail(env, "SynEngine: src6 needs dstMac6 (the IPv6 next hop)");
  const double sp = number_field(env, o, "sourcePort", -1);
  if (!(sp >= 1 && sp <= 65535)) fail(env, "SynEngine: sourcePort must be 1-65535");
  t.source_port = uint16_t(sp);
  t.ttl = uint8_t(number_field(env, o, "ttl", 64));
  t.window = uint16_t(number_field(env, o, "window", 1024));
  if (!bytes_field(env, o, "key", t.key, 16)) {
    if (getrandom(t.key, 16, 0) != 16) fail(env, "SynEngine: getrandom failed");
  }
}

}  // namespace

Napi::Function SynEngine::Define(Napi::Env env) {
  return DefineClass(env, "SynEngine",
                     {InstanceMethod("start", &SynEngine::Start), InstanceMethod("enqueue", &SynEngine::Enqueue),
                      InstanceMethod("resend", &SynEngine::Resend), InstanceMethod("retire", &SynEngine::Retire),
                      InstanceMethod("sentSeq", &SynEngine::SentSeq),
                      InstanceMethod("queuedProbes", &SynEngine::QueuedProbes),
                      InstanceMethod("stats", &SynEngine::Stats), InstanceMethod("stop", &SynEngine::Stop)});
}

// new SynEngine({ ifname, srcMac, dstMac4?, dstMac6?, src4?, src6?, sourcePort, ttl?, window?, rate?, key? }, onReplies)
SynEngine::SynEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SynEngine>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    fail(env, "new SynEngine(config, onReplies): expected a config object and a function");
  }
  core_ = std::make_unique<EngineCore>();
  Napi::Object o = info[0].As<Napi::Object>();
  parse_template(env, o, core_->tmpl, core_->have4, core_->have6);
  if (!core_->have4 && !core_->have6) fail(env, "SynEngine: give src4 and/or src6");
  Napi::Value ifn = o.Get("ifname");
  if (!ifn.IsString()) fail(env, "SynEngine: ifname must be a string");
  core_->ifname = ifn.As<Napi::String>().Utf8Value();
  core_->rate = number_field(env, o, "rate", 0);
  for (uint32_t s = kMaxSlots; s > 0; s--) core_->free_slots.push_back(s - 1);
  tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "prtip-syn-replies", 0, 1);
  tsfn_.Unref(env);  // only a started engine keeps the process alive
}

SynEngine::~SynEngine() { Shutdown(); }

void SynEngine::Shutdown() {
  if (!core_) return;
  core_->stopping = true;
  core_->qcv.notify_all();
  if (core_->pcap) pcap_breakloop(core_->pcap);
  if (sender_.joinable()) sender_.join();
  if (receiver_.joinable()) receiver_.join();
  if (core_->pcap) {
    pcap_close(core_->pcap);
    core_->pcap = nullptr;
  }
  if (core_->packet_fd >= 0) {
    close(core_->packet_fd);
    core_->packet_fd = -1;
  }
}

Napi::Value SynEngine::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) fail(env, "SynEngine.start: already started");
  EngineCore& c = *core_;
  c.ifindex = int(if_nametoindex(c.ifname.c_str()));
  if (c.ifindex == 0) fail(env, "SynEngine.start: no interface " + c.ifname);
  c.packet_fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, receives nothing
  if (c.packet_fd < 0) fail(env, std::string("SynEngine.start: AF_PACKET socket: ") + strerror(errno));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = c.ifindex;
  sll.sll_protocol = 0;
  if (bind(c.packet_fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    fail(env, std::string("SynEngine.start: bind to ") + c.ifname + ": " + strerror(errno));
  }
  int one = 1;
  setsockopt(c.packet_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);  // best effort (Linux ≥ 3.14)
  int sndbuf = 4 << 20;
  setsockopt(c.packet_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  char err[PCAP_ERRBUF_SIZE] = {0};
  c.pcap = pcap_create(c.ifname.c_str(), err);
  if (!c.pcap) fail(env, std::string("SynEngine.start: pcap_create: ") + err);
  pcap_set_snaplen(c.pcap, 256);
  pcap_set_promisc(c.pcap, 0);
  // Not immediate mode: TPACKET_V3 hands over blocks of packets (at most 2 ms old), so a
  // flood of replies costs one wake-up per block instead of one per packet.
  pcap_set_immediate_mode(c.pcap, 0);
  pcap_set_timeout(c.pcap, 2);
  // 8 MiB: ~25k replies of headroom. A larger ring only grows RSS with the number of replies
  // (its pages are touched as it fills); a reply lost to a full ring is recovered by a retry.
  pcap_set_buffer_size(c.pcap, 8 << 20);
  if (pcap_activate(c.pcap) < 0) fail(env, std::string("SynEngine.start: pcap_activate: ") + pcap_geterr(c.pcap));
  pcap_setdirection(c.pcap, PCAP_D_IN);
  // Only replies to our address: TCP to our source port, and ICMP errors that may quote a probe.
  std::string hosts;
  char text[INET6_ADDRSTRLEN];
  if (c.have4) hosts += std::string("dst host ") + inet_ntop(AF_INET, c.tmpl.src4, text, sizeof text);
  if (c.have6) hosts += std::string(hosts.empty() ? "" : " or ") + "dst host " + inet_ntop(AF_INET6, c.tmpl.src6, text, sizeof text);
  const std::string filter = "(" + hosts + ") and ((tcp dst port " + std::to_string(c.tmpl.source_port) +
                             ") or icmp or icmp6)";
  bpf_program prog;
  if (pcap_compile(c.pcap, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    fail(env, "SynEngine.start: BPF filter \"" + filter + "\": " + pcap_geterr(c.pcap));
  }
  const int set = pcap_setfilter(c.pcap, &prog);
  pcap_freecode(&prog);
  if (set != 0) fail(env, std::string("SynEngine.start: pcap_setfilter: ") + pcap_geterr(c.pcap));
  if (pcap_setnonblock(c.pcap, 1, err) != 0) fail(env, std::string("SynEngine.start: pcap_setnonblock: ") + err);

  Napi::ThreadSafeFunction tsfn = tsfn_;
  c.deliver = [tsfn](std::vector<uint8_t>* batch) mutable {
    auto call = [](Napi::Env env, Napi::Function fn, std::vector<uint8_t>* d) {
      if (env != nullptr && fn != nullptr) fn.Call({Napi::Buffer<uint8_t>::Copy(env, d->data(), d->size())});
      delete d;
    };
    if (tsfn.NonBlockingCall(batch, call) != napi_ok) delete batch;
  };
  tsfn_.Ref(env);
  started_ = true;
  receiver_ = std::thread(run_receiver, std::ref(c));
  sender_ = std::thread(run_sender, std::ref(c));
  return env.Undefined();
}

uint64_t SynEngine::Push(uint32_t slot, std::shared_ptr<InFlightBatch> batch, std::vector<uint32_t> entries, size_t n) {
  std::lock_guard<std::mutex> lock(core_->qmu);
  const uint64_t seq = ++core_->next_seq;
  core_->queued_probes += n;
  core_->queue.push_back(SendJob{slot, std::move(batch), std::move(entries), seq});
  core_->qcv.notify_one();
  return seq;
}

// enqueue(family, start, addrs, ports, macs?) → { slot, seq }, or null while every slot is in flight.
// macs: 6 bytes per probe, its next-hop MAC (hosts on the local link); absent: the template's.
// Resends of the slot reuse them (they stay with the batch).
Napi::Value SynEngine::Enqueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!started_ || stopped_) fail(env, "SynEngine.enqueue: engine not running");
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsTypedArray() || !info[3].IsTypedArray()) {
    fail(env, "SynEngine.enqueue(family, start, addrs, ports): bad arguments");
  }
  const int family = info[0].As<Napi::Number>().Int32Value();
  if (family != 4 && family != 6) fail(env, "SynEngine.enqueue: family must be 4 or 6");
  if ((family == 4 && !core_->have4) || (family == 6 && !core_->have6)) {
    fail(env, std::string("SynEngine.enqueue: no IPv") + (family == 4 ? "4" : "6") + " source address configured");
  }
  auto addrs = info[2].As<Napi::Uint8Array>();
  auto ports = info[3].As<Napi::Uint8Array>();
  const size_t alen = family == 4 ? 4 : 16;
  const size_t count = ports.ByteLength() / 2;
  if (ports.ByteLength() % 2 != 0 || addrs.ByteLength() != count * alen) fail(env, "SynEngine.enqueue: column sizes disagree");
  if (count == 0 || count > kMaxBatchEntries) fail(env, "SynEngine.enqueue: 1 to 1048576 probes per batch");
  const bool have_macs = info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull();
  if (have_macs && (!info[4].IsTypedArray() || info[4].As<Napi::Uint8Array>().ByteLength() != count * 6)) {
    fail(env, "SynEngine.enqueue: macs must be a Uint8Array of 6 bytes per probe");
  }
  auto b = std::make_shared<InFlightBatch>();
  b->family = family;
  b->count = uint32_t(count);
  b->start = info[1].As<Napi::Number>().DoubleValue();
  b->addrs.assign(addrs.Data(), addrs.Data() + addrs.ByteLength());
  b->ports.assign(ports.Data(), ports.Data() + ports.ByteLength());
  if (have_macs) {
    auto macs = info[4].As<Napi::Uint8Array>();
    b->macs.assign(macs.Data(), macs.Data() + macs.ByteLength());
  }
  b->answered.assign((count + 63) / 64, 0);
  b->sent_us.reset(new std::atomic<uint32_t>[count]);
  for (size_t i = 0; i < count; i++) b->sent_us[i].store(0, std::memory_order_relaxed);
  uint32_t slot;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->free_slots.empty()) return env.Null();
    slot = core_->free_slots.back();
    core_->free_slots.pop_back();
    core_->slots[slot] = b;
  }
  const uint64_t seq = Push(slot, b, {}, count);
  Napi::Object r = Napi::Object::New(env);
  r.Set("slot", double(slot));
  r.Set("seq", double(seq));
  return r;
}

// resend(slot) → { seq, count } of the job re-sending the unanswered probes, or null when all were answered.
Napi::Value SynEngine::Resend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "SynEngine.resend: bad slot");
  std::shared_ptr<InFlightBatch> b;
  std::vector<uint32_t> entries;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    b = core_->slots[slot];
    if (!b) fail(env, "SynEngine.resend: slot not in flight");
    for (uint32_t i = 0; i < b->count; i++) {
      if (!(b->answered[i / 64] & (1ull << (i % 64)))) entries.push_back(i);
    }
  }
  if (entries.empty()) return env.Null();
  const size_t n = entries.size();
  Napi::Object r = Napi::Object::New(env);
  r.Set("seq", double(Push(slot, b, std::move(entries), n)));
  r.Set("count", double(n));
  return r;
}

// retire(slot) → the answered bitmap (bit i of byte i/8 = entry i), and the slot is free again.
Napi::Value SynEngine::Retire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "SynEngine.retire: bad slot");
  std::shared_ptr<InFlightBatch> b;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    b = std::move(core_->slots[slot]);
    if (!b) fail(env, "SynEngine.retire: slot not in flight");
    core_->free_slots.push_back(slot);
  }
  auto out = Napi::Buffer<uint8_t>::New(env, (b->count + 7) / 8);
  for (uint32_t i = 0; i < b->count; i += 8) {
    uint8_t byte = 0;
    for (uint32_t j = 0; j < 8 && i + j < b->count; j++) {
      if (b->answered[(i + j) / 64] & (1ull << ((i + j) % 64))) byte |= uint8_t(1u << j);
    }
    out.Data()[i / 8] = byte;
  }
  return out;
}

Napi::Value SynEngine::SentSeq(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core_->sent_seq.load()));
}

Napi::Value SynEngine::QueuedProbes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core_->queued_probes.load()));
}

Napi::Value SynEngine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& k = core_->counters;
  Napi::Object o = Napi::Object::New(env);
  o.Set("sent", double(k.sent.load()));
  o.Set("sendErrors", double(k.send_errors.load()));
  o.Set("sendRetries", double(k.send_retries.load()));
  o.Set("captured", double(k.captured.load()));
  o.Set("replies", double(k.replies.load()));
  o.Set("invalid", double(k.invalid.load()));
  o.Set("duplicates", double(k.duplicates.load()));
  o.Set("foreign", double(k.foreign.load()));
  o.Set("pcapDropped", double(k.pcap_dropped.load()));
  const uint64_t first = k.first_send_ns.load(), last = k.last_send_ns.load();
  o.Set("sendSeconds", first && last > first ? double(last - first) / 1e9 : 0.0);
  std::lock_guard<std::mutex> lock(core_->qmu);
  if (!core_->thread_error.empty()) o.Set("error", core_->thread_error);
  return o;
}

// stop() → a promise that resolves once the threads ended and every reply reached onReplies.
Napi::Value SynEngine::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  stopped_deferred_ = std::make_unique<Napi::Promise::Deferred>(env);
  Napi::Promise p = stopped_deferred_->Promise();
  if (stopped_) {
    stopped_deferred_->Resolve(env.Undefined());
    return p;
  }
  stopped_ = true;
  Shutdown();
  if (!started_) {
    tsfn_.Release();
    stopped_deferred_->Resolve(env.Undefined());
    return p;
  }
  // The threads are joined, so every reply batch is already queued: a last call behind them
  // resolves the promise once they all reached JS.
  Napi::Promise::Deferred* deferred = stopped_deferred_.get();
  Napi::ThreadSafeFunction tsfn = tsfn_;
  auto done = [deferred, tsfn](Napi::Env env, Napi::Function, int*) {
    if (env != nullptr) deferred->Resolve(env.Undefined());
    tsfn.Release();
  };
  if (tsfn_.NonBlockingCall(static_cast<int*>(nullptr), done) != napi_ok) {
    tsfn_.Release();
    stopped_deferred_->Resolve(env.Undefined());
  }
  return p;
}

Napi::Value HasRawAccess(const Napi::CallbackInfo& info) {
  const int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd >= 0) close(fd);
  return Napi::Boolean::New(info.Env(), fd >= 0);
}

// buildSynFrame(config, family, addr, port, tag, dstMac?) → Buffer with one SYN frame (tests).
Napi::Value BuildSynFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SynTemplateConfig t{};
  bool h4, h6;
  parse_template(env, info[0].As<Napi::Object>(), t, h4, h6);
  const int family = info[1].As<Napi::Number>().Int32Value();
  auto addr = info[2].As<Napi::Uint8Array>();
  if ((family != 4 && family != 6) || addr.ByteLength() != size_t(family == 4 ? 4 : 16) || (family == 4 ? !h4 : !h6)) {
    fail(env, "buildSynFrame: family, address and source address disagree");
  }
  const uint8_t* dst_mac = nullptr;
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    if (!info[5].IsTypedArray() || info[5].As<Napi::Uint8Array>().ByteLength() != 6) fail(env, "buildSynFrame: dstMac must be 6 bytes");
    dst_mac = info[5].As<Napi::Uint8Array>().Data();
  }
  uint8_t f[kMaxSynFrame];
  const size_t len = build_syn_frame(t, family, addr.Data(), uint16_t(info[3].As<Napi::Number>().Uint32Value()),
                                     info[4].As<Napi::Number>().Uint32Value(), f, dst_mac);
  return Napi::Buffer<uint8_t>::Copy(env, f, len);
}

// parseReply(frame) → { kind, family, peer, local, peerPort, localPort, probeSeq, ttl, window, icmpType, icmpCode } | null
Napi::Value ParseReply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) fail(env, "parseReply(frame): expected a Uint8Array");
  auto f = info[0].As<Napi::Uint8Array>();
  ParsedReply r;
  if (!parse_reply(f.Data(), f.ByteLength(), r)) return env.Null();
  static const char* kinds[] = {"none", "syn-ack", "rst", "icmp"};
  const size_t alen = r.family == 4 ? 4 : 16;
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", kinds[r.kind]);
  o.Set("family", r.family);
  o.Set("peer", Napi::Buffer<uint8_t>::Copy(env, r.peer, alen));
  o.Set("local", Napi::Buffer<uint8_t>::Copy(env, r.local, alen));
  o.Set("peerPort", r.peer_port);
  o.Set("localPort", r.local_port);
  o.Set("probeSeq", double(r.probe_seq));
  o.Set("ttl", r.ttl);
  o.Set("window", r.window);
  o.Set("icmpType", r.icmp_type);
  o.Set("icmpCode", r.icmp_code);
  return o;
}

// sipHash(key16, data) → the 64-bit SipHash-2-4 as a BigInt.
Napi::Value SipHash(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Uint8Array>();
  auto data = info[1].As<Napi::Uint8Array>();
  if (key.ByteLength() != 16) fail(env, "sipHash: key must be 16 bytes");
  return Napi::BigInt::New(env, siphash24(key.Data(), data.Data(), data.ByteLength()));
}

// synCookie(key16, family, saddr, daddr, sport, dport) → the 32-bit cookie.
Napi::Value SynCookie(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Uint8Array>();
  const int family = info[1].As<Napi::Number>().Int32Value();
  auto s = info[2].As<Napi::Uint8Array>();
  auto d = info[3].As<Napi::Uint8Array>();
  const size_t alen = family == 4 ? 4 : 16;
  if (key.ByteLength() != 16 || s.ByteLength() != alen || d.ByteLength() != alen) fail(env, "synCookie: bad sizes");
  return Napi::Number::New(env, syn_cookie(key.Data(), family, s.Data(), d.Data(),
                                           uint16_t(info[4].As<Napi::Number>().Uint32Value()),
                                           uint16_t(info[5].As<Napi::Number>().Uint32Value())));
}

}  // namespace prtip
