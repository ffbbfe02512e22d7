/**
 * The 16 OS probes of one host and round as exact IPv4 packets (Ethernet frames), from the
 * OS_PROBES table: per-probe TCP options, windows, flags, reserved bits, urgent pointer, DF, IP
 * IDs, ICMP and UDP payloads. Per host, not a hot path: built in TypeScript, checksums by the
 * caller's Internet-checksum function (native checksum()).
 */
import { OS_PROBES, type OsProbeName, type OsProbeSpec } from './probes.js';

export type ChecksumFn = (bytes: Uint8Array, initialSum?: number) => number;

/** What one round's packets share (all chosen by the caller, random where nmap's are). */
export interface OsRoundWire {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  src: Uint8Array;
  dst: Uint8Array;
  openTcpPort: number;
  closedTcpPort: number;
  closedUdpPort: number;
  /** Source port of each probe (each its own, so replies pair with probes). */
  sourcePort: Record<OsProbeName, number>;
  tcpSeqBase: number;
  tcpAck: number;
  /** ICMP echo id of IE1 (IE2: +1). */
  icmpId: number;
  /** IP ID of each probe but U1 (whose IP ID is the table's 0x1042). */
  ipId: Record<OsProbeName, number>;
  /** TTL of the TCP and ICMP probes. */
  ttl: number;
  /** TTL of U1. */
  u1Ttl: number;
}

export interface BuiltProbe {
  name: OsProbeName;
  spec: OsProbeSpec;
  frame: Uint8Array;
  /** U1 only: the UDP checksum as on the wire. */
  udpChecksum?: number;
}

function ipv4Header(w: OsRoundWire, totalLength: number, id: number, df: boolean, tos: number, ttl: number, proto: number, cksum: ChecksumFn): Uint8Array {
  const h = new Uint8Array(20);
  const v = new DataView(h.buffer);
  h[0] = 0x45;
  h[1] = tos;
  v.setUint16(2, totalLength);
  v.setUint16(4, id & 0xffff);
  v.setUint16(6, df ? 0x4000 : 0);
  h[8] = ttl;
  h[9] = proto;
  h.set(w.src, 12);
  h.set(w.dst, 16);
  v.setUint16(10, cksum(h));
  return h;
}

/** The L4 checksum with the IPv4 pseudo header. */
function l4Checksum(w: OsRoundWire, proto: number, seg: Uint8Array, cksum: ChecksumFn): number {
  const pseudo = new Uint8Array(12 + seg.length);
  pseudo.set(w.src, 0);
  pseudo.set(w.dst, 4);
  pseudo[9] = proto;
  new DataView(pseudo.buffer).setUint16(10, seg.length);
  pseudo.set(seg, 12);
  return cksum(pseudo);
}

function frameOf(w: OsRoundWire, ip: Uint8Array, l4: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + ip.length + l4.length);
  f.set(w.dstMac, 0);
  f.set(w.srcMac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  f.set(ip, 14);
  f.set(l4, 14 + ip.length);
  return f;
}

/** One probe's frame. */
export function buildOsProbe(spec: OsProbeSpec, w: OsRoundWire, cksum: ChecksumFn): BuiltProbe {
  if (spec.kind === 'tcp') {
    const seg = new Uint8Array(20 + spec.options.length);
    const v = new DataView(seg.buffer);
    v.setUint16(0, w.sourcePort[spec.name]);
    v.setUint16(2, spec.port === 'open' ? w.openTcpPort : w.closedTcpPort);
    v.setUint32(4, (w.tcpSeqBase + spec.seqOffset) >>> 0);
    v.setUint32(8, spec.ack === 'zero' ? 0 : w.tcpAck >>> 0);
    seg[12] = (((20 + spec.options.length) / 4) << 4) | (spec.reserved & 0x0f);
    seg[13] = spec.flags;
    v.setUint16(14, spec.window);
    v.setUint16(18, spec.urgentPointer);
    seg.set(spec.options, 20);
    v.setUint16(16, l4Checksum(w, 6, seg, cksum));
    const ip = ipv4Header(w, 20 + seg.length, w.ipId[spec.name], spec.df, 0, w.ttl, 6, cksum);
    return { name: spec.name, spec, frame: frameOf(w, ip, seg) };
  }
  if (spec.kind === 'icmp') {
    const m = new Uint8Array(8 + spec.dataLength);
    const v = new DataView(m.buffer);
    m[0] = 8;
    m[1] = spec.code;
    v.setUint16(4, (w.icmpId + spec.idOffset) & 0xffff);
    v.setUint16(6, spec.seq);
    v.setUint16(2, cksum(m));
    const ip = ipv4Header(w, 20 + m.length, w.ipId[spec.name], spec.df, spec.tos, w.ttl, 1, cksum);
    return { name: spec.name, spec, frame: frameOf(w, ip, m) };
  }
  const d = new Uint8Array(8 + spec.dataLength).fill(spec.patternByte, 8);
  const v = new DataView(d.buffer);
  v.setUint16(0, w.sourcePort.U1);
  v.setUint16(2, w.closedUdpPort);
  v.setUint16(4, d.length);
  const sum = l4Checksum(w, 17, d, cksum);
  const udpChecksum = sum === 0 ? 0xffff : sum;
  v.setUint16(6, udpChecksum);
  const ip = ipv4Header(w, 20 + d.length, spec.ipId, false, 0, w.u1Ttl, 17, cksum);
  return { name: spec.name, spec, frame: frameOf(w, ip, d), udpChecksum };
}

/** All 16, in nmap's sending order. */
export function buildOsProbes(w: OsRoundWire, cksum: ChecksumFn): BuiltProbe[] {
  return OS_PROBES.map((p) => buildOsProbe(p, w, cksum));
}
