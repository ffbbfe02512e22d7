#include "pcap-info.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/socket.h>

namespace prtip {

std::string pcap_version() { return pcap_lib_version(); }

static bool format_sockaddr(const sockaddr* sa, int& family, std::string& text) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa == nullptr) return false;
  if (sa->sa_family == AF_INET) {
    family = 4;
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    family = 6;
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  } else {
    return false;
  }
  text = buf;
  return true;
}

bool list_capture_interfaces(std::vector<CaptureInterface>& out, std::string& error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_if_t* devs = nullptr;
  if (pcap_findalldevs(&devs, errbuf) != 0) {
    error = errbuf;
    return false;
  }
  for (pcap_if_t* d = devs; d != nullptr; d = d->next) {
    CaptureInterface iface;
    iface.name = d->name;
    iface.description = d->description ? d->description : "";
    iface.loopback = (d->flags & PCAP_IF_LOOPBACK) != 0;
    iface.up = (d->flags & PCAP_IF_UP) != 0;
    iface.running = (d->flags & PCAP_IF_RUNNING) != 0;
    for (pcap_addr_t* a = d->addresses; a != nullptr; a = a->next) {
      InterfaceAddress addr;
      if (!format_sockaddr(a->addr, addr.family, addr.address)) continue;
      int mask_family = 0;
      if (!format_sockaddr(a->netmask, mask_family, addr.netmask)) addr.netmask.clear();
      iface.addresses.push_back(addr);
    }
    out.push_back(iface);
  }
  pcap_freealldevs(devs);
  return true;
}

}  // namespace prtip
