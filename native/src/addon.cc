// The one entry point of the native engine: a thin, typed boundary; all policy lives in JS.
#include <napi.h>

#include "checksum.h"
#include "pcap-info.h"
#include "siphash.h"
#include "raw-engine.h"
#include "raw-handles.h"
#include "wire.h"

namespace prtip {
Napi::Function DefineRawExchange(Napi::Env env);  // raw-exchange.cc
const char* raw_exchange_selftest();
}  // namespace prtip

namespace {

Napi::Value PcapVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), prtip::pcap_version());
}

Napi::Value ListInterfaces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<prtip::CaptureInterface> ifaces;
  std::string error;
  if (!prtip::list_capture_interfaces(ifaces, error)) {
    Napi::Error::New(env, "pcap_findalldevs failed: " + error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array result = Napi::Array::New(env, ifaces.size());
  for (size_t i = 0; i < ifaces.size(); i++) {
    const auto& f = ifaces[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", f.name);
    o.Set("description", f.description);
    o.Set("loopback", f.loopback);
    o.Set("up", f.up);
    o.Set("running", f.running);
    Napi::Array addrs = Napi::Array::New(env, f.addresses.size());
    for (size_t j = 0; j < f.addresses.size(); j++) {
      Napi::Object a = Napi::Object::New(env);
      a.Set("family", f.addresses[j].family);
      a.Set("address", f.addresses[j].address);
      if (!f.addresses[j].netmask.empty()) a.Set("netmask", f.addresses[j].netmask);
      addrs.Set(j, a);
    }
    o.Set("addresses", addrs);
    result.Set(i, o);
  }
  return result;
}

// checksum(buffer[, initialSum]) → the Internet checksum of the bytes (for tests and JS-built packets).
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "checksum(buffer): expected a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto arr = info[0].As<Napi::Uint8Array>();
  uint32_t initial = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  return Napi::Number::New(env, prtip::checksum_fold(prtip::checksum_add(initial, arr.Data(), arr.ByteLength())));
}

// selfTest() → null when every native self-test passes, else the name of the one that failed.
Napi::Value SelfTest(const Napi::CallbackInfo& info) {
  const char* failure = prtip::checksum_selftest();
  if (failure) return Napi::String::New(info.Env(), std::string("checksum: ") + failure);
  failure = prtip::siphash_selftest();
  if (failure) return Napi::String::New(info.Env(), std::string("siphash: ") + failure);
  failure = prtip::wire_selftest();
  if (failure) return Napi::String::New(info.Env(), std::string("wire-ip: ") + failure);
  for (const prtip::L4Proto* p : prtip::l4_protos()) {
    failure = p->selftest();
    if (failure) return Napi::String::New(info.Env(), std::string("proto-") + p->name + ": " + failure);
  }
  failure = prtip::raw_exchange_selftest();
  if (failure) return Napi::String::New(info.Env(), std::string("raw-exchange: ") + failure);
  return info.Env().Null();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pcapVersion", Napi::Function::New(env, PcapVersion));
  exports.Set("listInterfaces", Napi::Function::New(env, ListInterfaces));
  exports.Set("checksum", Napi::Function::New(env, Checksum));
  exports.Set("selfTest", Napi::Function::New(env, SelfTest));
  exports.Set("hasRawAccess", Napi::Function::New(env, prtip::HasRawAccess));
  exports.Set("buildProbeFrames", Napi::Function::New(env, prtip::BuildProbeFrames));
  exports.Set("buildSynFrame", Napi::Function::New(env, prtip::BuildSynFrame));
  exports.Set("parseReply", Napi::Function::New(env, prtip::ParseReply));
  exports.Set("sipHash", Napi::Function::New(env, prtip::SipHash));
  exports.Set("probeCookie", Napi::Function::New(env, prtip::ProbeCookie));
  exports.Set("replyLayout", Napi::Function::New(env, prtip::ReplyLayout));
  exports.Set("wireProtocols", Napi::Function::New(env, prtip::WireProtocols));
  exports.Set("reserveRawHandles", Napi::Function::New(env, prtip::ReserveRawHandles));
  exports.Set("reservedRawHandles", Napi::Function::New(env, prtip::ReservedRawHandles));
  exports.Set("closeRawHandles", Napi::Function::New(env, prtip::CloseRawHandles));
  exports.Set("RawEngine", prtip::RawEngine::Define(env));
  exports.Set("RawExchange", prtip::DefineRawExchange(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(prtip_native, Init)
