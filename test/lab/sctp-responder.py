#!/usr/bin/python3
# A userspace SCTP endpoint for the lab (the kernel here has no SCTP): on a raw IPv4/IPv6 socket
# of protocol 132 it answers as RFC 9260 says a stack does. INIT to a listening port → INIT-ACK
# (vtag = the INIT's initiate tag, with a state cookie); INIT to any other port → ABORT (vtag = the
# initiate tag); a COOKIE-ECHO with a cookie it never issued → silence on a listening port, ABORT
# with the T bit (vtag reflected) elsewhere. Packets with a wrong CRC32c are dropped, as a stack
# drops them. Usage: sctp-responder.py PORT,PORT,... ; prints "ready" once both sockets are open.
import os
import select
import socket
import struct
import sys

LISTENING = {int(p) for p in sys.argv[1].split(',') if p}
INIT, INIT_ACK, ABORT, COOKIE_ECHO = 1, 2, 6, 10

TABLE = []
for i in range(256):
    r = i
    for _ in range(8):
        r = (r >> 1) ^ 0x82F63B78 if r & 1 else r >> 1
    TABLE.append(r)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def checksum_ok(pkt):
    got = struct.unpack('<I', pkt[8:12])[0]
    return got == crc32c(pkt[:8] + b'\0\0\0\0' + pkt[12:])


def packet(sport, dport, vtag, chunks):
    body = struct.pack('!HHII', sport, dport, vtag, 0) + chunks
    return body[:8] + struct.pack('<I', crc32c(body)) + body[12:]


def answer(pkt):
    if len(pkt) < 16 or not checksum_ok(pkt):
        return None
    sport, dport, vtag = struct.unpack('!HHI', pkt[:8])
    chunk = pkt[12]
    if chunk == INIT and len(pkt) >= 32:
        itag = struct.unpack('!I', pkt[16:20])[0]
        if dport in LISTENING:
            cookie = os.urandom(8)
            params = struct.pack('!HH', 7, 4 + len(cookie)) + cookie  # State Cookie
            ack = struct.pack('!BBHIIHHI', INIT_ACK, 0, 20 + len(params), int.from_bytes(os.urandom(4), 'big') | 1,
                              106496, 10, 2048, int.from_bytes(os.urandom(4), 'big')) + params
            return packet(dport, sport, itag, ack)
        return packet(dport, sport, itag, struct.pack('!BBH', ABORT, 0, 4))
    if chunk == COOKIE_ECHO:
        if dport in LISTENING:
            return None  # a cookie this endpoint never issued: discarded
        return packet(dport, sport, vtag, struct.pack('!BBH', ABORT, 1, 4))  # T bit: vtag reflected
    return None


s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 132)
for s in (s4, s6):
    s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root): room for a burst of probes
print('ready', flush=True)
while True:
    ready, _, _ = select.select([s4, s6], [], [])
    for s in ready:
        data, addr = s.recvfrom(65535)
        if s is s4:
            data = data[(data[0] & 15) * 4:]  # IPv4 raw sockets deliver the IP header
        reply = answer(data)
        if reply is not None:
            s.sendto(reply, (addr[0], 0) if s is s4 else (addr[0], 0, 0, 0))
