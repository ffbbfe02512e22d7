// nmap's OS probes and the target's replies, read from a lab capture, as the typed input of
// stages/os (what the raw probe side will hand over). Probes are recognised by what nmap's documentation
// says nmap sends (flags, window, TCP option bytes, ICMP codes and sizes, the UDP probe's IP ID),
// never by nmap's internal port numbering; replies are paired with probes by ports / ICMP id.

import { decodeIpv4Reply, type OsIcmpEchoReply, type OsIcmpUnreachReply, type OsProbeContext, type OsReplies, type OsTcpReply } from '../../stages/os/index.js';
import type { CapturedPacket } from './pcap.js';

const hexBytes = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** SEQ1–SEQ6 option bytes and windows (nmap's option sets 0–5 and windows 1 63 4 4 16 512, written out here independently of stages/os). */
const SEQ_OPTIONS = [
  hexBytes('03030a01 020405b4 080affffffff00000000 0402'),
  hexBytes('02040578 030300 0402 080affffffff00000000 00'),
  hexBytes('080affffffff00000000 0101 030305 01 02040280'),
  hexBytes('0402 080affffffff00000000 03030a 00'),
  hexBytes('02040218 0402 080affffffff00000000 03030a 00'),
  hexBytes('02040109 0402 080affffffff00000000'),
];
const SEQ_WINDOWS = [1, 63, 4, 4, 16, 512];

const F = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 };

export type OsProbeName = 'SEQ1' | 'SEQ2' | 'SEQ3' | 'SEQ4' | 'SEQ5' | 'SEQ6' | 'ECN' | 'T2' | 'T3' | 'T4' | 'T5' | 'T6' | 'T7' | 'IE1' | 'IE2' | 'U1';

export interface SentProbe {
  name: OsProbeName;
  packet: CapturedPacket;
  /** How many times it went out. */
  sends: number;
}

function tcpOptionBytes(p: CapturedPacket): Buffer {
  return p.tcpOptions ?? Buffer.alloc(0);
}

/** Names an nmap OS probe, or undefined for anything else (the port scan's SYNs, replies). */
export function classifyProbe(p: CapturedPacket, openPort: number, closedPort: number): OsProbeName | undefined {
  if (p.proto === 'tcp') {
    const fl = p.tcpFlags ?? 0;
    if (p.dport === openPort) {
      if (fl === F.SYN) {
        for (let i = 0; i < 6; i++) {
          if (p.window === SEQ_WINDOWS[i] && tcpOptionBytes(p).equals(SEQ_OPTIONS[i]!)) return `SEQ${i + 1}` as OsProbeName;
        }
      }
      if (fl === (F.SYN | F.ECE | F.CWR) && p.window === 3) return 'ECN';
      if (fl === 0 && p.window === 128) return 'T2';
      if (fl === (F.SYN | F.FIN | F.URG | F.PSH) && p.window === 256) return 'T3';
      if (fl === F.ACK && p.window === 1024) return 'T4';
    }
    if (p.dport === closedPort) {
      if (fl === F.SYN && p.window === 31337) return 'T5';
      if (fl === F.ACK && p.window === 32768) return 'T6';
      if (fl === (F.FIN | F.PSH | F.URG) && p.window === 65535) return 'T7';
    }
  }
  if (p.proto === 'icmp' && p.icmpType === 8) {
    // IP total lengths: 20 + 8 + 120 zero bytes (IE1), + 150 (IE2).
    if (p.icmpCode === 9 && p.length === 148) return 'IE1';
    if (p.icmpCode === 0 && p.length === 178) return 'IE2';
  }
  if (p.proto === 'udp' && p.ipId === 0x1042 && p.length === 328) return 'U1';
  return undefined;
}

export interface OsExchange {
  probes: Map<OsProbeName, SentProbe>;
  context: OsProbeContext;
  replies: OsReplies;
}

/**
 * Builds the OS stage's input from a capture holding one round of nmap -O against `target`
 * (run nmap with --max-os-tries 1). Throws when a probe nmap always sends is missing.
 */
export function exchangeFromCapture(packets: CapturedPacket[], scanner: string, target: string, openPort: number, closedPort: number): OsExchange {
  const probes = new Map<OsProbeName, SentProbe>();
  for (const p of packets) {
    if (p.src !== scanner || p.dst !== target) continue;
    const name = classifyProbe(p, openPort, closedPort);
    if (!name) continue;
    const seen = probes.get(name);
    if (seen) seen.sends++;
    else probes.set(name, { name, packet: p, sends: 1 });
  }
  const need = (n: OsProbeName) => {
    const p = probes.get(n);
    if (!p) throw new Error(`capture has no ${n} probe`);
    return p.packet;
  };
  const seq1 = need('SEQ1');
  const u1 = need('U1');
  const u1Udp = u1.ip.subarray((u1.ip[0]! & 0x0f) * 4);
  const context: OsProbeContext = {
    openTcpPort: openPort,
    closedTcpPort: closedPort,
    closedTcpPortKnown: true,
    closedUdpPort: u1.dport ?? null,
    tcpSeqBase: seq1.seq!,
    tcpAck: seq1.ack!,
    seqSentUs: [1, 2, 3, 4, 5, 6].map((i) => {
      const p = probes.get(`SEQ${i}` as OsProbeName);
      return p ? Math.round(p.packet.time * 1e6) : null;
    }),
    seqSentUnixSeconds: Math.floor(seq1.time),
    u1: { ttl: u1.ttl, ipId: u1.ipId!, udpChecksum: u1Udp.readUInt16BE(6), patternByte: 0x43, sport: u1.sport!, dport: u1.dport! },
    ieRetransmitted: [(probes.get('IE1')?.sends ?? 0) > 1, (probes.get('IE2')?.sends ?? 0) > 1],
  };

  // Replies: the first one for each probe, paired by ports (TCP), ICMP id (echo) or the quoted UDP ports.
  const replies: OsReplies = { seq: [], ecn: null, t: [null, null, null, null, null, null, null], u1: null, ie: [null, null] };
  const byTcpPorts = new Map<string, OsProbeName>();
  for (const [name, sp] of probes) {
    if (sp.packet.proto === 'tcp') byTcpPorts.set(`${sp.packet.sport}>${sp.packet.dport}`, name);
  }
  const echoIds = new Map<number, 0 | 1>();
  for (const [name, i] of [['IE1', 0], ['IE2', 1]] as const) {
    const p = probes.get(name)?.packet;
    if (p) echoIds.set(p.ip.readUInt16BE((p.ip[0]! & 0x0f) * 4 + 4), i);
  }
  const taken = new Set<OsProbeName>();
  for (const p of packets) {
    if (p.src !== target || p.dst !== scanner) continue;
    const d = decodeIpv4Reply(p.ip);
    if (!d) continue;
    if (d.proto === 'tcp') {
      const name = byTcpPorts.get(`${d.reply.dport}>${d.reply.sport}`);
      if (!name || taken.has(name)) continue;
      taken.add(name);
      const r: OsTcpReply = d.reply;
      if (name.startsWith('SEQ')) replies.seq.push([Number(name.slice(3)) - 1, r]);
      else if (name === 'ECN') replies.ecn = r;
      else replies.t[Number(name.slice(1)) - 1] = r;
    } else if (d.proto === 'icmp-echo-reply') {
      const i = echoIds.get(d.reply.id);
      if (i === undefined || replies.ie[i]) continue;
      replies.ie[i] = d.reply as OsIcmpEchoReply;
    } else if (d.proto === 'icmp-unreach' && !replies.u1) {
      const q = Buffer.from(d.reply.quoted);
      const ihl = (q[0]! & 0x0f) * 4;
      if (q.length >= ihl + 4 && q.readUInt16BE(ihl) === context.u1.sport && q.readUInt16BE(ihl + 2) === context.u1.dport) {
        replies.u1 = d.reply as OsIcmpUnreachReply;
      }
    }
  }
  return { probes, context, replies };
}

/**
 * Splits a capture of several nmap OS rounds at each round's first SEQ1 probe (rounds are a
 * second or more apart, and nmap re-sends SEQ probes only on loss, which the lab does not cause).
 */
export function splitRounds(packets: CapturedPacket[], scanner: string, target: string, openPort: number, closedPort: number): CapturedPacket[][] {
  const starts = packets
    .filter((p) => p.src === scanner && p.dst === target && classifyProbe(p, openPort, closedPort) === 'SEQ1')
    .map((p) => p.time);
  return starts.map((start, i) => packets.filter((p) => p.time >= start && (i + 1 === starts.length || p.time < starts[i + 1]!)));
}
