/**
 * Which probe traces a host: nmap traces with the host's "ping probe", the best-scored probe
 * that got an answer during the scan (scan_engine.cc's pingprobe_score): a TCP probe answered
 * by a RST scores 60 (50 on the often-spoofed ports 25, 113, 135, 139, 445), a SYN to an open
 * port 30 (SYN-flood risk), an ICMP-answered TCP probe 20, a UDP probe 20 (less with several
 * payloads for its port, as nobody can tell which one got the answer). Ties: the lowest port.
 */
import type { PortRecord, Proto } from '../records/index.js';

export interface TraceProbe {
  port: number;
  proto: Proto;
  /** The port's state in the scan (the probe is the one that got that answer). */
  state: string;
  /** The scan's RTT to the host on that port, ms (directly connected hosts: their one hop). */
  rtt: number | null;
}

const SPOOFED = new Set([25, 113, 135, 139, 445]);

/** nmap's score of a port's answered probe; 0 for a probe without an answer from the target. */
export function probeScore(p: PortRecord, synProbe: boolean, payloadCount: (port: number) => number): number {
  if (p.reason === 'no-response') return 0;
  if (p.proto === 'tcp') {
    if (!['reset', 'syn-ack', 'conn-refused'].includes(p.reason)) return p.state === 'filtered' ? 20 : 0;
    if (synProbe && p.state === 'open') return 30;
    return SPOOFED.has(p.port) ? 50 : 60;
  }
  if (p.proto === 'udp') {
    if (p.state !== 'open' && !(p.state === 'closed' && p.reason === 'port-unreach')) return 0;
    const score = 20 - payloadCount(p.port);
    return score === 19 ? 20 : score;
  }
  return 0;
}

/** The host's trace probe, or undefined when no port answered in a way a trace can use. */
export function chooseTraceProbe(ports: PortRecord[], synProbe: boolean, payloadCount: (port: number) => number = () => 0): TraceProbe | undefined {
  let best: PortRecord | undefined;
  let bestScore = 0;
  for (const p of [...ports].sort((a, b) => a.port - b.port)) {
    // Only answers from the target itself: a filtered port's ICMP error may come from a router.
    if (p.proto === 'tcp' && p.state === 'filtered') continue;
    const s = probeScore(p, synProbe, payloadCount);
    if (s > bestScore) {
      best = p;
      bestScore = s;
    }
  }
  return best ? { port: best.port, proto: best.proto, state: best.state, rtt: best.rtt } : undefined;
}
