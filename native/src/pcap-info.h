// What libpcap can tell us about the machine: its version and the capture-capable interfaces.
#pragma once
#include <string>
#include <vector>

namespace prtip {

struct InterfaceAddress {
  int family;  // 4 or 6
  std::string address;
  std::string netmask;
};

struct CaptureInterface {
  std::string name;
  std::string description;
  bool loopback;
  bool up;
  bool running;
  std::vector<InterfaceAddress> addresses;
};

std::string pcap_version();
// Fills `out`; on failure returns false and sets `error` to libpcap's message.
bool list_capture_interfaces(std::vector<CaptureInterface>& out, std::string& error);

}  // namespace prtip
