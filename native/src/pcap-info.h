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

// How raw probes go out on an interface, from its hardware type (ARPHRD_*, SIOCGIFHWADDR).
enum class LinkSend {
  kEthernet,  // Ethernet and loopback: whole frames (SOCK_RAW), a next-hop MAC in each
  kIp,        // tun, WireGuard, ppp, ipip/gre/sit tunnels: IP packets (SOCK_DGRAM), no link address
  kUnsupported,
};
// The interface's ARPHRD type, or -1 (errno set) when it cannot be read.
int interface_hw_type(const std::string& ifname);
LinkSend link_send_of(int hw_type);
// A short name for an ARPHRD type, for messages ("none (tun)", "ppp", …).
std::string hw_type_name(int hw_type);

}  // namespace prtip
