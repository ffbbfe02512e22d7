#!/usr/bin/python3
# An idle-scan zombie for the lab: Linux hosts give each destination its own IP ID sequence, so
# they make no zombie; this one keeps one global counter, as the hosts nmap's idle scan needs do.
# It reads frames on its interface (AF_PACKET, before the kernel's TCP, which nftables keeps out)
# and answers every SYN/ACK or bare ACK addressed to it with a RST (RFC 9293: seq = their ack)
# carrying the next IP ID; RSTs and everything else get nothing. Usage: zombie-responder.py IFACE
# ADDR START_ID; prints "ready" once its sockets are open.
import socket
import struct
import sys

IFACE, ADDR, START = sys.argv[1], socket.inet_aton(sys.argv[2]), int(sys.argv[3])
SYN, RST, ACK = 0x02, 0x04, 0x10


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
rx.bind((IFACE, 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL: our own IP ID
ip_id = START
print('ready', flush=True)
while True:
    frame, meta = rx.recvfrom(65535)
    if meta[2] == socket.PACKET_OUTGOING:
        continue
    ip = frame[14:]
    if len(ip) < 40 or ip[9] != 6 or ip[16:20] != ADDR:
        continue
    ihl = (ip[0] & 15) * 4
    tcp = ip[ihl:]
    flags = tcp[13]
    if flags & RST or not flags & ACK:
        continue  # a RST, or a SYN: nothing (a closed port's stack stays silent to RSTs)
    sport, dport, seq, ack = struct.unpack('!HHII', tcp[:12])
    src = ip[12:16]
    rst = struct.pack('!HHIIBBHHH', dport, sport, ack, 0, 5 << 4, RST, 0, 0, 0)
    pseudo = ADDR + src + struct.pack('!BBH', 0, 6, len(rst))
    rst = rst[:16] + struct.pack('!H', csum(pseudo + rst)) + rst[18:]
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, ip_id, 0, 64, 6, 0, ADDR, src)
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    ip_id = (ip_id + 1) & 0xFFFF
    tx.sendto(hdr + rst, (socket.inet_ntoa(src), 0))
