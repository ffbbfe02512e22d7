// Frame templates for TCP SYN probes (Ethernet + IPv4/IPv6 + TCP with options), their checksums
// (IPv4 header, TCP over the IPv4 or IPv6 pseudo-header), and the stateless cookie that ties a
// reply to its probe.
#pragma once
#include <cstddef>
#include <cstdint>

namespace prtip {

// What every SYN of a scan shares.
struct SynTemplateConfig {
  uint8_t src_mac[6];
  uint8_t dst_mac4[6];  // next hop for IPv4 targets
  uint8_t dst_mac6[6];  // next hop for IPv6 targets
  uint8_t src4[4];
  uint8_t src6[16];
  uint16_t source_port;
  uint8_t ttl;          // IPv4 TTL / IPv6 hop limit
  uint16_t window;
  uint8_t key[16];      // SipHash key, random per scan
};

// The SYN's TCP options: MSS 1460 (kind 2, length 4), as nmap's SYN scan sends.
constexpr size_t kSynOptionsLen = 4;
constexpr size_t kTcpSynLen = 20 + kSynOptionsLen;
constexpr size_t kSynFrameLen4 = 14 + 20 + kTcpSynLen;  // 58
constexpr size_t kSynFrameLen6 = 14 + 40 + kTcpSynLen;  // 78
constexpr size_t kMaxSynFrame = kSynFrameLen6;

// The probe's tag (which batch slot and entry it is) rides in the sequence number on top of the
// cookie: seq = cookie + tag. A reply's ack − 1 − cookie gives the tag back; the tag is valid only
// when it names an in-flight probe with exactly the reply's address and port.
constexpr unsigned kTagEntryBits = 20;
constexpr uint32_t kTagEntryMask = (1u << kTagEntryBits) - 1;
constexpr uint32_t kMaxSlots = 1u << (32 - kTagEntryBits);  // 4096 batches in flight
constexpr uint32_t kMaxBatchEntries = 1u << kTagEntryBits;   // 1,048,576 probes per batch

// cookie = low 32 bits of SipHash-2-4(key, saddr ‖ daddr ‖ sport ‖ dport), the SYN's 4-tuple.
uint32_t syn_cookie(const uint8_t key[16], int family, const uint8_t* saddr, const uint8_t* daddr,
                    uint16_t sport, uint16_t dport);
// IP ID of IPv4 probes: other bits of the same hash, so probes do not share an ID.
uint16_t syn_ip_id(const uint8_t key[16], const uint8_t* daddr, uint16_t dport);

// Writes one SYN frame for (daddr, dport) carrying `tag`; returns its length. `dst_mac` is the
// Ethernet destination (the probe's next hop), nullptr for the template's next hop of the family.
size_t build_syn_frame(const SynTemplateConfig& c, int family, const uint8_t* daddr, uint16_t dport,
                       uint32_t tag, uint8_t* out, const uint8_t* dst_mac = nullptr);

// Checksum of a TCP segment over its pseudo-header (family 4: 4-byte addresses, 6: 16-byte).
uint16_t tcp_checksum(int family, const uint8_t* saddr, const uint8_t* daddr, const uint8_t* segment, size_t len);

// A reply as the receiver understood it.
enum ReplyKind : uint8_t { kReplyNone = 0, kReplySynAck = 1, kReplyRst = 2, kReplyIcmp = 3 };

struct ParsedReply {
  ReplyKind kind = kReplyNone;
  int family = 0;
  uint8_t peer[16] = {0};   // the target's address (the probe's destination)
  uint8_t local[16] = {0};  // our address (the probe's source)
  uint16_t peer_port = 0;   // the probe's destination port
  uint16_t local_port = 0;  // the probe's source port
  uint32_t probe_seq = 0;   // the SYN's sequence number, as the reply reveals it
  uint8_t ttl = 0;          // of the reply packet
  uint16_t window = 0;
  uint8_t icmp_type = 0, icmp_code = 0;
};

// Parses an Ethernet frame: a TCP SYN-ACK or RST, or an ICMP/ICMPv6 destination unreachable that
// quotes a TCP probe. Reads in place (no copies); false for anything else or anything truncated.
bool parse_reply(const uint8_t* frame, size_t len, ParsedReply& out);

const char* templ_selftest();

}  // namespace prtip
