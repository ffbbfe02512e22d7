/**
 * The IPv6 OS probes of one host as exact Ethernet frames, from the OS6_PROBES table: the IPv6
 * header (flow label 0x12345, the caller's hop limits), the extension headers of IE1/IE2, TCP with
 * the option sets, ICMPv6 echo / neighbour solicitation and UDP, checksums over the IPv6
 * pseudo header (RFC 8200 §8.1). Per host, not a hot path: TypeScript, checksums by the caller's
 * Internet-checksum function (native checksum()).
 */
import type { ChecksumFn } from './packets.js';
import { OS6_FLOW_LABEL, OS6_ICMP_ID, OS6_PROBES, type Os6ProbeName, type Os6ProbeSpec } from './probes6.js';

export interface Os6Wire {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  /** 16 bytes each. */
  src: Uint8Array;
  dst: Uint8Array;
  openTcpPort: number | null;
  closedTcpPort: number | null;
  closedUdpPort: number;
  /** TCP source port of TCP_DESCS index 0 (S1); probe i uses base + i. */
  tcpPortBase: number;
  udpSourcePort: number;
  tcpSeqBase: number;
  /** The random ack of each TCP probe but TECN (whose ack is 0). */
  tcpAck: Partial<Record<Os6ProbeName, number>>;
  /** Hop limit of each probe but NS (255). */
  hopLimit: Partial<Record<Os6ProbeName, number>>;
}

export interface BuiltProbe6 {
  name: Os6ProbeName;
  spec: Os6ProbeSpec;
  frame: Uint8Array;
  /** The IPv6 packet inside the frame (frame minus its 14 Ethernet bytes). */
  packet: Uint8Array;
}

const NEXT_ICMPV6 = 58;

/** The upper-layer checksum over the IPv6 pseudo header (source, destination, length, next header). */
function checksum6(w: Os6Wire, proto: number, seg: Uint8Array, cksum: ChecksumFn): number {
  const pseudo = new Uint8Array(40 + seg.length);
  pseudo.set(w.src, 0);
  pseudo.set(w.dst, 16);
  new DataView(pseudo.buffer).setUint32(32, seg.length);
  pseudo[39] = proto;
  pseudo.set(seg, 40);
  return cksum(pseudo);
}

/** An 8-byte extension header (hop-by-hop / destination options: one PadN of 4; routing: type 0, nothing left). */
function extensionHeader(type: number, next: number): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = next;
  if (type === 43) return h; // routing: length 0, routing type 0, segments left 0, reserved
  h[2] = 1; // PadN
  h[3] = 4;
  return h;
}

function packetOf(w: Os6Wire, hopLimit: number, firstNext: number, body: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + body.length);
  const v = new DataView(p.buffer);
  v.setUint32(0, (6 << 28) | OS6_FLOW_LABEL);
  v.setUint16(4, body.length);
  p[6] = firstNext;
  p[7] = hopLimit;
  p.set(w.src, 8);
  p.set(w.dst, 24);
  p.set(body, 40);
  return p;
}

function frameOf(w: Os6Wire, packet: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + packet.length);
  f.set(w.dstMac, 0);
  f.set(w.srcMac, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  f.set(packet, 14);
  return f;
}

function hop(w: Os6Wire, name: Os6ProbeName): number {
  const h = w.hopLimit[name];
  if (h === undefined) throw new Error(`no hop limit for ${name}`);
  return h;
}

/** One probe's frame, or null when it needs a port the host does not have (nmap skips those). */
export function buildOs6Probe(spec: Os6ProbeSpec, w: Os6Wire, cksum: ChecksumFn): BuiltProbe6 | null {
  let packet: Uint8Array;
  if (spec.kind === 'tcp') {
    const dport = spec.port === 'open' ? w.openTcpPort : w.closedTcpPort;
    if (dport === null) return null;
    const seg = new Uint8Array(20 + spec.options.length);
    const v = new DataView(seg.buffer);
    v.setUint16(0, (w.tcpPortBase + spec.index) & 0xffff);
    v.setUint16(2, dport);
    v.setUint32(4, (w.tcpSeqBase + spec.index) >>> 0);
    v.setUint32(8, spec.ack === 'zero' ? 0 : (w.tcpAck[spec.name] ?? 0) >>> 0);
    seg[12] = ((20 + spec.options.length) / 4) << 4;
    seg[13] = spec.flags;
    v.setUint16(14, spec.window);
    v.setUint16(18, spec.urgentPointer);
    seg.set(spec.options, 20);
    v.setUint16(16, checksum6(w, 6, seg, cksum));
    packet = packetOf(w, hop(w, spec.name), 6, seg);
  } else if (spec.kind === 'echo') {
    const icmp = new Uint8Array(8 + spec.dataLength);
    const v = new DataView(icmp.buffer);
    icmp[0] = 128;
    icmp[1] = spec.code;
    v.setUint16(4, OS6_ICMP_ID);
    v.setUint16(6, spec.seq);
    v.setUint16(2, checksum6(w, NEXT_ICMPV6, icmp, cksum));
    const chain = spec.extensions.map((type, i) => extensionHeader(type, spec.extensions[i + 1] ?? NEXT_ICMPV6));
    const body = new Uint8Array(chain.length * 8 + icmp.length);
    chain.forEach((h, i) => body.set(h, i * 8));
    body.set(icmp, chain.length * 8);
    packet = packetOf(w, hop(w, spec.name), spec.extensions[0] ?? NEXT_ICMPV6, body);
  } else if (spec.kind === 'ns') {
    // RFC 4861 §7.1.1: a solicitation is valid only with hop limit 255. Sent to the target's own
    // address (not its solicited-node group), without a source link-layer option, as nmap does.
    const icmp = new Uint8Array(24);
    icmp[0] = 135;
    icmp.set(w.dst, 8);
    new DataView(icmp.buffer).setUint16(2, checksum6(w, NEXT_ICMPV6, icmp, cksum));
    packet = packetOf(w, 255, NEXT_ICMPV6, icmp);
  } else {
    const d = new Uint8Array(8 + spec.dataLength).fill(spec.patternByte, 8);
    const v = new DataView(d.buffer);
    v.setUint16(0, w.udpSourcePort);
    v.setUint16(2, w.closedUdpPort);
    v.setUint16(4, d.length);
    const sum = checksum6(w, 17, d, cksum);
    v.setUint16(6, sum === 0 ? 0xffff : sum);
    packet = packetOf(w, hop(w, spec.name), 17, d);
  }
  return { name: spec.name, spec, frame: frameOf(w, packet), packet };
}

/**
 * The host's probes in nmap's order. NS only for an on-link target; TCP probes only where the
 * host has a port of the state they need.
 */
export function buildOs6Probes(w: Os6Wire, cksum: ChecksumFn, onLink: boolean): BuiltProbe6[] {
  return OS6_PROBES.filter((p) => p.kind !== 'ns' || onLink)
    .map((p) => buildOs6Probe(p, w, cksum))
    .filter((p): p is BuiltProbe6 => p !== null);
}
