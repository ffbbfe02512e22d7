// SynEngine: the JS-facing object of the SYN scan engine (Napi::ObjectWrap). JS hands it probe
// batches and decides retries and timeouts; the engine sends, receives, validates and reports.
#pragma once
#include <napi.h>

#include <memory>
#include <thread>

#include "engine-core.h"

namespace prtip {

class SynEngine : public Napi::ObjectWrap<SynEngine> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SynEngine(const Napi::CallbackInfo& info);
  ~SynEngine() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Enqueue(const Napi::CallbackInfo& info);
  Napi::Value Resend(const Napi::CallbackInfo& info);
  Napi::Value Retire(const Napi::CallbackInfo& info);
  Napi::Value SentSeq(const Napi::CallbackInfo& info);
  Napi::Value QueuedProbes(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);

  void Shutdown();
  uint64_t Push(uint32_t slot, std::shared_ptr<InFlightBatch> batch, std::vector<uint32_t> entries, size_t n);

  std::unique_ptr<EngineCore> core_;
  std::thread sender_, receiver_;
  bool started_ = false, stopped_ = false;
  Napi::ThreadSafeFunction tsfn_;
  std::unique_ptr<Napi::Promise::Deferred> stopped_deferred_;
};

// Module-level helpers for tests and the CLI.
Napi::Value HasRawAccess(const Napi::CallbackInfo& info);
Napi::Value BuildSynFrame(const Napi::CallbackInfo& info);
Napi::Value ParseReply(const Napi::CallbackInfo& info);
Napi::Value SipHash(const Napi::CallbackInfo& info);
Napi::Value SynCookie(const Napi::CallbackInfo& info);

}  // namespace prtip
