#!/usr/bin/env python3
"""A point-to-point IP link made of two tun devices and this process between them.

    tun-relay.py NAME_A NAME_B

Creates the tun devices NAME_A and NAME_B (IFF_TUN | IFF_NO_PI: bare IP packets, the link type
of WireGuard and of VPN tun devices) in the namespace it runs in, prints "ready", and copies every
packet read from one to the other until it is killed or stdin closes. The test then moves NAME_B
into the target namespace (`ip link set NAME_B netns ...`): a tun keeps working across
namespaces, so the scanner namespace gets a non-Ethernet link to the target namespace, with no
route anywhere else.
"""
import fcntl
import os
import select
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name: str) -> int:
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main() -> None:
    a, b = sys.argv[1], sys.argv[2]
    fa, fb = open_tun(a), open_tun(b)
    peer = {fa: fb, fb: fa}
    print('ready', flush=True)
    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fa, fb, stdin], [], [])
        for fd in ready:
            if fd == stdin:
                if not os.read(stdin, 4096):
                    return
                continue
            try:
                packet = os.read(fd, 65536)
            except OSError:
                continue  # the device is down for a moment (it is being moved or configured)
            try:
                os.write(peer[fd], packet)
            except OSError:
                pass  # the other end is not up (yet): the packet is lost, as on a real link


if __name__ == '__main__':
    main()
