// The wire: what a raw probe looks like (WireConfig, from the scan's probe module), how the frames
// of one probe are built (Ethernet + IPv4/IPv6 with options, fragments and decoys + one L4 part),
// and how a captured frame becomes a Reply. Each L4 protocol is one file (proto-tcp.cc,
// proto-udp.cc) behind the L4Proto interface; wire-ip.cc does everything below L4.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace prtip {

// The probe's tag (which batch slot and entry it is). TCP carries it on top of the cookie in the
// sequence number (and the ack number when the ACK flag is set): seq = cookie + tag. Protocols
// without room for it (UDP) find the probe by its (address, port) instead.
constexpr unsigned kTagEntryBits = 20;
constexpr uint32_t kTagEntryMask = (1u << kTagEntryBits) - 1;
constexpr uint32_t kMaxSlots = 1u << (32 - kTagEntryBits);  // 4096 batches in flight
constexpr uint32_t kMaxBatchEntries = 1u << kTagEntryBits;   // 1,048,576 probes per batch

// Largest frame of one probe (Ethernet + IPv6 + 60-byte IPv4 options room + L4 + payload), and the
// most frames one probe may need (every payload of a port × decoys × fragments).
constexpr size_t kMaxFrame = 1514;
constexpr size_t kMaxPayload = 1400;
constexpr size_t kMaxFramesPerProbe = 4096;

// WireConfig::ip_proto of the IP protocol scan (-sO, and -PO pings): not a protocol number but
// "each probe's IP protocol is its port" (0-255), with a header fit for that protocol.
constexpr uint16_t kProtoScan = 256;

// What every probe of a scan shares: addresses, the L4 protocol and its header fields, payloads,
// and the evasion options of the IP layer.
struct WireConfig {
  uint8_t src_mac[6] = {0};
  uint8_t dst_mac4[6] = {0};  // next hop for IPv4 targets
  uint8_t dst_mac6[6] = {0};  // next hop for IPv6 targets
  uint8_t src4[4] = {0};
  uint8_t src6[16] = {0};
  bool have4 = false, have6 = false;
  uint16_t source_port = 0;
  uint8_t ttl = 64;            // IPv4 TTL / IPv6 hop limit
  uint8_t key[16] = {0};       // SipHash key, random per scan
  uint16_t ip_proto = 6;       // 6 TCP, 17 UDP, 132 SCTP, kProtoScan
  // TCP
  uint8_t tcp_flags = 0x02;    // FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128
  uint16_t tcp_window = 1024;
  std::vector<uint8_t> tcp_options{2, 4, 0x05, 0xb4};  // MSS 1460, as nmap's SYN scan sends
  // SCTP: the one chunk of a probe, 1 INIT (-sY, -PY) or 10 COOKIE-ECHO (-sZ)
  uint8_t sctp_chunk = 1;
  // Payload: `payload` goes in every probe unless the port has its own list (UDP: nmap-payloads;
  // each payload of a port is a datagram of its own, sent together).
  std::vector<uint8_t> payload;
  std::unordered_map<uint16_t, std::vector<std::vector<uint8_t>>> port_payloads;
  bool badsum = false;         // a wrong L4 checksum (targets drop such probes; middleboxes may not)
  std::vector<uint8_t> ip_options;  // IPv4 options, padded to a multiple of 4 (≤ 40 bytes)
  uint16_t fragment = 0;       // IPv4: L4 bytes per fragment (a multiple of 8), 0: no fragments
  // Decoys: each probe goes out once per source, in this order; the entry equal to our own
  // address (ME) is the real one. Empty: only our own.
  std::vector<std::array<uint8_t, 4>> decoys4;
  std::vector<std::array<uint8_t, 16>> decoys6;
};

// Reply kinds: which protocol answered.
// kReplyIcmpAnswer: an ICMP answer to an ICMP discovery probe (echo, timestamp or mask reply).
// kReplyProto: a packet of another protocol answering a protocol-scan probe (ICMP echo reply, …).
enum ReplyKind : uint8_t { kReplyNone = 0, kReplyTcp = 1, kReplyUdp = 2, kReplyIcmp = 3, kReplySctp = 4, kReplyProto = 5, kReplyIcmpAnswer = 6 };

// A reply as JS receives it: fixed-size structs packed in one Buffer, in this machine's byte order.
// native exports the offsets (replyLayout()), so TypeScript never retypes them.
struct ReplyRecord {
  double index;          // permutation index of the probe
  double time_ms;        // capture time, ms since the epoch
  float rtt_ms;          // -1: unknown
  uint32_t slot;
  uint8_t addr[16];      // the probe's destination
  uint8_t from[16];      // the reply's IP source (ICMP errors: the host or router that sent it)
  uint32_t seq, ack;     // TCP reply: its sequence and ack numbers
  uint16_t port;         // the probe's destination port
  uint16_t window;       // TCP window of the reply
  uint16_t ip_id;        // IPv4 ID of the reply (IPv6: 0)
  uint16_t payload_len;  // UDP reply: its payload length
  uint16_t quoted_len;   // ICMP error: the quoted probe's IP total length (IPv6: payload length)
  uint8_t family;        // 4 or 6
  uint8_t kind;          // ReplyKind
  uint8_t ttl;           // of the reply packet
  uint8_t tcp_flags;
  uint8_t icmp_type, icmp_code;
  uint8_t tcp_options_len;
  uint8_t payload_head_len;
  uint8_t tries;         // times the probe was sent when this reply came (1: an RTT sample; more: none, Karn)
  uint8_t tcp_options[40];
  uint8_t payload_head[32];  // UDP reply: the first payload bytes
  uint8_t sctp_chunk;        // SCTP reply: its first chunk's type (2 INIT-ACK, 6 ABORT)
  uint8_t ip_proto;          // the IP protocol the reply answers (protocol scan: the probe's "port")
};

// A captured frame as the receiver understood it (before it is matched to a probe).
struct Reply {
  ReplyKind kind = kReplyNone;
  int family = 0;
  uint8_t ip_proto = 0;      // the L4 protocol of the probe this answers (6, 17, 132; protocol scan: any)
  uint8_t peer[16] = {0};    // the target's address (the probe's destination)
  uint8_t local[16] = {0};   // our address (the probe's source)
  uint8_t from[16] = {0};    // the reply's IP source
  uint16_t peer_port = 0;    // the probe's destination port
  uint16_t local_port = 0;   // the probe's source port
  bool has_tag_value = false;
  uint32_t tag_value = 0;    // TCP: the probe's sequence number (cookie + tag) as the reply reveals it
  bool has_alt_tag_value = false;
  uint32_t alt_tag_value = 0;  // a second reading (a SYN-ACK may acknowledge the SYN but not its payload)
  uint8_t ttl = 0;
  uint16_t ip_id = 0;
  uint32_t seq = 0, ack = 0;
  uint16_t window = 0;
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0, icmp_code = 0;
  uint16_t quoted_len = 0;
  const uint8_t* tcp_options = nullptr;
  uint8_t tcp_options_len = 0;
  const uint8_t* payload = nullptr;
  uint16_t payload_len = 0;
  uint8_t sctp_chunk = 0;    // SCTP: the first chunk's type
};

// One L4 protocol. build() writes the L4 header and payload of a probe (checksum included, over
// the pseudo-header of saddr/daddr); parse() reads a direct reply; parse_quoted() reads the first
// 8 bytes of the probe an ICMP error quotes; bpf() is this protocol's part of the capture filter.
// Before parse()/parse_quoted() run, out.ip_proto holds the packet's (or quoted packet's) IP
// protocol and out.local_port the scan's source port (protocols without ports keep it).
struct L4Proto {
  const char* name;
  uint16_t ip_proto;
  size_t (*build)(const WireConfig& c, int family, const uint8_t* saddr, const uint8_t* daddr, uint16_t dport,
                  uint32_t tag, const uint8_t* payload, size_t payload_len, uint8_t* out);
  bool (*parse)(const WireConfig& c, const uint8_t* l4, size_t len, Reply& out);
  bool (*parse_quoted)(const uint8_t* l4, size_t len, Reply& out);
  std::string (*bpf)(const WireConfig& c);
  const char* (*selftest)();
};

extern const L4Proto kTcpProto;  // proto-tcp.cc
extern const L4Proto kUdpProto;  // proto-udp.cc
extern const L4Proto kSctpProto;  // proto-sctp.cc
extern const L4Proto kIcmpProto;  // proto-icmp.cc (ip_proto 1: ICMP on IPv4, ICMPv6 on IPv6)
// The IP protocol number an ICMP discovery probe carries on IPv6: ICMPv6 (58).
inline bool icmp_probe_v6(const WireConfig& c, int family) { return c.ip_proto == 1 && family == 6; }
extern const L4Proto kIpProtoScan;  // proto-ipproto.cc (ip_proto kProtoScan)
// The protocol module for an IP protocol number (or kProtoScan), nullptr when native has none.
const L4Proto* l4_proto(uint16_t ip_proto);

// SCTP pieces other probes reuse (the protocol scan's SCTP probe, -PY pings): CRC32c (RFC 9260
// appendix A), and a whole SCTP packet with one INIT chunk (vtag 0) or one COOKIE-ECHO chunk
// (vtag `tag`), checksum included. `tag`: the INIT's initiate tag / the COOKIE-ECHO's vtag.
uint32_t crc32c(const uint8_t* data, size_t len);
size_t sctp_build_chunk_packet(const WireConfig& c, uint8_t chunk, uint16_t sport, uint16_t dport, uint32_t tag,
                               const uint8_t* payload, size_t payload_len, uint8_t* out);
// Every protocol native knows (for self-tests and the capabilities JS asks about).
const std::vector<const L4Proto*>& l4_protos();

// cookie = low 32 bits of SipHash-2-4(key, saddr ‖ daddr ‖ sport ‖ dport), the probe's 4-tuple.
uint32_t probe_cookie(const uint8_t key[16], int family, const uint8_t* saddr, const uint8_t* daddr,
                      uint16_t sport, uint16_t dport);
// IP ID of IPv4 probes: other bits of the same hash, so probes do not share an ID.
uint16_t probe_ip_id(const uint8_t key[16], const uint8_t* daddr, uint16_t dport);
// Checksum of an L4 segment over its pseudo-header (family 4: 4-byte addresses, 6: 16-byte).
uint16_t l4_checksum(int family, uint8_t proto, const uint8_t* saddr, const uint8_t* daddr, const uint8_t* segment, size_t len);

// Collects the frames of one probe: a flat buffer and each frame's length.
struct FrameSink {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> offsets, lengths;
  void clear() { bytes.clear(); offsets.clear(); lengths.clear(); }
  uint8_t* add(size_t max_len) {
    offsets.push_back(uint32_t(bytes.size()));
    lengths.push_back(0);
    bytes.resize(bytes.size() + max_len);
    return bytes.data() + offsets.back();
  }
  void set_last_length(size_t len) {
    lengths.back() = uint32_t(len);
    bytes.resize(offsets.back() + len);
  }
  size_t count() const { return offsets.size(); }
};

// Appends every frame of the probe (dst, dport, tag) to `sink`: one per payload of the port × one
// per decoy source × one per fragment. `dst_mac`: the Ethernet destination, nullptr for the
// template's next hop of the family. Returns the number of frames added.
size_t build_probe_frames(const WireConfig& c, int family, const uint8_t* daddr, uint16_t dport, uint32_t tag,
                          FrameSink& sink, const uint8_t* dst_mac = nullptr);

// Parses an Ethernet frame: a reply in the scan's L4 protocol, or an ICMP/ICMPv6 error quoting a
// probe of it. Reads in place; false for anything else or anything truncated.
bool parse_frame(const WireConfig& c, const uint8_t* frame, size_t len, Reply& out);

// Link layers (pcap's datalink type, DLT_*): where a captured packet's IP header starts and its
// ethertype (0x0800, 0x86dd). Ethernet (with VLAN tags), raw IP (tun, WireGuard, ipip/gre), Linux
// cooked v1/v2 (ppp, …), BSD loopback. False for other link types or a truncated header.
bool link_payload(int dlt, const uint8_t* frame, size_t len, size_t& ip_offset, uint16_t& ethertype);
bool link_supported(int dlt);
// parse_frame for a packet captured on a link of type `dlt`.
bool parse_link_frame(const WireConfig& c, int dlt, const uint8_t* frame, size_t len, Reply& out);
// The IP packet (ethertype 0x0800 or 0x86dd) part of parse_frame.
bool parse_ip_packet(const WireConfig& c, uint16_t ethertype, const uint8_t* ip, size_t len, Reply& out);

// The capture filter: replies to our addresses in the scan's protocol, and ICMP errors.
std::string capture_filter(const WireConfig& c);

// Self-test of the IP layer (frames, fragments, decoys, options); each L4Proto has its own. nullptr or what failed.
const char* wire_selftest();

inline void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}
inline uint16_t get16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline uint32_t get32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

}  // namespace prtip
