// Raw handles opened ahead of time: a send socket (AF_PACKET) and a capture (libpcap) per engine,
// opened while the process still has root (or CAP_NET_RAW), so a scan can drop its privileges
// before it sends a probe or reads a reply. Engines take a reserved handle for their interface
// and give it back when they stop, so sessions opened one after another reuse a few handles.
#pragma once

#include <napi.h>
#include <pcap/pcap.h>

#include <string>

namespace prtip {

// Captures differ in how libpcap sets them up before activation (snaplen, immediate mode, ring).
enum class CaptureKind { engine, exchange };

struct RawHandle {
  int fd = -1;            // AF_PACKET, protocol 0, bound to the interface: SOCK_RAW, or SOCK_DGRAM on an IP link
  pcap_t* pcap = nullptr; // activated, inbound only, non-blocking, filter: nothing
  bool ip_link = false;   // tun, ppp, tunnels: bare IP packets go out (the frame's Ethernet header stays behind)
  int dlt = 0;            // the capture's datalink (where a reply's IP header starts)
  bool pooled = false;    // taken from the reserve: goes back to it, is not closed
};

// A reserved handle for (ifname, kind), else a freshly opened one. False with `error` when neither.
bool take_raw_handle(const std::string& ifname, CaptureKind kind, RawHandle& out, std::string& error);
// Back to the reserve (filter reset to nothing, ring drained) when it came from it; else closed.
void return_raw_handle(const std::string& ifname, CaptureKind kind, RawHandle& h);
// True when some handle is reserved (raw access survives a privilege drop through them).
bool have_reserved_raw_handles();

Napi::Value ReserveRawHandles(const Napi::CallbackInfo& info);   // (ifname, kind, count) → reserved now
Napi::Value ReservedRawHandles(const Napi::CallbackInfo& info);  // (ifname, kind) → count
Napi::Value CloseRawHandles(const Napi::CallbackInfo& info);     // () → closes every reserved handle

}  // namespace prtip
