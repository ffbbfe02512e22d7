/**
 * nmap's IPv6 OS probes as data (FPEngine's probe list, nmap 7.93), in nmap's sending and
 * printing order: the six timed SYNs S1–S6 (100 ms apart), IE1, IE2, NS (on-link targets only),
 * U1, TECN, T2–T7. Every packet carries the flow label 0x12345 and a hop limit of 37–59 (NS: 255).
 *
 * The TCP option sets are the IPv4 engine's; what differs from IPv4: TECN has no reserved bit,
 * no probe has a DF bit (IPv6 has none), IE1 is an echo (code 9, 120 zero bytes) behind a
 * hop-by-hop header, IE2 an echo without data behind a misordered chain (hop-by-hop, destination
 * options, routing type 0, hop-by-hop again), the ICMPv6 id is 0xabcd with sequence numbers from 0,
 * and NS is a bare neighbour solicitation (no source link-layer option) sent to the target itself.
 * test/integration/os6-lab.test.ts compares this table with nmap's packets on the wire.
 */
import { OS_PROBES } from './probes.js';

export type Os6ProbeName =
  | 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'S6'
  | 'IE1' | 'IE2' | 'NS' | 'U1' | 'TECN'
  | 'T2' | 'T3' | 'T4' | 'T5' | 'T6' | 'T7';

export interface Os6TcpSpec {
  kind: 'tcp';
  name: Os6ProbeName;
  port: 'open' | 'closed';
  flags: number;
  window: number;
  options: Uint8Array;
  urgentPointer: number;
  /** seq = base + this; the source port = port base + this (nmap's TCP_DESCS index). */
  index: number;
  ack: 'random' | 'zero';
  /** S1–S6: sent 100 ms apart, retransmitted together. */
  timed: boolean;
}

export interface Os6EchoSpec {
  kind: 'echo';
  name: 'IE1' | 'IE2';
  code: number;
  /** ICMPv6 sequence number (nmap's per-host counter: IE1 0, IE2 1). */
  seq: number;
  dataLength: number;
  /** The extension headers before ICMPv6, in order: 0 hop-by-hop, 60 destination options, 43 routing. */
  extensions: number[];
}

export interface Os6NsSpec {
  kind: 'ns';
  name: 'NS';
}

export interface Os6UdpSpec {
  kind: 'udp';
  name: 'U1';
  dataLength: number;
  patternByte: number;
}

export type Os6ProbeSpec = Os6TcpSpec | Os6EchoSpec | Os6NsSpec | Os6UdpSpec;

export const OS6_FLOW_LABEL = 0x12345;
export const OS6_ICMP_ID = 0xabcd;
/** nmap's hop limit for every probe but NS: a random 37–59. */
export const OS6_HOP_LIMIT_RANGE: [number, number] = [37, 59];

// The IPv4 table's option bytes, windows, flags and urgent pointer are the IPv6 engine's too.
const v4 = (name: string) => {
  const p = OS_PROBES.find((x) => x.name === name);
  if (!p || p.kind !== 'tcp') throw new Error(`no IPv4 TCP probe ${name}`);
  return p;
};
const tcp = (name: Os6ProbeName, from: string, index: number): Os6TcpSpec => {
  const p = v4(from);
  return {
    kind: 'tcp', name, port: p.port, flags: p.flags, window: p.window, options: p.options, urgentPointer: p.urgentPointer, index,
    ack: name === 'TECN' ? 'zero' : 'random', timed: /^S\d$/.test(name),
  };
};

export const OS6_PROBES: readonly Os6ProbeSpec[] = [
  tcp('S1', 'SEQ1', 0), tcp('S2', 'SEQ2', 1), tcp('S3', 'SEQ3', 2), tcp('S4', 'SEQ4', 3), tcp('S5', 'SEQ5', 4), tcp('S6', 'SEQ6', 5),
  { kind: 'echo', name: 'IE1', code: 9, seq: 0, dataLength: 120, extensions: [0] },
  { kind: 'echo', name: 'IE2', code: 0, seq: 1, dataLength: 0, extensions: [0, 60, 43, 0] },
  { kind: 'ns', name: 'NS' },
  { kind: 'udp', name: 'U1', dataLength: 300, patternByte: 0x43 },
  tcp('TECN', 'ECN', 6),
  tcp('T2', 'T2', 7), tcp('T3', 'T3', 8), tcp('T4', 'T4', 9), tcp('T5', 'T5', 10), tcp('T6', 'T6', 11), tcp('T7', 'T7', 12),
];

export const OS6_PROBE_NAMES: readonly Os6ProbeName[] = OS6_PROBES.map((p) => p.name);
