/*
 * The path's ceiling for bench/syn: a plain C loop that sends TCP SYN frames on an AF_PACKET
 * socket with PACKET_QDISC_BYPASS in sendmmsg batches, as fast as it can, no pacing, no capture.
 * Each frame is built (addresses, checksums) as prtip's sender builds it, so the per-packet work
 * is comparable. Prints "<frames> <seconds>" (first to last sendmmsg).
 *
 *   cc -O2 -o sendmmsg-loop bench/sendmmsg-loop.c
 *   sendmmsg-loop IFACE SRC_MAC DST_MAC SRC_IP DST_NET(a.b.0.0) COUNT [BATCH]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <errno.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void mac(const char *s, uint8_t *out) {
  unsigned v[6];
  sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
  for (int i = 0; i < 6; i++) out[i] = (uint8_t)v[i];
}

int main(int argc, char **argv) {
  if (argc < 7) { fprintf(stderr, "usage: %s IFACE SRC_MAC DST_MAC SRC_IP DST_NET COUNT [BATCH]\n", argv[0]); return 2; }
  const long count = atol(argv[6]);
  const int batch = argc > 7 ? atoi(argv[7]) : 256;
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct sockaddr_ll sll = {0};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = (int)if_nametoindex(argv[1]);
  sll.sll_protocol = htons(ETH_P_IP);
  sll.sll_halen = 6;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) { perror("bind"); return 1; }
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  uint8_t smac[6], dmac[6], src[4], net[4];
  mac(argv[2], smac);
  mac(argv[3], dmac);
  inet_pton(AF_INET, argv[4], src);
  inet_pton(AF_INET, argv[5], net);
  memcpy(sll.sll_addr, dmac, 6);
  uint8_t *frames = calloc((size_t)batch, 64);
  struct iovec *iov = calloc((size_t)batch, sizeof *iov);
  struct mmsghdr *msgs = calloc((size_t)batch, sizeof *msgs);
  long sent = 0;
  double t0 = 0, t1 = 0;
  while (sent < count) {
    int n = (int)(count - sent < batch ? count - sent : batch);
    for (int j = 0; j < n; j++) {
      long k = sent + j;
      uint8_t *f = frames + j * 64;
      memcpy(f, dmac, 6); memcpy(f + 6, smac, 6); f[12] = 0x08; f[13] = 0x00;
      uint8_t *ip = f + 14;
      memset(ip, 0, 20);
      ip[0] = 0x45; ip[3] = 44; ip[4] = (uint8_t)(k >> 8); ip[5] = (uint8_t)k; ip[8] = 64; ip[9] = 6;
      memcpy(ip + 12, src, 4);
      ip[16] = net[0]; ip[17] = net[1]; ip[18] = (uint8_t)(k >> 8); ip[19] = (uint8_t)k;
      uint16_t c = csum(0, ip, 20); ip[10] = c >> 8; ip[11] = c & 0xff;
      uint8_t *tcp = ip + 20;
      memset(tcp, 0, 24);
      tcp[0] = 0xee; tcp[1] = 0x48; tcp[2] = 0; tcp[3] = 80;
      tcp[4] = (uint8_t)(k >> 24); tcp[5] = (uint8_t)(k >> 16); tcp[6] = (uint8_t)(k >> 8); tcp[7] = (uint8_t)k;
      tcp[12] = 0x60; tcp[13] = 0x02; tcp[14] = 0x04; tcp[20] = 2; tcp[21] = 4; tcp[22] = 5; tcp[23] = 0xb4;
      uint32_t ps = 0;
      ps += (src[0] << 8 | src[1]) + (src[2] << 8 | src[3]) + (ip[16] << 8 | ip[17]) + (ip[18] << 8 | ip[19]) + 6 + 24;
      c = csum(ps, tcp, 24); tcp[16] = c >> 8; tcp[17] = c & 0xff;
      iov[j].iov_base = f; iov[j].iov_len = 58;
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_iov = &iov[j]; msgs[j].msg_hdr.msg_iovlen = 1;
      msgs[j].msg_hdr.msg_name = &sll; msgs[j].msg_hdr.msg_namelen = sizeof sll;
    }
    if (t0 == 0) t0 = now();
    int done = 0;
    while (done < n) {
      int r = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);
      if (r > 0) done += r;
      else if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) { perror("sendmmsg"); return 1; }
    }
    t1 = now();
    sent += n;
  }
  printf("%ld %.6f\n", sent, t1 - t0);
  return 0;
}
