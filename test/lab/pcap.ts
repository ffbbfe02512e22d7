// Classic pcap reader for the test lab: decodes just enough of Ethernet / IPv4 / IPv6 / TCP /
// UDP / ICMP to let integration tests assert what went over the wire (flags, TTL, IP id,
// fragmentation). No dependencies — a test must not trust the code it is testing (native/ uses
// libpcap), so this parser is deliberately independent and small.

/** TCP flag bits, as in the TCP header's flags byte. */
export const TCP_FLAGS = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export type CapturedProto = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'other';

export interface CapturedPacket {
  /** Capture time in seconds since the epoch (microsecond or nanosecond precision). */
  time: number;
  family: 4 | 6;
  src: string;
  dst: string;
  proto: CapturedProto;
  /** IP protocol number / IPv6 upper-layer next header (6 tcp, 17 udp, 1 icmp, 58 icmpv6, …). */
  protoNumber: number;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
  /** IPv4 identification; for IPv6, the fragment header's identification if present. */
  ipId?: number;
  /** IP length on the wire: IPv4 total length, IPv6 40 + payload length. */
  length: number;
  /** Bytes of this frame that were captured (may be less than the wire length with a snaplen). */
  capturedLength: number;
  /** IPv4 DF bit (always false for IPv6). */
  dontFragment: boolean;
  /** Set when the packet is a fragment (MF set or non-zero offset, or an IPv6 fragment header). */
  fragment?: { id: number; offset: number; moreFragments: boolean };
  sport?: number;
  dport?: number;
  /** TCP only. */
  tcpFlags?: number;
  /** TCP flags as letters, tcpdump style: F S R P A U E W (e.g. "S", "SA", "RA"). */
  flags?: string;
  seq?: number;
  ack?: number;
  window?: number;
  /** Raw TCP options bytes. */
  tcpOptions?: Buffer;
  /** ICMP / ICMPv6 type and code. */
  icmpType?: number;
  icmpCode?: number;
  /** Transport payload (what follows the TCP/UDP/ICMP header) within the captured bytes. */
  payload?: Buffer;
  /** The IP packet (from the IP header on), as captured. */
  ip: Buffer;
  /** Ethernet destination and source MACs ("02:00:c6:12:00:02"), for Ethernet captures only. */
  ethDst?: string;
  ethSrc?: string;
}

function formatMac(b: Buffer, off: number): string {
  return [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_IPV6 = 229;
const LINKTYPE_LINUX_SLL2 = 276;

export function tcpFlagLetters(flags: number): string {
  const letters: Array<[number, string]> = [
    [TCP_FLAGS.FIN, 'F'],
    [TCP_FLAGS.SYN, 'S'],
    [TCP_FLAGS.RST, 'R'],
    [TCP_FLAGS.PSH, 'P'],
    [TCP_FLAGS.ACK, 'A'],
    [TCP_FLAGS.URG, 'U'],
    [TCP_FLAGS.ECE, 'E'],
    [TCP_FLAGS.CWR, 'W'],
  ];
  return letters.filter(([bit]) => (flags & bit) !== 0).map(([, l]) => l).join('');
}

export function formatIPv4(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text form: lower case, longest run (≥2) of zero groups compressed to "::". */
export function formatIPv6(b: Buffer, off: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(off + i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

interface PcapHeader {
  littleEndian: boolean;
  nanos: boolean;
  linkType: number;
}

function readHeader(buf: Buffer): PcapHeader {
  if (buf.length < 24) throw new Error(`pcap: file too short for a global header (${buf.length} bytes)`);
  const magicLE = buf.readUInt32LE(0);
  let littleEndian: boolean;
  let nanos: boolean;
  if (magicLE === 0xa1b2c3d4) [littleEndian, nanos] = [true, false];
  else if (magicLE === 0xa1b23c4d) [littleEndian, nanos] = [true, true];
  else if (buf.readUInt32BE(0) === 0xa1b2c3d4) [littleEndian, nanos] = [false, false];
  else if (buf.readUInt32BE(0) === 0xa1b23c4d) [littleEndian, nanos] = [false, true];
  else if (magicLE === 0x0a0d0d0a) throw new Error('pcap: this is pcapng, only classic pcap is supported');
  else throw new Error(`pcap: bad magic 0x${magicLE.toString(16)}`);
  const linkType = (littleEndian ? buf.readUInt32LE(20) : buf.readUInt32BE(20)) & 0x0fffffff;
  return { littleEndian, nanos, linkType };
}

/** Offset of the IP header inside a frame, or -1 when the frame carries no IPv4/IPv6. */
function ipOffset(frame: Buffer, linkType: number): number {
  let off: number;
  let etherType: number;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (frame.length < 14) return -1;
      off = 14;
      etherType = frame.readUInt16BE(12);
      // 802.1Q / 802.1ad tags
      while ((etherType === 0x8100 || etherType === 0x88a8) && frame.length >= off + 4) {
        etherType = frame.readUInt16BE(off + 2);
        off += 4;
      }
      break;
    case LINKTYPE_LINUX_SLL:
      if (frame.length < 16) return -1;
      off = 16;
      etherType = frame.readUInt16BE(14);
      break;
    case LINKTYPE_LINUX_SLL2:
      if (frame.length < 20) return -1;
      off = 20;
      etherType = frame.readUInt16BE(0);
      break;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return frame.length > 0 ? 0 : -1;
    default:
      throw new Error(`pcap: unsupported link type ${linkType}`);
  }
  if (etherType !== 0x0800 && etherType !== 0x86dd) return -1;
  return off;
}

function decodeTransport(p: CapturedPacket, b: Buffer, off: number): void {
  const rest = b.length - off;
  switch (p.protoNumber) {
    case 6: {
      p.proto = 'tcp';
      if (rest < 20) return;
      p.sport = b.readUInt16BE(off);
      p.dport = b.readUInt16BE(off + 2);
      p.seq = b.readUInt32BE(off + 4);
      p.ack = b.readUInt32BE(off + 8);
      const dataOff = (b[off + 12]! >> 4) * 4;
      p.tcpFlags = b[off + 13]!;
      p.flags = tcpFlagLetters(p.tcpFlags);
      p.window = b.readUInt16BE(off + 14);
      const optEnd = Math.min(b.length, off + Math.max(20, dataOff));
      p.tcpOptions = Buffer.from(b.subarray(off + 20, optEnd));
      p.payload = Buffer.from(b.subarray(optEnd));
      return;
    }
    case 17: {
      p.proto = 'udp';
      if (rest < 8) return;
      p.sport = b.readUInt16BE(off);
      p.dport = b.readUInt16BE(off + 2);
      p.payload = Buffer.from(b.subarray(off + 8));
      return;
    }
    case 1:
    case 58: {
      p.proto = p.protoNumber === 1 ? 'icmp' : 'icmpv6';
      if (rest < 4) return;
      p.icmpType = b[off]!;
      p.icmpCode = b[off + 1]!;
      p.payload = Buffer.from(b.subarray(off + 4));
      return;
    }
    default:
      p.proto = 'other';
  }
}

function decodeIPv4(ip: Buffer, time: number): CapturedPacket | undefined {
  if (ip.length < 20 || ip[0]! >> 4 !== 4) return undefined;
  const ihl = (ip[0]! & 0x0f) * 4;
  const fragWord = ip.readUInt16BE(6);
  const offset = (fragWord & 0x1fff) * 8;
  const moreFragments = (fragWord & 0x2000) !== 0;
  const ipId = ip.readUInt16BE(4);
  const p: CapturedPacket = {
    time,
    family: 4,
    src: formatIPv4(ip, 12),
    dst: formatIPv4(ip, 16),
    proto: 'other',
    protoNumber: ip[9]!,
    ttl: ip[8]!,
    ipId,
    length: ip.readUInt16BE(2),
    capturedLength: ip.length,
    dontFragment: (fragWord & 0x4000) !== 0,
    ip: Buffer.from(ip),
  };
  if (moreFragments || offset !== 0) p.fragment = { id: ipId, offset, moreFragments };
  // Only the first fragment carries the transport header.
  if (offset === 0) decodeTransport(p, ip, ihl);
  else p.proto = protoName(p.protoNumber);
  return p;
}

function protoName(n: number): CapturedProto {
  return n === 6 ? 'tcp' : n === 17 ? 'udp' : n === 1 ? 'icmp' : n === 58 ? 'icmpv6' : 'other';
}

function decodeIPv6(ip: Buffer, time: number): CapturedPacket | undefined {
  if (ip.length < 40 || ip[0]! >> 4 !== 6) return undefined;
  const p: CapturedPacket = {
    time,
    family: 6,
    src: formatIPv6(ip, 8),
    dst: formatIPv6(ip, 24),
    proto: 'other',
    protoNumber: ip[6]!,
    ttl: ip[7]!,
    length: 40 + ip.readUInt16BE(4),
    capturedLength: ip.length,
    dontFragment: false,
    ip: Buffer.from(ip),
  };
  // Walk the extension header chain to the upper-layer header.
  let next = ip[6]!;
  let off = 40;
  let fragOffset = 0;
  for (;;) {
    if (next === 0 || next === 43 || next === 60) {
      // hop-by-hop, routing, destination options: (len + 1) * 8 bytes
      if (ip.length < off + 2) break;
      const len = (ip[off + 1]! + 1) * 8;
      next = ip[off]!;
      off += len;
    } else if (next === 44) {
      // fragment header: next, reserved, offset/flags, identification
      if (ip.length < off + 8) break;
      const w = ip.readUInt16BE(off + 2);
      fragOffset = w & 0xfff8;
      const id = ip.readUInt32BE(off + 4);
      p.fragment = { id, offset: fragOffset, moreFragments: (w & 1) !== 0 };
      p.ipId = id;
      next = ip[off]!;
      off += 8;
    } else {
      break;
    }
  }
  p.protoNumber = next;
  if (fragOffset === 0 && off <= ip.length) decodeTransport(p, ip, off);
  else p.proto = protoName(next);
  return p;
}

/**
 * Parse a classic pcap file (either byte order, µs or ns timestamps; Ethernet, raw IP and Linux
 * cooked link types). Frames that carry neither IPv4 nor IPv6 (ARP, LLDP…) are skipped.
 * A truncated last record (capture killed mid-write) is ignored.
 */
export function parsePcap(buf: Buffer): CapturedPacket[] {
  const h = readHeader(buf);
  const u32 = (o: number) => (h.littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const out: CapturedPacket[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    off += 16;
    if (off + incl > buf.length) break;
    const frame = buf.subarray(off, off + incl);
    off += incl;
    const time = sec + frac / (h.nanos ? 1e9 : 1e6);
    const ipOff = ipOffset(frame, h.linkType);
    if (ipOff < 0) continue;
    let ip = frame.subarray(ipOff);
    const version = ip[0]! >> 4;
    // Cut Ethernet padding off short frames so `ip` and `payload` stop at the IP length.
    if (version === 4 && ip.length >= 20) {
      const total = ip.readUInt16BE(2);
      if (total >= 20 && total < ip.length) ip = ip.subarray(0, total);
    } else if (version === 6 && ip.length >= 40) {
      const payloadLen = ip.readUInt16BE(4); // 0 means jumbogram: leave as is
      if (payloadLen !== 0 && 40 + payloadLen < ip.length) ip = ip.subarray(0, 40 + payloadLen);
    }
    const p = version === 4 ? decodeIPv4(ip, time) : version === 6 ? decodeIPv6(ip, time) : undefined;
    if (p && h.linkType === LINKTYPE_ETHERNET) {
      p.ethDst = formatMac(frame, 0);
      p.ethSrc = formatMac(frame, 6);
    }
    if (p) out.push(p);
  }
  return out;
}

/** One-line summary, tcpdump-ish, for test diagnostics. */
export function describePacket(p: CapturedPacket): string {
  const ep = (a: string, port?: number) => (port === undefined ? a : p.family === 6 ? `[${a}]:${port}` : `${a}:${port}`);
  let s = `${ep(p.src, p.sport)} > ${ep(p.dst, p.dport)} ${p.proto}`;
  if (p.flags !== undefined) s += ` [${p.flags || '.'}]`;
  if (p.icmpType !== undefined) s += ` type ${p.icmpType} code ${p.icmpCode}`;
  s += ` ttl ${p.ttl} len ${p.length}`;
  if (p.ipId !== undefined) s += ` id ${p.ipId}`;
  if (p.dontFragment) s += ' DF';
  if (p.fragment) s += ` frag ${p.fragment.id}@${p.fragment.offset}${p.fragment.moreFragments ? '+' : ''}`;
  return s;
}
