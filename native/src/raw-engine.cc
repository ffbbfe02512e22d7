#include "raw-engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <vector>
#include <cstring>

#include "pcap-info.h"
#include "rate-limit.h"
#include "siphash.h"

namespace prtip {

namespace {

[[noreturn]] void fail(Napi::Env env, const std::string& msg) { throw Napi::Error::New(env, msg); }

// Copies a Buffer/Uint8Array field of exactly `len` bytes; false when absent.
bool bytes_field(Napi::Env env, Napi::Object o, const char* name, uint8_t* dst, size_t len) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsTypedArray()) fail(env, std::string("RawEngine: ") + name + " must be a Uint8Array");
  auto a = v.As<Napi::Uint8Array>();
  if (a.ByteLength() != len) fail(env, std::string("RawEngine: ") + name + " must be " + std::to_string(len) + " bytes");
  memcpy(dst, a.Data(), len);
  return true;
}

double number_field(Napi::Env env, Napi::Object o, const char* name, double def) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) fail(env, std::string("RawEngine: ") + name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A byte field of any length (bounded); false when absent.
bool blob_field(Napi::Env env, Napi::Object o, const char* name, std::vector<uint8_t>& dst, size_t max_len) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsTypedArray()) fail(env, std::string("RawEngine: ") + name + " must be a Uint8Array");
  auto a = v.As<Napi::Uint8Array>();
  if (a.ByteLength() > max_len) fail(env, std::string("RawEngine: ") + name + " is longer than " + std::to_string(max_len) + " bytes");
  dst.assign(a.Data(), a.Data() + a.ByteLength());
  return true;
}

// The wire spec JS gives (native/index.ts: WireSpec), checked field by field.
void parse_wire(Napi::Env env, Napi::Object o, WireConfig& t) {
  if (!bytes_field(env, o, "srcMac", t.src_mac, 6)) fail(env, "RawEngine: srcMac is required");
  bool mac4 = bytes_field(env, o, "dstMac4", t.dst_mac4, 6);
  bool mac6 = bytes_field(env, o, "dstMac6", t.dst_mac6, 6);
  t.have4 = bytes_field(env, o, "src4", t.src4, 4);
  t.have6 = bytes_field(env, o, "src6", t.src6, 16);
  if (t.have4 && !mac4) fail(env, "RawEngine: src4 needs dstMac4 (the IPv4 next hop)");
  if (t.have6 && !mac6) fail(env, "RawEngine: src6 needs dstMac6 (the IPv6 next hop)");
  const double sp = number_field(env, o, "sourcePort", -1);
  if (!(sp >= 1 && sp <= 65535)) fail(env, "RawEngine: sourcePort must be 1-65535");
  t.source_port = uint16_t(sp);
  const double ttl = number_field(env, o, "ttl", 64);
  if (!(ttl >= 0 && ttl <= 255)) fail(env, "RawEngine: ttl must be 0-255");
  t.ttl = uint8_t(ttl);
  if (!bytes_field(env, o, "key", t.key, 16)) {
    if (getrandom(t.key, 16, 0) != 16) fail(env, "RawEngine: getrandom failed");
  }
  const double proto = number_field(env, o, "ipProto", 6);
  if (!(proto >= 0 && proto <= kProtoScan) || proto != double(uint16_t(proto)) || !l4_proto(uint16_t(proto))) {
    fail(env, "RawEngine: ipProto " + std::to_string(int(proto)) + " has no wire module in native/");
  }
  t.ip_proto = uint16_t(proto);
  const double chunk = number_field(env, o, "sctpChunk", 1);
  if (chunk != 1 && chunk != 10) fail(env, "RawEngine: sctpChunk must be 1 (INIT) or 10 (COOKIE-ECHO)");
  t.sctp_chunk = uint8_t(chunk);
  const double flags = number_field(env, o, "tcpFlags", 0x02);
  if (!(flags >= 0 && flags <= 255)) fail(env, "RawEngine: tcpFlags must be 0-255");
  t.tcp_flags = uint8_t(flags);
  t.tcp_window = uint16_t(number_field(env, o, "window", 1024));
  blob_field(env, o, "tcpOptions", t.tcp_options, 40);
  blob_field(env, o, "payload", t.payload, kMaxPayload);
  Napi::Value pp = o.Get("portPayloads");
  if (!pp.IsUndefined() && !pp.IsNull()) {
    if (!pp.IsArray()) fail(env, "RawEngine: portPayloads must be an array of [port, Uint8Array[]]");
    auto arr = pp.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      auto entry = arr.Get(i).As<Napi::Array>();
      const uint16_t port = uint16_t(entry.Get(uint32_t(0)).As<Napi::Number>().Uint32Value());
      auto list = entry.Get(uint32_t(1)).As<Napi::Array>();
      auto& dst = t.port_payloads[port];
      for (uint32_t k = 0; k < list.Length(); k++) {
        auto b = list.Get(k).As<Napi::Uint8Array>();
        dst.emplace_back(b.Data(), b.Data() + std::min<size_t>(b.ByteLength(), kMaxPayload));
      }
    }
  }
  Napi::Value bad = o.Get("badsum");
  t.badsum = bad.IsBoolean() && bad.As<Napi::Boolean>().Value();
  blob_field(env, o, "ipOptions", t.ip_options, 40);
  if (t.ip_options.size() % 4) fail(env, "RawEngine: ipOptions must be padded to a multiple of 4 bytes");
  const double frag = number_field(env, o, "fragment", 0);
  if (!(frag >= 0 && frag <= 1400) || int(frag) % 8) fail(env, "RawEngine: fragment must be a multiple of 8 up to 1400");
  t.fragment = uint16_t(frag);
  std::vector<uint8_t> d;
  if (blob_field(env, o, "decoys4", d, 4 * 256)) {
    if (d.size() % 4) fail(env, "RawEngine: decoys4 must be 4 bytes per address");
    for (size_t i = 0; i < d.size(); i += 4) { std::array<uint8_t, 4> a; memcpy(a.data(), &d[i], 4); t.decoys4.push_back(a); }
  }
  if (blob_field(env, o, "decoys6", d, 16 * 256)) {
    if (d.size() % 16) fail(env, "RawEngine: decoys6 must be 16 bytes per address");
    for (size_t i = 0; i < d.size(); i += 16) { std::array<uint8_t, 16> a; memcpy(a.data(), &d[i], 16); t.decoys6.push_back(a); }
  }
}

}  // namespace

Napi::Function RawEngine::Define(Napi::Env env) {
  return DefineClass(env, "RawEngine",
                     {InstanceMethod("start", &RawEngine::Start), InstanceMethod("enqueue", &RawEngine::Enqueue),
                      InstanceMethod("resend", &RawEngine::Resend), InstanceMethod("retire", &RawEngine::Retire),
                      InstanceMethod("answeredCount", &RawEngine::AnsweredCount),
                      InstanceMethod("roundSeconds", &RawEngine::RoundSeconds),
                      InstanceMethod("sentSeq", &RawEngine::SentSeq),
                      InstanceMethod("pendingJobs", &RawEngine::PendingJobs), InstanceMethod("setLanePace", &RawEngine::SetLanePace),
                      InstanceMethod("sentUpTo", &RawEngine::SentUpTo),
                      InstanceMethod("queuedProbes", &RawEngine::QueuedProbes),
                      InstanceMethod("setRate", &RawEngine::SetRate), InstanceMethod("setWindow", &RawEngine::SetWindow),
                      InstanceMethod("outstanding", &RawEngine::Outstanding), InstanceMethod("abandon", &RawEngine::Abandon),
                      InstanceMethod("answered", &RawEngine::Answered),
                      InstanceMethod("stats", &RawEngine::Stats), InstanceMethod("stop", &RawEngine::Stop),
                      InstanceMethod("setTrace", &RawEngine::SetTrace), InstanceMethod("takeTrace", &RawEngine::TakeTrace),
                      InstanceMethod("barrier", &RawEngine::Barrier)});
}

// new RawEngine({ ifname, srcMac, dstMac4?, dstMac6?, src4?, src6?, sourcePort, ttl?, window?, rate?, key? }, onReplies)
RawEngine::RawEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RawEngine>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    fail(env, "new RawEngine(config, onReplies): expected a config object and a function");
  }
  core_ = std::make_unique<EngineCore>();
  Napi::Object o = info[0].As<Napi::Object>();
  parse_wire(env, o, core_->wire);
  core_->have4 = core_->wire.have4;
  core_->have6 = core_->wire.have6;
  core_->proto = l4_proto(core_->wire.ip_proto);
  core_->by_key = core_->wire.ip_proto != 6 && core_->wire.ip_proto != 1;  // TCP and ICMP carry the tag in the packet
  if (!core_->have4 && !core_->have6) fail(env, "RawEngine: give src4 and/or src6");
  Napi::Value ifn = o.Get("ifname");
  if (!ifn.IsString()) fail(env, "RawEngine: ifname must be a string");
  core_->ifname = ifn.As<Napi::String>().Utf8Value();
  core_->rate = number_field(env, o, "rate", 0);
  core_->trace.on.store(o.Has("trace") && o.Get("trace").ToBoolean().Value());  // --packet-trace
  core_->min_rate = number_field(env, o, "minRate", 0);
  core_->window = uint32_t(std::max(0.0, number_field(env, o, "congestionWindow", 0)));
  for (uint32_t s = kMaxSlots; s > 0; s--) core_->free_slots.push_back(s - 1);
  tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "prtip-raw-replies", 0, 1);
  tsfn_.Unref(env);  // only a started engine keeps the process alive
}

RawEngine::~RawEngine() { Shutdown(); }

void RawEngine::Shutdown() {
  if (!core_) return;
  core_->stopping = true;
  core_->qcv.notify_all();
  if (core_->pcap) pcap_breakloop(core_->pcap);
  if (sender_.joinable()) sender_.join();
  if (receiver_.joinable()) receiver_.join();
  // A reserved handle goes back for the next engine on this interface (the drop forbids a new one).
  return_raw_handle(core_->ifname, CaptureKind::engine, handle_);
  core_->pcap = nullptr;
  core_->packet_fd = -1;
}

Napi::Value RawEngine::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) fail(env, "RawEngine.start: already started");
  EngineCore& c = *core_;
  c.ifindex = int(if_nametoindex(c.ifname.c_str()));
  if (c.ifindex == 0) fail(env, "RawEngine.start: no interface " + c.ifname);
  // The socket and the capture: reserved before a privilege drop (raw-handles.cc), else opened now.
  std::string error;
  if (!take_raw_handle(c.ifname, CaptureKind::engine, handle_, error)) fail(env, "RawEngine.start: " + error);
  c.packet_fd = handle_.fd;
  c.pcap = handle_.pcap;
  c.ip_link = handle_.ip_link;
  c.dlt = handle_.dlt;
  // Only replies to our address in the scan's protocol, and ICMP errors that may quote a probe.
  const std::string filter = capture_filter(c.wire);
  bpf_program prog;
  if (pcap_compile(c.pcap, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    fail(env, "RawEngine.start: BPF filter \"" + filter + "\": " + pcap_geterr(c.pcap));
  }
  const int set = pcap_setfilter(c.pcap, &prog);
  pcap_freecode(&prog);
  if (set != 0) fail(env, std::string("RawEngine.start: pcap_setfilter: ") + pcap_geterr(c.pcap));

  Napi::ThreadSafeFunction tsfn = tsfn_;
  c.deliver = [tsfn](std::vector<uint8_t>* batch) mutable {
    auto call = [](Napi::Env env, Napi::Function fn, std::vector<uint8_t>* d) {
      if (env != nullptr && fn != nullptr) fn.Call({Napi::Buffer<uint8_t>::Copy(env, d->data(), d->size())});
      delete d;
    };
    if (tsfn.NonBlockingCall(batch, call) != napi_ok) delete batch;
  };
  // A barrier's answer: onReplies(empty Buffer, id), queued behind the replies before it.
  c.deliver_barrier = [tsfn](uint64_t id) mutable {
    auto call = [](Napi::Env env, Napi::Function fn, uint64_t* d) {
      if (env != nullptr && fn != nullptr) fn.Call({Napi::Buffer<uint8_t>::New(env, 0), Napi::Number::New(env, double(*d))});
      delete d;
    };
    auto* d = new uint64_t(id);
    if (tsfn.NonBlockingCall(d, call) != napi_ok) delete d;
  };
  tsfn_.Ref(env);
  started_ = true;
  receiver_ = std::thread(run_receiver, std::ref(c));
  sender_ = std::thread(run_sender, std::ref(c));
  return env.Undefined();
}

uint64_t RawEngine::Push(uint32_t slot, std::shared_ptr<InFlightBatch> batch, std::vector<uint32_t> entries, size_t n, double pace, uint32_t lane) {
  std::lock_guard<std::mutex> lock(core_->qmu);
  const uint64_t seq = ++core_->next_seq;
  core_->queued_probes += n;
  batch->pending_jobs.fetch_add(1);
  (lane ? core_->lane_queue : core_->queue).push_back(SendJob{slot, std::move(batch), std::move(entries), seq, pace, lane});
  core_->qcv.notify_one();
  return seq;
}

// Entries of a Uint32Array argument below `count` (sorted, each once).
static std::vector<uint32_t> entry_list(const Napi::Value& v, uint32_t count) {
  std::vector<uint32_t> out;
  if (!v.IsTypedArray()) return out;
  auto a = v.As<Napi::Uint32Array>();
  out.reserve(a.ElementLength());
  for (size_t k = 0; k < a.ElementLength(); k++) if (a[k] < count) out.push_back(a[k]);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// enqueue(family, start, addrs, ports, macs?, hold?) → { slot, seq }, or null while every slot is in flight.
// macs: 6 bytes per probe, its next-hop MAC (hosts on the local link); absent: the template's.
// Resends of the slot reuse them (they stay with the batch). hold (Uint32Array): entries the first
// job leaves out (probes of paced hosts: JS sends them through their lanes with resend); seq 0
// when every entry is held.
Napi::Value RawEngine::Enqueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!started_ || stopped_) fail(env, "RawEngine.enqueue: engine not running");
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsTypedArray() || !info[3].IsTypedArray()) {
    fail(env, "RawEngine.enqueue(family, start, addrs, ports): bad arguments");
  }
  const int family = info[0].As<Napi::Number>().Int32Value();
  if (family != 4 && family != 6) fail(env, "RawEngine.enqueue: family must be 4 or 6");
  if ((family == 4 && !core_->have4) || (family == 6 && !core_->have6)) {
    fail(env, std::string("RawEngine.enqueue: no IPv") + (family == 4 ? "4" : "6") + " source address configured");
  }
  auto addrs = info[2].As<Napi::Uint8Array>();
  auto ports = info[3].As<Napi::Uint8Array>();
  const size_t alen = family == 4 ? 4 : 16;
  const size_t count = ports.ByteLength() / 2;
  if (ports.ByteLength() % 2 != 0 || addrs.ByteLength() != count * alen) fail(env, "RawEngine.enqueue: column sizes disagree");
  if (count == 0 || count > kMaxBatchEntries) fail(env, "RawEngine.enqueue: 1 to 1048576 probes per batch");
  const bool have_macs = info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull();
  if (have_macs && (!info[4].IsTypedArray() || info[4].As<Napi::Uint8Array>().ByteLength() != count * 6)) {
    fail(env, "RawEngine.enqueue: macs must be a Uint8Array of 6 bytes per probe");
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
  b->tries.reset(new std::atomic<uint8_t>[count]);
  for (size_t i = 0; i < count; i++) b->tries[i].store(0, std::memory_order_relaxed);
  b->in_window.reset(new std::atomic<uint8_t>[count]);
  for (size_t i = 0; i < count; i++) b->in_window[i].store(0, std::memory_order_relaxed);
  uint32_t slot;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->free_slots.empty()) return env.Null();
    slot = core_->free_slots.back();
    core_->free_slots.pop_back();
    core_->slots[slot] = b;
    if (core_->by_key) {
      for (uint32_t i = 0; i < b->count; i++) {
        core_->tag_of[probe_key(family, b->addrs.data() + size_t(i) * alen, b->port(i))] = (slot << kTagEntryBits) | i;
      }
    }
  }
  uint64_t seq = 0;
  const std::vector<uint32_t> hold = info.Length() > 5 ? entry_list(info[5], b->count) : std::vector<uint32_t>{};
  if (hold.empty()) {
    seq = Push(slot, b, {}, count);
  } else if (hold.size() < count) {
    std::vector<uint32_t> rest;
    rest.reserve(count - hold.size());
    for (uint32_t i = 0, h = 0; i < b->count; i++) {
      if (h < hold.size() && hold[h] == i) { h++; continue; }
      rest.push_back(i);
    }
    const size_t n = rest.size();
    seq = Push(slot, b, std::move(rest), n);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("slot", double(slot));
  r.Set("seq", double(seq));
  return r;
}

// resend(slot, pace?, entries?, lane?) → { seq, count } of the job re-sending the unanswered probes
// (of `entries` only, when given), or null when all were answered. pace: probes per second for
// this job (a target that rate-limits its answers); lane > 0: the job goes through that host lane.
Napi::Value RawEngine::Resend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "RawEngine.resend: bad slot");
  std::shared_ptr<InFlightBatch> b;
  std::vector<uint32_t> entries;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    b = core_->slots[slot];
    if (!b) fail(env, "RawEngine.resend: slot not in flight");
    const bool subset = info.Length() > 2 && info[2].IsTypedArray();
    const std::vector<uint32_t> only = subset ? entry_list(info[2], b->count) : std::vector<uint32_t>{};
    auto unanswered = [&](uint32_t i) { return !(b->answered[i / 64] & (1ull << (i % 64))); };
    if (subset) {
      for (uint32_t i : only) if (unanswered(i)) entries.push_back(i);
    } else {
      for (uint32_t i = 0; i < b->count; i++) if (unanswered(i)) entries.push_back(i);
    }
  }
  if (entries.empty()) return env.Null();
  const size_t n = entries.size();
  Napi::Object r = Napi::Object::New(env);
  const double pace = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
  const uint32_t lane = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : 0;
  if (lane && !(pace > 0)) fail(env, "RawEngine.resend: a lane needs a pace");
  r.Set("seq", double(Push(slot, b, std::move(entries), n, pace > 0 ? pace : 0, lane)));
  r.Set("count", double(n));
  return r;
}

// retire(slot) → the answered bitmap (bit i of byte i/8 = entry i), and the slot is free again.
Napi::Value RawEngine::Retire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "RawEngine.retire: bad slot");
  std::shared_ptr<InFlightBatch> b;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    b = std::move(core_->slots[slot]);
    if (!b) fail(env, "RawEngine.retire: slot not in flight");
    for (uint32_t i = 0; i < b->count; i++) leave_window(*core_, *b, i);  // what it still held of the window is free
    if (core_->by_key) {
      const size_t alen = b->addr_len();
      for (uint32_t i = 0; i < b->count; i++) {
        auto it = core_->tag_of.find(probe_key(b->family, b->addrs.data() + size_t(i) * alen, b->port(i)));
        if (it != core_->tag_of.end() && it->second == ((slot << kTagEntryBits) | i)) core_->tag_of.erase(it);
      }
    }
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

// answeredCount(slot) → how many probes of the slot have their answer.
Napi::Value RawEngine::AnsweredCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "RawEngine.answeredCount: bad slot");
  std::lock_guard<std::mutex> lock(core_->mu);
  if (!core_->slots[slot]) fail(env, "RawEngine.answeredCount: slot not in flight");
  return Napi::Number::New(env, double(core_->slots[slot]->answered_count));
}

// roundSeconds(slot) → how long the slot's latest job took from its first send to its last.
Napi::Value RawEngine::RoundSeconds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "RawEngine.roundSeconds: bad slot");
  std::lock_guard<std::mutex> lock(core_->mu);
  const auto& b = core_->slots[slot];
  if (!b) fail(env, "RawEngine.roundSeconds: slot not in flight");
  const uint64_t a = b->job_start_ns.load(), z = b->job_end_ns.load();
  return Napi::Number::New(env, z > a ? double(z - a) / 1e9 : 0.0);
}

// setRate(pps): the sender's pace from now on (congestion control); 0: none.
Napi::Value RawEngine::SetRate(const Napi::CallbackInfo& info) {
  const double r = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  core_->live_rate.store(r > 0 ? r : 0);
  return info.Env().Undefined();
}

// setWindow(n, timeoutMs?): most probes waiting for an answer at once (0: no limit), and how long an
// unanswered probe keeps its place.
Napi::Value RawEngine::SetWindow(const Napi::CallbackInfo& info) {
  const double w = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  core_->window.store(w >= 1 ? uint32_t(std::min(w, 4294967295.0)) : 0);
  if (info.Length() > 1 && info[1].IsNumber()) {
    const double ms = info[1].As<Napi::Number>().DoubleValue();
    if (ms > 0) core_->window_timeout_ns.store(uint64_t(std::min(ms, 86400000.0) * 1e6));
  }
  return info.Env().Undefined();
}

// abandon(slot, entries): these probes are given up (--host-timeout): marked done without an
// answer, so no resend goes to them and they leave the window; their bits read as answered.
Napi::Value RawEngine::Abandon(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray()) fail(env, "RawEngine.abandon(slot, entries): bad arguments");
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "RawEngine.abandon: bad slot");
  auto entries = info[1].As<Napi::Uint32Array>();
  std::lock_guard<std::mutex> lock(core_->mu);
  const auto& b = core_->slots[slot];
  if (!b) fail(env, "RawEngine.abandon: slot not in flight");
  for (size_t k = 0; k < entries.ElementLength(); k++) {
    const uint32_t i = entries[k];
    if (i >= b->count) continue;
    uint64_t& word = b->answered[i / 64];
    const uint64_t bit = 1ull << (i % 64);
    if (word & bit) continue;
    word |= bit;
    b->answered_count++;
    leave_window(*core_, *b, i);
  }
  return env.Undefined();
}

// answered(slot) → the slot's answered bitmap as retire returns it, the slot staying in flight.
Napi::Value RawEngine::Answered(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "RawEngine.answered: bad slot");
  std::lock_guard<std::mutex> lock(core_->mu);
  const auto& b = core_->slots[slot];
  if (!b) fail(env, "RawEngine.answered: slot not in flight");
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

Napi::Value RawEngine::Outstanding(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core_->outstanding.load()));
}

// pendingJobs(slot) → send jobs of the slot not finished yet (0: its round is all on the wire).
Napi::Value RawEngine::PendingJobs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "RawEngine.pendingJobs: bad slot");
  std::lock_guard<std::mutex> lock(core_->mu);
  const auto& b = core_->slots[slot];
  if (!b) fail(env, "RawEngine.pendingJobs: slot not in flight");
  return Napi::Number::New(env, double(b->pending_jobs.load()));
}

// sentUpTo(slot) → entries of the slot's latest job below this index are on the wire.
Napi::Value RawEngine::SentUpTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= kMaxSlots) fail(env, "RawEngine.sentUpTo: bad slot");
  std::lock_guard<std::mutex> lock(core_->mu);
  const auto& b = core_->slots[slot];
  if (!b) fail(env, "RawEngine.sentUpTo: slot not in flight");
  return Napi::Number::New(env, double(b->sent_upto.load()));
}

// setLanePace(lane, pps): a host lane's pace from now on, for the jobs already queued in it too.
Napi::Value RawEngine::SetLanePace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) fail(env, "RawEngine.setLanePace(lane, pps): bad arguments");
  const uint32_t lane = info[0].As<Napi::Number>().Uint32Value();
  const double pps = info[1].As<Napi::Number>().DoubleValue();
  if (lane == 0 || !(pps > 0)) fail(env, "RawEngine.setLanePace: lane > 0 and pps > 0");
  std::lock_guard<std::mutex> lock(core_->qmu);
  core_->lane_paces.emplace_back(lane, pps);
  core_->qcv.notify_one();
  return env.Undefined();
}

Napi::Value RawEngine::SentSeq(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core_->sent_seq.load()));
}

// setTrace(on): starts or stops copying frames for --packet-trace (the p/P keys switch it live).
Napi::Value RawEngine::SetTrace(const Napi::CallbackInfo& info) {
  core_->trace.on.store(info.Length() > 0 && info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

// takeTrace(): { frames: Buffer (TraceBuffer records), dropped } of what was traced since the
// last call, or null when nothing was.
Napi::Value RawEngine::TakeTrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<uint8_t> taken;
  uint64_t dropped;
  {
    std::lock_guard<std::mutex> lock(core_->trace.mu);
    taken.swap(core_->trace.bytes);
    dropped = core_->trace.dropped;
    core_->trace.dropped = 0;
  }
  if (taken.empty() && dropped == 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("frames", Napi::Buffer<uint8_t>::Copy(env, taken.data(), taken.size()));
  o.Set("dropped", double(dropped));
  return o;
}

// barrier(ring) → id: onReplies(empty, id) comes once every reply the receiver parsed before it
// reached JS — with `ring`, also every packet captured before this call. "Done" for a batch waits
// for it, so no reply captured in time arrives after its batch was reported.
Napi::Value RawEngine::Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!started_ || stopped_) fail(env, "RawEngine.barrier: engine not running");
  const bool ring = info.Length() > 0 && info[0].ToBoolean().Value();
  std::lock_guard<std::mutex> lock(core_->bmu);
  const uint64_t id = ++core_->next_barrier;
  core_->barriers.push_back(EngineCore::Barrier{id, ring, monotonic_ns(), uint64_t(realtime_ms() * 1000.0)});
  return Napi::Number::New(env, double(id));
}

Napi::Value RawEngine::QueuedProbes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core_->queued_probes.load()));
}

Napi::Value RawEngine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& k = core_->counters;
  Napi::Object o = Napi::Object::New(env);
  o.Set("sent", double(k.sent.load()));
  o.Set("sendErrors", double(k.send_errors.load()));
  o.Set("sendRetries", double(k.send_retries.load()));
  if (const int e = k.last_send_errno.load()) {
    o.Set("sendErrno", e);
    o.Set("sendError", std::string(strerror(e)));
  }
  o.Set("captured", double(k.captured.load()));
  o.Set("replies", double(k.replies.load()));
  o.Set("invalid", double(k.invalid.load()));
  o.Set("duplicates", double(k.duplicates.load()));
  o.Set("foreign", double(k.foreign.load()));
  o.Set("pcapDropped", double(k.pcap_dropped.load()));
  o.Set("ifDropped", double(k.if_dropped.load()));
  o.Set("rstReplies", double(k.rst_replies.load()));
  o.Set("windowWaits", double(k.window_waits.load()));
  o.Set("minRateSends", double(k.min_rate_sends.load()));
  o.Set("laneSent", double(k.lane_sent.load()));
  const uint64_t first = k.first_send_ns.load(), last = k.last_send_ns.load();
  o.Set("sendSeconds", first && last > first ? double(last - first) / 1e9 : 0.0);
  std::lock_guard<std::mutex> lock(core_->qmu);
  if (!core_->thread_error.empty()) o.Set("error", core_->thread_error);
  return o;
}

// stop() → a promise that resolves once the threads ended and every reply reached onReplies.
Napi::Value RawEngine::Stop(const Napi::CallbackInfo& info) {
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

// True when a raw engine can start: the process may open AF_PACKET sockets, or handles were
// reserved for it before its privileges were dropped.
Napi::Value HasRawAccess(const Napi::CallbackInfo& info) {
  const int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd >= 0) close(fd);
  return Napi::Boolean::New(info.Env(), fd >= 0 || have_reserved_raw_handles());
}

// The frames of one probe as the engine would send them (tests): (config, family, addr, port, tag, dstMac?).
static std::vector<std::vector<uint8_t>> frames_of(const Napi::CallbackInfo& info, const char* fn) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsObject() || !info[2].IsTypedArray()) fail(env, std::string(fn) + ": bad arguments");
  WireConfig t;
  parse_wire(env, info[0].As<Napi::Object>(), t);
  const int family = info[1].As<Napi::Number>().Int32Value();
  auto addr = info[2].As<Napi::Uint8Array>();
  if ((family != 4 && family != 6) || addr.ByteLength() != size_t(family == 4 ? 4 : 16) || (family == 4 ? !t.have4 : !t.have6)) {
    fail(env, std::string(fn) + ": family, address and source address disagree");
  }
  const uint8_t* dst_mac = nullptr;
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    if (!info[5].IsTypedArray() || info[5].As<Napi::Uint8Array>().ByteLength() != 6) fail(env, std::string(fn) + ": dstMac must be 6 bytes");
    dst_mac = info[5].As<Napi::Uint8Array>().Data();
  }
  FrameSink sink;
  build_probe_frames(t, family, addr.Data(), uint16_t(info[3].As<Napi::Number>().Uint32Value()),
                     info[4].As<Napi::Number>().Uint32Value(), sink, dst_mac);
  std::vector<std::vector<uint8_t>> out;
  for (size_t i = 0; i < sink.count(); i++) {
    const uint8_t* f = sink.bytes.data() + sink.offsets[i];
    out.emplace_back(f, f + sink.lengths[i]);
  }
  return out;
}

// buildProbeFrames(config, family, addr, port, tag, dstMac?) → Buffer[]: every frame of one probe.
Napi::Value BuildProbeFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto frames = frames_of(info, "buildProbeFrames");
  Napi::Array a = Napi::Array::New(env, frames.size());
  for (size_t i = 0; i < frames.size(); i++) a.Set(uint32_t(i), Napi::Buffer<uint8_t>::Copy(env, frames[i].data(), frames[i].size()));
  return a;
}

// buildSynFrame(config, family, addr, port, tag, dstMac?) → the one frame of a probe (SYN by default).
Napi::Value BuildSynFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto frames = frames_of(info, "buildSynFrame");
  if (frames.empty()) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, frames[0].data(), frames[0].size());
}

// parseReply(frame, config?) → { kind, family, peer, local, from, peerPort, localPort, probeSeq, ttl, window,
// tcpFlags, icmpType, icmpCode, payloadLength } | null. The config (a wire spec) says which probes
// the scan sends; default: SYN.
Napi::Value ParseReply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) fail(env, "parseReply(frame): expected a Uint8Array");
  auto f = info[0].As<Napi::Uint8Array>();
  WireConfig c;
  c.source_port = 1;
  if (info.Length() > 1 && info[1].IsObject()) parse_wire(env, info[1].As<Napi::Object>(), c);
  Reply r;
  if (!parse_frame(c, f.Data(), f.ByteLength(), r)) return env.Null();
  const char* kind = r.kind == kReplyUdp ? "udp" : r.kind == kReplyIcmp ? "icmp" : r.kind == kReplySctp ? "sctp"
                     : r.kind == kReplyProto ? "proto" : r.kind == kReplyIcmpAnswer ? "icmp-answer" : (r.tcp_flags & 0x04) ? "rst" : "syn-ack";
  const size_t alen = r.family == 4 ? 4 : 16;
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", kind);
  o.Set("family", r.family);
  o.Set("peer", Napi::Buffer<uint8_t>::Copy(env, r.peer, alen));
  o.Set("local", Napi::Buffer<uint8_t>::Copy(env, r.local, alen));
  o.Set("from", Napi::Buffer<uint8_t>::Copy(env, r.from, alen));
  o.Set("peerPort", r.peer_port);
  o.Set("localPort", r.local_port);
  if (r.has_tag_value) o.Set("probeSeq", double(r.tag_value));
  o.Set("ttl", r.ttl);
  o.Set("window", r.window);
  o.Set("tcpFlags", r.tcp_flags);
  o.Set("icmpType", r.icmp_type);
  o.Set("icmpCode", r.icmp_code);
  o.Set("payloadLength", r.payload_len);
  o.Set("sctpChunk", r.sctp_chunk);
  o.Set("ipProto", r.ip_proto);
  return o;
}

// replyLayout() → { size, kinds, fields: { name: [offset, type, length?] } }: the ReplyRecord as
// this build lays it out, so TypeScript reads it without retyped offsets.
Napi::Value ReplyLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object fields = Napi::Object::New(env);
  auto field = [&](const char* name, size_t off, const char* type, size_t len = 0) {
    Napi::Array a = Napi::Array::New(env, len ? 3 : 2);
    a.Set(uint32_t(0), double(off));
    a.Set(uint32_t(1), type);
    if (len) a.Set(uint32_t(2), double(len));
    fields.Set(name, a);
  };
#define F(name, member, type) field(name, offsetof(ReplyRecord, member), type)
#define B(name, member) field(name, offsetof(ReplyRecord, member), "bytes", sizeof(ReplyRecord::member))
  F("index", index, "f64"); F("timeMs", time_ms, "f64"); F("rttMs", rtt_ms, "f32"); F("slot", slot, "u32");
  B("addr", addr); B("from", from); F("seq", seq, "u32"); F("ack", ack, "u32");
  F("port", port, "u16"); F("window", window, "u16"); F("ipId", ip_id, "u16"); F("payloadLength", payload_len, "u16");
  F("quotedLength", quoted_len, "u16"); F("family", family, "u8"); F("kind", kind, "u8"); F("ttl", ttl, "u8");
  F("tcpFlags", tcp_flags, "u8"); F("icmpType", icmp_type, "u8"); F("icmpCode", icmp_code, "u8");
  F("tcpOptionsLength", tcp_options_len, "u8"); F("payloadHeadLength", payload_head_len, "u8");
  F("tries", tries, "u8");
  B("tcpOptions", tcp_options); B("payloadHead", payload_head); F("sctpChunk", sctp_chunk, "u8"); F("ipProto", ip_proto, "u8");
#undef F
#undef B
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("tcp", double(kReplyTcp));
  kinds.Set("udp", double(kReplyUdp));
  kinds.Set("icmp", double(kReplyIcmp));
  kinds.Set("sctp", double(kReplySctp));
  kinds.Set("proto", double(kReplyProto));
  kinds.Set("icmpAnswer", double(kReplyIcmpAnswer));
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", double(sizeof(ReplyRecord)));
  o.Set("kinds", kinds);
  o.Set("fields", fields);
  return o;
}

// wireProtocols() → [{ name, ipProto }]: the L4 wire modules this build has.
Napi::Value WireProtocols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& all = l4_protos();
  Napi::Array a = Napi::Array::New(env, all.size());
  for (size_t i = 0; i < all.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", all[i]->name);
    o.Set("ipProto", all[i]->ip_proto);
    a.Set(uint32_t(i), o);
  }
  return a;
}

// sipHash(key16, data) → the 64-bit SipHash-2-4 as a BigInt.
Napi::Value SipHash(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Uint8Array>();
  auto data = info[1].As<Napi::Uint8Array>();
  if (key.ByteLength() != 16) fail(env, "sipHash: key must be 16 bytes");
  return Napi::BigInt::New(env, siphash24(key.Data(), data.Data(), data.ByteLength()));
}

// probeCookie(key16, family, saddr, daddr, sport, dport) → the 32-bit cookie.
Napi::Value ProbeCookie(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Uint8Array>();
  const int family = info[1].As<Napi::Number>().Int32Value();
  auto s = info[2].As<Napi::Uint8Array>();
  auto d = info[3].As<Napi::Uint8Array>();
  const size_t alen = family == 4 ? 4 : 16;
  if (key.ByteLength() != 16 || s.ByteLength() != alen || d.ByteLength() != alen) fail(env, "probeCookie: bad sizes");
  return Napi::Number::New(env, probe_cookie(key.Data(), family, s.Data(), d.Data(),
                                             uint16_t(info[4].As<Napi::Number>().Uint32Value()),
                                             uint16_t(info[5].As<Napi::Number>().Uint32Value())));
}

}  // namespace prtip
