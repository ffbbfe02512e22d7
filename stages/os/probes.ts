/**
 * nmap's 16 IPv4 OS probes as data (the wire spec a probe module builds from), and the reply
 * collector that turns what the receiver hands over into OsReplies for computeFingerprint.
 *
 * Numbers are nmap 7.93's: TCP option sets and windows per probe, DF, flags, the ECN probe's
 * reserved bit and urgent pointer, the echo probes' TOS/code/sequence/size, U1's IP ID and data.
 * test/integration/os-fingerprint-lab.test.ts checks this table against nmap's packets on the wire.
 */
import type { DecodedOsReply } from './decode.js';
import type { OsIcmpEchoReply, OsIcmpUnreachReply, OsReplies, OsTcpReply } from './responses.js';

export type OsProbeName =
  | 'SEQ1' | 'SEQ2' | 'SEQ3' | 'SEQ4' | 'SEQ5' | 'SEQ6'
  | 'ECN' | 'T2' | 'T3' | 'T4' | 'T5' | 'T6' | 'T7'
  | 'IE1' | 'IE2' | 'U1'
  /** SEQ1 sent again in the TUI phase when SEQ1 got no reply (its answer is the T1 test). */
  | 'T1'
  /** SEQ i sent again (seq = base) in the TUI phase when SEQ i got no reply: its answer gives Oi and Wi. */
  | 'TOPS1' | 'TOPS2' | 'TOPS3' | 'TOPS4' | 'TOPS5' | 'TOPS6';

export interface OsTcpProbeSpec {
  kind: 'tcp';
  name: OsProbeName;
  /** Which port it goes to. */
  port: 'open' | 'closed';
  flags: number;
  window: number;
  /** The TCP option bytes, exactly. */
  options: Uint8Array;
  df: boolean;
  urgentPointer: number;
  /** The 4 reserved header bits. */
  reserved: number;
  /** Sequence number: base + offset (SEQ i: i−1; every other probe: 0). */
  seqOffset: number;
  /** The acknowledgment number: the round's random ack, or 0 (ECN). */
  ack: 'random' | 'zero';
}

export interface OsIcmpProbeSpec {
  kind: 'icmp';
  name: 'IE1' | 'IE2';
  tos: number;
  df: boolean;
  code: number;
  /** ICMP id: the round's random id + this. */
  idOffset: number;
  seq: number;
  /** Zero bytes after the ICMP header. */
  dataLength: number;
}

export interface OsUdpProbeSpec {
  kind: 'udp';
  name: 'U1';
  ipId: number;
  /** Data bytes, all `patternByte`. */
  dataLength: number;
  patternByte: number;
  /** IP total length. */
  totalLength: number;
  /** nmap sends U1 with TTL (time(NULL) % 14) + 51 when --ttl is not given. */
  ttlRange: [number, number];
}

export type OsProbeSpec = OsTcpProbeSpec | OsIcmpProbeSpec | OsUdpProbeSpec;

const hex = (s: string) => Uint8Array.from((s.replace(/\s+/g, '').match(/../g) ?? []).map((b) => parseInt(b, 16)));
const TS = '080affffffff00000000'; // timestamp option: TSval 0xFFFFFFFF, TSecr 0

/** nmap's 13 TCP option sets (index 0–5 SEQ1–6, 6 ECN, 7–12 T2–T7 … T1 uses set 0). */
export const OS_TCP_OPTION_SETS: readonly Uint8Array[] = [
  hex(`03030a 01 020405b4 ${TS} 0402`), //           WS10 NOP MSS1460 TS SACK
  hex(`02040578 030300 0402 ${TS} 00`), //           MSS1400 WS0 SACK TS EOL
  hex(`${TS} 01 01 030305 01 02040280`), //          TS NOP NOP WS5 NOP MSS640
  hex(`0402 ${TS} 03030a 00`), //                    SACK TS WS10 EOL
  hex(`02040218 0402 ${TS} 03030a 00`), //           MSS536 SACK TS WS10 EOL
  hex(`02040109 0402 ${TS}`), //                     MSS265 SACK TS
  hex('03030a 01 020405b4 0402 01 01'), //           ECN: WS10 NOP MSS1460 SACK NOP NOP
  ...Array.from({ length: 5 }, () => hex(`03030a 01 02040109 ${TS} 0402`)), // T2–T6: WS10 NOP MSS265 TS SACK
  hex(`03030f 01 02040109 ${TS} 0402`), //           T7: the same with WS15
];
/** Windows, in the same order. */
export const OS_TCP_WINDOWS: readonly number[] = [1, 63, 4, 4, 16, 512, 3, 128, 256, 1024, 31337, 32768, 65535];

const FIN = 0x01, SYN = 0x02, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40, CWR = 0x80;

const tcpProbe = (name: OsProbeName, set: number, port: 'open' | 'closed', flags: number, df: boolean, seqOffset = 0): OsTcpProbeSpec => ({
  kind: 'tcp', name, port, flags, window: OS_TCP_WINDOWS[set]!, options: OS_TCP_OPTION_SETS[set]!, df,
  urgentPointer: 0, reserved: 0, seqOffset, ack: 'random',
});

/** The probes in nmap's sending order: the SEQ train first (100 ms apart), then the rest. */
export const OS_PROBES: readonly OsProbeSpec[] = [
  ...[0, 1, 2, 3, 4, 5].map((i) => tcpProbe(`SEQ${i + 1}` as OsProbeName, i, 'open', SYN, false, i)),
  { ...tcpProbe('ECN', 6, 'open', SYN | ECE | CWR, false), urgentPointer: 63477, reserved: 8, ack: 'zero' },
  tcpProbe('T2', 7, 'open', 0, true),
  tcpProbe('T3', 8, 'open', SYN | FIN | URG | PSH, false),
  tcpProbe('T4', 9, 'open', ACK, true),
  tcpProbe('T5', 10, 'closed', SYN, false),
  tcpProbe('T6', 11, 'closed', ACK, true),
  tcpProbe('T7', 12, 'closed', FIN | PSH | URG, false),
  { kind: 'icmp', name: 'IE1', tos: 0, df: true, code: 9, idOffset: 0, seq: 295, dataLength: 120 },
  { kind: 'icmp', name: 'IE2', tos: 4, df: false, code: 0, idOffset: 1, seq: 296, dataLength: 150 },
  { kind: 'udp', name: 'U1', ipId: 0x1042, dataLength: 300, patternByte: 0x43, totalLength: 328, ttlRange: [51, 64] },
];

/** What the sender used for one host's round, to recognise the replies. */
export interface OsRoundPorts {
  /** Source port of each TCP probe (each its own, so replies pair by port). */
  tcpSource: Partial<Record<OsProbeName, number>>;
  openTcpPort: number | null;
  closedTcpPort: number | null;
  /** The ICMP echo id of IE1 (IE2 is id + 1). */
  icmpId: number;
  udpSource: number;
  udpDest: number;
  /** The source port of a resent T1, when one is sent. */
  t1Source?: number;
  /** The source ports of resent OPS/WIN probes TOPS1–6. */
  topsSource?: number[];
}

/**
 * Collects the first reply per probe from decoded packets (from the target only; the caller
 * filters by address), in arrival order, and says which probes still lack one — for the
 * retransmissions of a round.
 */
export class OsReplyCollector {
  private readonly byTcp = new Map<string, OsProbeName>();
  private readonly got = new Map<OsProbeName, OsTcpReply | OsIcmpEchoReply | OsIcmpUnreachReply>();
  private readonly seqOrder: Array<[number, OsTcpReply]> = [];

  constructor(private readonly ports: OsRoundPorts) {
    for (const p of OS_PROBES) {
      if (p.kind !== 'tcp') continue;
      const sport = ports.tcpSource[p.name];
      const dport = p.port === 'open' ? ports.openTcpPort : ports.closedTcpPort;
      if (sport !== undefined && dport !== null) this.byTcp.set(`${dport}>${sport}`, p.name);
    }
    if (ports.t1Source !== undefined && ports.openTcpPort !== null) this.byTcp.set(`${ports.openTcpPort}>${ports.t1Source}`, 'T1');
    ports.topsSource?.forEach((sport, i) => {
      if (ports.openTcpPort !== null) this.byTcp.set(`${ports.openTcpPort}>${sport}`, `TOPS${i + 1}` as OsProbeName);
    });
  }

  /** Takes a reply; returns the probe it answers, or undefined (not ours, or a duplicate). */
  offer(d: DecodedOsReply): OsProbeName | undefined {
    if (d.proto === 'other') return undefined;
    let name: OsProbeName | undefined;
    if (d.proto === 'tcp') name = this.byTcp.get(`${d.reply.sport}>${d.reply.dport}`);
    else if (d.proto === 'icmp-echo-reply') {
      name = d.reply.id === this.ports.icmpId ? 'IE1' : d.reply.id === ((this.ports.icmpId + 1) & 0xffff) ? 'IE2' : undefined;
    } else if (d.proto === 'icmp-unreach' && d.reply.type === 3 && d.reply.code === 3) {
      const q = d.reply.quoted;
      const ihl = ((q[0] ?? 0) & 0x0f) * 4;
      if (q.length >= ihl + 8 && ((q[ihl]! << 8) | q[ihl + 1]!) === this.ports.udpSource && ((q[ihl + 2]! << 8) | q[ihl + 3]!) === this.ports.udpDest) name = 'U1';
    }
    if (!name || this.got.has(name)) return undefined;
    this.got.set(name, d.reply);
    if (name.startsWith('SEQ') && d.proto === 'tcp') this.seqOrder.push([Number(name.slice(3)) - 1, d.reply]);
    return name;
  }

  answered(name: OsProbeName): boolean {
    return this.got.has(name);
  }

  /** Probes without a reply so far. */
  missing(): OsProbeName[] {
    return OS_PROBES.map((p) => p.name).filter((n) => !this.got.has(n));
  }

  replies(): OsReplies {
    const tcp = (n: OsProbeName) => (this.got.get(n) as OsTcpReply | undefined) ?? null;
    return {
      seq: [...this.seqOrder],
      tops: [1, 2, 3, 4, 5, 6].map((i) => tcp(`TOPS${i}` as OsProbeName)),
      ecn: tcp('ECN'),
      t: [tcp('T1'), tcp('T2'), tcp('T3'), tcp('T4'), tcp('T5'), tcp('T6'), tcp('T7')],
      u1: (this.got.get('U1') as OsIcmpUnreachReply | undefined) ?? null,
      ie: [(this.got.get('IE1') as OsIcmpEchoReply | undefined) ?? null, (this.got.get('IE2') as OsIcmpEchoReply | undefined) ?? null],
    };
  }
}
