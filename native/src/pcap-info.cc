#include "pcap-info.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

// Newer than glibc's <net/if_arp.h> (values from the kernel's linux/if_arp.h).
#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif
#ifndef ARPHRD_IP6GRE
#define ARPHRD_IP6GRE 823
#endif

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

int interface_hw_type(const std::string& ifname) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  ifreq req{};
  strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  const int rc = ioctl(fd, SIOCGIFHWADDR, &req);
  close(fd);
  return rc == 0 ? req.ifr_hwaddr.sa_family : -1;
}

LinkSend link_send_of(int hw_type) {
  switch (hw_type) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK:
      return LinkSend::kEthernet;
    case ARPHRD_NONE:     // tun (IFF_TUN), WireGuard
    case ARPHRD_PPP:
    case ARPHRD_RAWIP:
    case ARPHRD_TUNNEL:   // ipip
    case ARPHRD_TUNNEL6:  // ip6tnl
    case ARPHRD_SIT:
    case ARPHRD_IPGRE:
    case ARPHRD_IP6GRE:
      return LinkSend::kIp;
    default:
      return LinkSend::kUnsupported;
  }
}

std::string hw_type_name(int hw_type) {
  switch (hw_type) {
    case ARPHRD_ETHER: return "ether";
    case ARPHRD_LOOPBACK: return "loopback";
    case ARPHRD_NONE: return "none (tun/WireGuard)";
    case ARPHRD_PPP: return "ppp";
    case ARPHRD_RAWIP: return "rawip";
    case ARPHRD_TUNNEL: return "ipip";
    case ARPHRD_TUNNEL6: return "ip6tnl";
    case ARPHRD_SIT: return "sit";
    case ARPHRD_IPGRE: return "gre";
    case ARPHRD_IP6GRE: return "ip6gre";
    case ARPHRD_INFINIBAND: return "infiniband";
    case ARPHRD_IEEE80211_RADIOTAP: return "802.11 radiotap";
    default: return "ARPHRD " + std::to_string(hw_type);
  }
}

}  // namespace prtip
