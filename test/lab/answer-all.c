/*
 * answer-all: a lab-only userspace middlebox that answers SYN-ACK on every port of every address
 * of the IPv4 ranges it is given, the way a tarpit or an answer-everything proxy does. It runs in
 * the lab's target namespace on an AF_PACKET socket bound to the target veth; the target kernel
 * has no route for these ranges (and does not forward), so nothing else answers them.
 *
 *   answer-all IFACE MODE:CIDR [MODE:CIDR ...]
 *
 * MODE tarpit  SYN → SYN-ACK with window 10 and no options (LaBrea's answer); everything after is
 *              ignored: the handshake completes on the client's side and no byte, no ACK follows.
 * MODE silent  SYN → SYN-ACK with window 65535 and MSS 1460; data and FIN are acknowledged, so
 *              the client's connection looks healthy, but not one byte is ever sent back.
 *
 * Stateless: the ISN is a hash of the 4-tuple, so a retransmitted SYN gets the same SYN-ACK and
 * the data ACKs can be computed from the client's segment alone. Used only by tests.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode { TARPIT, SILENT };
struct range { uint32_t net, mask; enum mode mode; };
static struct range ranges[16];
static int nranges;

static uint16_t csum_fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}
static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)(p[n - 1] << 8);
  return s;
}
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static uint32_t isn_of(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)src << 32 | dst) ^ ((uint64_t)sp << 16 | dp) * 0xff51afd7ed558ccdull;
  h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull; h ^= h >> 29;
  return (uint32_t)h;
}

static const struct range *range_of(uint32_t addr) {
  for (int i = 0; i < nranges; i++) if ((addr & ranges[i].mask) == ranges[i].net) return &ranges[i];
  return NULL;
}

/* Builds and sends one TCP segment back to the sender of `in` (Ethernet + IPv4 + TCP). */
static void reply(int fd, int ifindex, const uint8_t *in, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window, int mss) {
  uint8_t f[14 + 20 + 24];
  const uint8_t *ip = in + 14, *tcp = ip + (ip[0] & 15) * 4;
  int optlen = mss ? 4 : 0, tcplen = 20 + optlen, iplen = 20 + tcplen;
  memcpy(f, in + 6, 6);       /* to the sender's MAC */
  memcpy(f + 6, in, 6);       /* from the MAC it sent to */
  f[12] = 0x08; f[13] = 0x00;
  uint8_t *oip = f + 14, *otcp = oip + 20;
  memset(oip, 0, 20);
  oip[0] = 0x45; put16(oip + 2, (uint16_t)iplen); oip[6] = 0x40; oip[8] = 64; oip[9] = 6;
  memcpy(oip + 12, ip + 16, 4); memcpy(oip + 16, ip + 12, 4);
  put16(oip + 10, csum_fold(csum_add(0, oip, 20)));
  memset(otcp, 0, (size_t)tcplen);
  memcpy(otcp, tcp + 2, 2); memcpy(otcp + 2, tcp, 2);
  put32(otcp + 4, seq); put32(otcp + 8, ack);
  otcp[12] = (uint8_t)((tcplen / 4) << 4); otcp[13] = flags; put16(otcp + 14, window);
  if (mss) { otcp[20] = 2; otcp[21] = 4; put16(otcp + 22, (uint16_t)mss); }
  uint8_t pseudo[12];
  memcpy(pseudo, oip + 12, 8); pseudo[8] = 0; pseudo[9] = 6; put16(pseudo + 10, (uint16_t)tcplen);
  put16(otcp + 16, csum_fold(csum_add(csum_add(0, pseudo, 12), otcp, (size_t)tcplen)));
  struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
  memcpy(to.sll_addr, f, 6);
  if (sendto(fd, f, (size_t)(14 + iplen), 0, (struct sockaddr *)&to, sizeof to) < 0) perror("answer-all: sendto");
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: answer-all IFACE MODE:CIDR...\n"); return 2; }
  for (int i = 2; i < argc && nranges < 16; i++) {
    char mode[16], addr[64]; int len;
    if (sscanf(argv[i], "%15[a-z]:%63[0-9.]/%d", mode, addr, &len) != 3 || len < 8 || len > 32) {
      fprintf(stderr, "answer-all: bad range %s\n", argv[i]); return 2;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, addr, &a) != 1) { fprintf(stderr, "answer-all: bad address %s\n", addr); return 2; }
    uint32_t mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
    ranges[nranges].mask = mask;
    ranges[nranges].net = ntohl(a.s_addr) & mask;
    if (!strcmp(mode, "tarpit")) ranges[nranges].mode = TARPIT;
    else if (!strcmp(mode, "silent")) ranges[nranges].mode = SILENT;
    else { fprintf(stderr, "answer-all: bad mode %s\n", mode); return 2; }
    nranges++;
  }
  int ifindex = (int)if_nametoindex(argv[1]);
  if (!ifindex) { fprintf(stderr, "answer-all: no interface %s\n", argv[1]); return 1; }
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
  if (fd < 0) { perror("answer-all: socket"); return 1; }
  struct sockaddr_ll me = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifindex };
  if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) { perror("answer-all: bind"); return 1; }
  printf("answering\n");
  fflush(stdout);
  uint8_t buf[2048];
  for (;;) {
    struct sockaddr_ll from; socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n < 0) { perror("answer-all: recvfrom"); return 1; }
    if (from.sll_pkttype == PACKET_OUTGOING || n < 14 + 20 + 20) continue;
    const uint8_t *ip = buf + 14;
    if ((ip[0] >> 4) != 4 || ip[9] != 6) continue;
    int ihl = (ip[0] & 15) * 4, total = get16(ip + 2);
    if (total > n - 14 || ihl < 20 || total < ihl + 20) continue;
    const struct range *r = range_of(get32(ip + 16));
    if (!r) continue;
    const uint8_t *tcp = ip + ihl;
    uint8_t flags = tcp[13];
    uint32_t seq = get32(tcp + 4);
    uint32_t isn = isn_of(get32(ip + 12), get32(ip + 16), get16(tcp), get16(tcp + 2));
    int datalen = total - ihl - (tcp[12] >> 4) * 4;
    if (flags & 0x04) continue;                                   /* RST: nothing to say */
    if ((flags & 0x12) == 0x02) {                                 /* SYN */
      if (r->mode == TARPIT) reply(fd, ifindex, buf, 0x12, isn, seq + 1, 10, 0);
      else reply(fd, ifindex, buf, 0x12, isn, seq + 1, 65535, 1460);
      continue;
    }
    if (r->mode == SILENT && (datalen > 0 || (flags & 0x01))) {   /* data or FIN: ACK it, send nothing */
      reply(fd, ifindex, buf, 0x10, isn + 1, seq + (uint32_t)datalen + (flags & 0x01), 65535, 0);
    }
  }
}
