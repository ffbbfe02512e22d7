// RawEngine: the JS-facing object of the raw-packet engine (Napi::ObjectWrap), one per address
// family and probe module of a scan. Its WireConfig says what a probe looks like (any TCP flags,
// UDP with payloads, evasion options); JS hands it probe batches and decides retries and
// timeouts; the engine sends, receives, validates and reports.
#pragma once
#include <napi.h>

#include <memory>
#include <thread>

#include "engine-core.h"
#include "raw-handles.h"

namespace prtip {

class RawEngine : public Napi::ObjectWrap<RawEngine> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RawEngine(const Napi::CallbackInfo& info);
  ~RawEngine() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Enqueue(const Napi::CallbackInfo& info);
  Napi::Value Resend(const Napi::CallbackInfo& info);
  Napi::Value Retire(const Napi::CallbackInfo& info);
  Napi::Value AnsweredCount(const Napi::CallbackInfo& info);
  Napi::Value RoundSeconds(const Napi::CallbackInfo& info);
  Napi::Value SentSeq(const Napi::CallbackInfo& info);
  Napi::Value PendingJobs(const Napi::CallbackInfo& info);
  Napi::Value SetLanePace(const Napi::CallbackInfo& info);
  Napi::Value SentUpTo(const Napi::CallbackInfo& info);
  Napi::Value QueuedProbes(const Napi::CallbackInfo& info);
  Napi::Value SetRate(const Napi::CallbackInfo& info);
  Napi::Value SetWindow(const Napi::CallbackInfo& info);
  Napi::Value Outstanding(const Napi::CallbackInfo& info);
  Napi::Value Abandon(const Napi::CallbackInfo& info);
  Napi::Value Answered(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value SetTrace(const Napi::CallbackInfo& info);
  Napi::Value TakeTrace(const Napi::CallbackInfo& info);
  Napi::Value Barrier(const Napi::CallbackInfo& info);

  void Shutdown();
  uint64_t Push(uint32_t slot, std::shared_ptr<InFlightBatch> batch, std::vector<uint32_t> entries, size_t n, double pace = 0, uint32_t lane = 0);

  std::unique_ptr<EngineCore> core_;
  std::thread sender_, receiver_;
  bool started_ = false, stopped_ = false;
  RawHandle handle_;  // the socket and capture core_ uses while started
  Napi::ThreadSafeFunction tsfn_;
  std::unique_ptr<Napi::Promise::Deferred> stopped_deferred_;
};

// Module-level helpers for tests and the CLI.
Napi::Value HasRawAccess(const Napi::CallbackInfo& info);
Napi::Value BuildProbeFrames(const Napi::CallbackInfo& info);
Napi::Value BuildSynFrame(const Napi::CallbackInfo& info);
Napi::Value ParseReply(const Napi::CallbackInfo& info);
Napi::Value SipHash(const Napi::CallbackInfo& info);
Napi::Value ProbeCookie(const Napi::CallbackInfo& info);
Napi::Value ReplyLayout(const Napi::CallbackInfo& info);
Napi::Value WireProtocols(const Napi::CallbackInfo& info);

}  // namespace prtip
