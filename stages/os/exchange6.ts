/**
 * The raw side of IPv6 OS detection for one host, scheduled as nmap's IPv6 engine (FPEngine)
 * schedules it: the timed probes S1–S6 100 ms apart from a random 0–99 ms start, then the other
 * probes one at a time (50 ms apart, the pace of nmap's engine loop on the wire), each
 * retransmitted once its retransmission timeout passes, up to --max-os-tries retransmissions
 * (the timeout: 3 s until a first reply, then SRTT + max(0.5 s, 4·RTTVAR) by RFC 6298 with
 * Karn's rule). A timed probe that times out makes all six go again, 100 ms apart, once every one
 * of them is answered or timed out; the larger set of timed replies is kept.
 *
 * The result is the os record: the fingerprint in nmap's IPv6 print (fingerprint6.ts), ports
 * used, distance, the unfit reason of nmap's IPv6 engine — and no matches: nmap classifies IPv6
 * prints with a model compiled into its binary, not a database prtip can read.
 */
import { randomInt } from 'node:crypto';
import { loadNative, type RawExchange } from '../../native/index.js';
import type { RawRoute } from '../probes/routing.js';
import { PRTIP_VERSION, type OsRecord } from '../records/index.js';
import { isPrivateIpv6, os6ReplyTo, quotedHopLimit, submissionText6, type Os6ProbeKeys, type Os6Response } from './fingerprint6.js';
import { buildOs6Probes, type BuiltProbe6, type Os6Wire } from './packets6.js';
import { OS6_HOP_LIMIT_RANGE, OS6_PROBES, type Os6ProbeName } from './probes6.js';
import { platformTriple, type DistanceMethod } from './submission.js';

export const OS6_NO_DATABASE = 'no IPv6 OS database: nmap classifies IPv6 fingerprints with a model compiled into its binary, not a data file prtip can read';

/** The ports one IPv6 host is probed on: nmap's choice, without the IPv4 engine's random closed TCP port. */
export interface Os6HostPorts {
  openTcpPort: number | null;
  /** Closed, else unfiltered; null: the probes to a closed port are not sent. */
  closedTcpPort: number | null;
  /** The scan found closedTcpPort closed (CT= and <portused> name only such a port). */
  closedTcpPortKnown: boolean;
  closedUdpPort: number;
  closedUdpPortKnown: boolean;
}

export interface Os6HostOptions {
  maxOsTries: number;
  scanDelayMs: number;
  route: RawRoute;
  dstMac: Uint8Array;
  signal?: AbortSignal;
  /** Wall clock for the SCAN line (tests pin it). */
  now?: () => Date;
}

const TIMED_SPACING_MS = 100;
const UNTIMED_SPACING_MS = 50;
const INITIAL_RTO_US = 3_000_000;
const MIN_RTO_US = 100_000;
const TICK_MS = 5;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const macText = (m: Uint8Array) => [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');

interface ProbeState {
  probe: BuiltProbe6;
  timed: boolean;
  /** µs of the last send (0: not sent yet). */
  sentUs: number;
  /** Due time (µs) of a scheduled send, or null. */
  dueUs: number | null;
  retransmissions: number;
  failed: boolean;
  response: Os6Response | null;
}

/** RFC 6298 as nmap's FPHost::update_RTO computes it (integer µs, Karn's rule by the caller). */
export class Os6Rto {
  rto = INITIAL_RTO_US;
  private srtt = -1;
  private rttvar = -1;
  sample(rttUs: number): void {
    const r = Math.round(rttUs);
    if (this.srtt === -1) {
      this.srtt = r;
      this.rttvar = Math.trunc(r / 2);
    } else {
      this.rttvar += (Math.abs(this.srtt - r) - this.rttvar) >> 2;
      this.srtt += (r - this.srtt) >> 3;
    }
    this.rto = Math.max(MIN_RTO_US, this.srtt + Math.max(500_000, 4 * this.rttvar));
  }
}

/** One host: every probe with nmap's retransmissions, then its os record. */
export async function osDetectHost6(ip: string, ports: Os6HostPorts, o: Os6HostOptions): Promise<OsRecord> {
  const native = loadNative();
  const target = Uint8Array.from(Buffer.from(expand6(ip), 'hex'));
  const magic = randomInt(33000, 64000 - 256);
  const names = OS6_PROBES.map((p) => p.name);
  const wire: Os6Wire = {
    srcMac: o.route.srcMac, dstMac: o.dstMac, src: o.route.sourceBytes, dst: target,
    openTcpPort: ports.openTcpPort, closedTcpPort: ports.closedTcpPort, closedUdpPort: ports.closedUdpPort,
    tcpPortBase: magic + randomInt(0, 256), udpSourcePort: magic + randomInt(0, 256), tcpSeqBase: randomInt(0, 2 ** 32),
    tcpAck: Object.fromEntries(names.map((n) => [n, randomInt(0, 2 ** 32)])),
    hopLimit: Object.fromEntries(names.map((n) => [n, randomInt(OS6_HOP_LIMIT_RANGE[0], OS6_HOP_LIMIT_RANGE[1] + 1)])),
  };
  const onLink = o.route.onLink && !o.route.local;
  const probes = buildOs6Probes(wire, native.checksum, onLink);
  const keys: Os6ProbeKeys = {
    target, openTcpPort: ports.openTcpPort, closedTcpPort: ports.closedTcpPort, tcpPortBase: wire.tcpPortBase,
    udpSourcePort: wire.udpSourcePort, closedUdpPort: ports.closedUdpPort,
  };
  const states: ProbeState[] = probes.map((probe) => ({
    probe, timed: probe.spec.kind === 'tcp' && probe.spec.timed, sentUs: 0, dueUs: null, retransmissions: 0, failed: false, response: null,
  }));
  const timed = states.filter((s) => s.timed);
  const untimed = states.filter((s) => !s.timed);
  const byName = new Map(states.map((s) => [s.probe.name, s]));
  const rto = new Os6Rto();
  let stashed: Array<Os6Response | null> = timed.map(() => null);

  const ex: RawExchange = new native.RawExchange(o.route.ifname, `ip6 and src host ${ip}`);
  const beginUs = native.RawExchange.nowUs();
  const send = (s: ProbeState) => {
    s.sentUs = ex.send(s.probe.frame);
    s.dueUs = null;
  };
  const scheduleTimed = () => {
    const start = native.RawExchange.nowUs() + randomInt(0, 100) * 1000;
    timed.forEach((s, i) => (s.dueUs = start + i * TIMED_SPACING_MS * 1000));
  };
  const drain = () => {
    for (const { packet, timeUs } of ex.poll()) {
      const name = os6ReplyTo(packet, keys);
      const s = name ? byName.get(name) : undefined;
      if (!s || s.response || s.sentUs === 0) continue;
      s.response = { name: s.probe.name, packet: Uint8Array.from(packet), sentUs: s.sentUs, receivedUs: timeUs };
      if (s.retransmissions === 0) rto.sample(native.RawExchange.nowUs() - s.sentUs);
    }
  };
  const finished = (s: ProbeState) => s.response !== null || s.failed;

  try {
    if (timed.length) scheduleTimed();
    let nextUntimed = 0;
    let lastUntimedSendUs = 0;
    while (!states.every(finished) && !o.signal?.aborted) {
      await sleep(TICK_MS);
      drain();
      const now = native.RawExchange.nowUs();
      for (const s of timed) {
        if (s.dueUs === null || s.dueUs > now) continue;
        send(s);
        lastUntimedSendUs = s.sentUs; // the first untimed probe follows S6 at the untimed pace
      }
      // Nothing else goes out while the timed train is on its way (nmap keeps the target's stack quiet for it).
      if (timed.some((s) => s.dueUs !== null)) continue;
      if (now - lastUntimedSendUs < UNTIMED_SPACING_MS * 1000) continue;
      if (nextUntimed < untimed.length) {
        send(untimed[nextUntimed++]!);
        lastUntimedSendUs = now;
        continue;
      }
      // Untimed retransmissions: one per pass, the first whose timeout passed.
      for (const s of untimed) {
        if (finished(s) || now - s.sentUs < rto.rto) continue;
        if (s.retransmissions >= o.maxOsTries) { s.failed = true; continue; }
        s.retransmissions++;
        send(s);
        lastUntimedSendUs = now;
        break;
      }
      // Timed probes: once each is answered or timed out, the timed-out ones resend all six.
      if (timed.length && timed.every((s) => s.response || s.failed || now - s.sentUs >= rto.rto) && timed.some((s) => !s.response && !s.failed)) {
        if (timed.some((s) => !s.response && s.retransmissions >= o.maxOsTries)) {
          for (const s of timed) if (!s.response) s.failed = true;
        } else {
          const now6 = timed.map((s) => s.response);
          if (now6.filter(Boolean).length > stashed.filter(Boolean).length) stashed = now6;
          for (const s of timed) {
            s.response = null;
            s.retransmissions++;
          }
          scheduleTimed();
        }
      }
    }
    drain();
  } finally {
    ex.close();
  }
  // The better of the last timed set and the best earlier one.
  if (stashed.filter(Boolean).length > timed.filter((s) => s.response).length) timed.forEach((s, i) => (s.response = stashed[i] ?? null));

  const responses = states.map((s) => s.response).filter((r): r is Os6Response => r !== null);
  let hopDistance: number | null = null;
  let udpAnswered = false;
  for (const n of ['IE2', 'U1'] as Os6ProbeName[]) {
    const s = byName.get(n);
    const q = s?.response ? quotedHopLimit(s.response.packet) : null;
    if (s && q !== null) {
      hopDistance ??= wire.hopLimit[n]! - q + 1;
      if (n === 'U1') udpAnswered = true;
    }
  }
  const method: DistanceMethod | null = o.route.local ? 'localhost' : onLink ? 'direct' : hopDistance !== null ? 'icmp' : null;
  const hops = o.route.local ? 0 : onLink ? 1 : hopDistance;
  const openPort = ports.openTcpPort;
  const closedKnown = ports.closedTcpPortKnown ? ports.closedTcpPort : null;
  const udpPort = ports.closedUdpPortKnown || udpAnswered ? ports.closedUdpPort : null;
  const reason = o.scanDelayMs > 500 ? `Scan delay (${o.scanDelayMs}) is greater than 500`
    : openPort === null && ports.closedTcpPort === null ? 'Missing a closed or open TCP port so results incomplete' : null;
  const fingerprint = submissionText6({
    version: PRTIP_VERSION, time: (o.now ?? (() => new Date()))(), openTcpPort: openPort, closedTcpPort: closedKnown, closedUdpPort: udpPort,
    privateAddress: isPrivateIpv6(target), distance: hops, distanceMethod: method, good: reason === null,
    ...(onLink ? { mac: macText(o.dstMac) } : {}), platform: platformTriple(),
  }, responses, beginUs);
  const rec: OsRecord = { type: 'os', ip, matches: [], outcome: 'no-matches', perfect: false, fingerprint, noMatchReason: OS6_NO_DATABASE };
  const used: NonNullable<OsRecord['portsUsed']> = [];
  if (openPort !== null && openPort > 0) used.push({ state: 'open', proto: 'tcp', port: openPort });
  if (closedKnown !== null && closedKnown > 0) used.push({ state: 'closed', proto: 'tcp', port: closedKnown });
  if (udpPort !== null && udpPort > 0) used.push({ state: 'closed', proto: 'udp', port: udpPort });
  if (used.length) rec.portsUsed = used;
  if (reason) rec.unfitReason = reason;
  if (hops !== null && method) rec.distance = { hops, method: ({ localhost: 'L', direct: 'D', icmp: 'I', traceroute: 'T' } as const)[method] };
  return rec;
}

/** An IPv6 address as 32 hex digits. */
export function expand6(ip: string): string {
  const [head, tail] = ip.includes('::') ? ip.split('::') as [string, string] : [ip, undefined];
  const parts = (s: string) => (s === '' ? [] : s.split(':'));
  const h = parts(head);
  const t = tail === undefined ? [] : parts(tail);
  const last = (t.length ? t : h).at(-1) ?? '';
  if (last.includes('.')) {
    const v4 = last.split('.').map(Number);
    const arr = t.length ? t : h;
    arr.splice(arr.length - 1, 1, ((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16));
  }
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0')).join('');
}
