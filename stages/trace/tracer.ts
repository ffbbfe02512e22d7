/**
 * The traceroute engine, nmap's algorithm (traceroute.cc): per host, TTL-limited copies of its
 * trace probe (10 in flight over all hosts, taking turns), starting at the guessed distance and counting down to 1, then
 * up from the guess until the target itself answers (or TTL 30). Each probe's source port is its
 * token, so an ICMP time-exceeded (which quotes the probe's ports) names the probe and its TTL.
 * Hops are shared between hosts: counting down, a router already seen at the same TTL on the way
 * to another host means the rest of the path is that host's ("Hops 1-2 are the same as for …").
 * A probe gets 1 s and up to two resends; a TTL nobody answers is a timed-out hop.
 *
 * Frames are built by native (buildProbeFrames: the scan's own wire, with this TTL and source
 * port), sent and captured by RawExchange, and replies parsed by native (parseReply: a direct
 * answer, or an ICMP error quoting the probe).
 */
import { randomInt } from 'node:crypto';
import { loadNative, type NativeEngine, type RawExchange, type WireSpec } from '../../native/index.js';
import { formatIPv6, type TraceHop } from '../records/index.js';
import { addressBytes } from '../probes/routing.js';

export const MAX_TTL = 30;
const MAX_OUTSTANDING = 10;
const PROBE_TIMEOUT_MS = 1000;
const DEFAULT_GUESS = 10;

export interface TraceTarget {
  ip: string;
  port: number;
  /** The wire of the probe (the scan's, for this protocol): everything but addresses, TTL and source port. */
  wire: Omit<WireSpec, 'srcMac' | 'sourcePort' | 'ttl'>;
  /** The next hop's MAC (the gateway's). */
  dstMac: Uint8Array;
  /** Initial TTL guess (from the reply TTL the scan saw), else 10. */
  distanceGuess?: number;
}

export interface TraceResult {
  ip: string;
  hops: TraceHop[];
  /** Hops 1..ttl were found on another host's path (nmap's shared trace). */
  sharedWith?: { ip: string; ttl: number };
  probesSent: number;
}

interface Probe {
  token: number;
  host: HostTrace;
  ttl: number;
  sentUs: number;
  resends: number;
}

interface HostTrace {
  t: TraceTarget;
  current: number;
  countingUp: boolean;
  reached: number;
  sent: boolean[];
  hops: Map<number, { ip: string; rtt: number } | null>;
  active: Probe[];
  shared?: { ip: string; ttl: number };
  probesSent: number;
}

export interface TracerOptions {
  ifname: string;
  srcMac: Uint8Array;
  /** The source address: 4 bytes (IPv4) or 16 (IPv6, whose hops answer with ICMPv6 time exceeded). */
  src4: Uint8Array;
  /** Resends of an unanswered probe (nmap: min(--max-retries, 2)). */
  maxResends?: number;
  probeTimeoutMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const addrText = (b: Uint8Array) => (b.length === 16 ? formatIPv6(b) : `${b[0]}.${b[1]}.${b[2]}.${b[3]}`);

/** Guess of a host's distance from a reply's TTL: hops from the nearest usual initial TTL. */
export function distanceFromTtl(ttl: number | null | undefined): number | undefined {
  if (ttl === null || ttl === undefined || ttl <= 0) return undefined;
  const initial = [32, 64, 128, 255].find((i) => i >= ttl)!;
  return Math.max(1, Math.min(MAX_TTL, initial - ttl + 1));
}

function nextTtl(h: HostTrace): void {
  if (!h.countingUp) {
    while (h.current > 1 && h.sent[h.current]) h.current--;
    if (h.current === 1) h.countingUp = true;
  }
  if (h.countingUp) while (h.current <= MAX_TTL && h.sent[h.current]) h.current++;
}

function hasMore(h: HostTrace): boolean {
  return !(h.countingUp && ((h.reached > 0 && h.current >= h.reached) || h.current > MAX_TTL));
}

/** Traces every target (all behind one interface) in one exchange; results in the targets' order. */
export async function traceTargets(targets: TraceTarget[], o: TracerOptions): Promise<TraceResult[]> {
  const native: NativeEngine = loadNative();
  const family: 4 | 6 = o.src4.length === 16 ? 6 : 4;
  const ex: RawExchange = new native.RawExchange(o.ifname, `dst host ${addrText(o.src4)} and (${family === 4 ? 'icmp' : 'icmp6'} or tcp or udp)`);
  const timeExceeded = family === 4 ? 11 : 3;
  const maxResends = Math.min(2, o.maxResends ?? 2);
  const timeoutUs = (o.probeTimeoutMs ?? PROBE_TIMEOUT_MS) * 1000;
  const base = randomInt(33000, 65535 - 25000);
  let tokenSeq = 0;
  const byToken = new Map<number, Probe>();
  // The global hop cache: "ttl address" → the host whose trace found it first.
  const cache = new Map<string, string>();
  const hosts: HostTrace[] = targets.map((t) => ({
    t, current: Math.max(1, Math.min(MAX_TTL, t.distanceGuess ?? DEFAULT_GUESS)), countingUp: false, reached: 0,
    sent: Array<boolean>(MAX_TTL + 2).fill(false), hops: new Map(), active: [], probesSent: 0,
  }));
  const byIp = new Map(hosts.map((h) => [h.t.ip, h]));
  let rr = 0;

  const send = (h: HostTrace, p: Probe) => {
    const spec: WireSpec = {
      ...h.t.wire, srcMac: o.srcMac, sourcePort: p.token, ttl: p.ttl,
      ...(family === 4 ? { src4: o.src4, dstMac4: h.t.dstMac } : { src6: o.src4, dstMac6: h.t.dstMac }),
    };
    const frames = native.buildProbeFrames(spec, family, addressBytes(h.t.ip), h.t.port, 0, h.t.dstMac);
    p.sentUs = ex.send(frames[0]!);
    h.probesSent++;
  };
  const newToken = () => {
    for (;;) {
      const token = base + (tokenSeq++ % 25000);
      if (!byToken.has(token)) return token;
    }
  };
  const cancel = (h: HostTrace, keep: (p: Probe) => boolean) => {
    for (const p of h.active.filter((x) => !keep(x))) byToken.delete(p.token);
    h.active = h.active.filter(keep);
  };

  const onReply = (frame: Buffer, timeUs: number) => {
    for (const proto of [6, 17]) {
      const r = native.parseReply(frame, { srcMac: o.srcMac, ipProto: proto, sourcePort: 1, tcpFlags: targets[0]?.wire.tcpFlags ?? 2, ...(family === 6 ? { src6: o.src4, dstMac6: targets[0]?.dstMac ?? o.srcMac } : {}) });
      if (!r) continue;
      const p = byToken.get(r.localPort);
      if (!p) return;
      const h = p.host;
      if (addrText(r.peer) !== h.t.ip || r.peerPort !== h.t.port) return;
      const from = addrText(r.from);
      const rtt = Math.max(0, (timeUs - p.sentUs) / 1000);
      byToken.delete(p.token);
      h.active = h.active.filter((x) => x !== p);
      const fromTarget = from === h.t.ip;
      if (fromTarget) {
        // The target answered (the probe itself, or an ICMP error of its own): it is this far away.
        if (h.reached === 0 || p.ttl < h.reached) {
          h.reached = p.ttl;
          cancel(h, (x) => x.ttl < h.reached);
          for (const ttl of [...h.hops.keys()]) if (ttl >= h.reached) h.hops.delete(ttl);
        }
        h.hops.set(p.ttl, { ip: from, rtt });
        return;
      }
      if (r.kind !== 'icmp' || r.icmpType !== timeExceeded) return; // only time-exceeded names a hop
      if (h.reached > 0 && p.ttl >= h.reached) return;
      h.hops.set(p.ttl, { ip: from, rtt });
      const key = `${p.ttl} ${from}`;
      const other = cache.get(key);
      if (other === undefined) cache.set(key, h.t.ip);
      else if (other !== h.t.ip && byIp.get(other)?.shared?.ip !== h.t.ip && (!h.shared || (h.shared.ip === other && p.ttl > h.shared.ttl))) {
        // The same router at the same TTL on another host's path: up to it, the paths are the same
        // (nmap links the traces). Counting down, the lower TTLs need no probe of their own.
        h.shared = { ip: other, ttl: p.ttl };
        if (!h.countingUp) {
          for (let t = 1; t < p.ttl; t++) h.sent[t] = true;
          cancel(h, (x) => x.ttl > p.ttl);
          h.countingUp = true;
        }
      }
      return;
    }
  };

  try {
    for (;;) {
      if (o.signal?.aborted) break;
      const now = native.RawExchange.nowUs();
      let busy = false;
      for (const h of hosts) {
        // timeouts: resend, or give the TTL up
        for (const p of [...h.active]) {
          if (now - p.sentUs <= timeoutUs) continue;
          if (p.resends < maxResends) {
            p.resends++;
            send(h, p);
          } else {
            byToken.delete(p.token);
            h.active = h.active.filter((x) => x !== p);
            if (!h.hops.has(p.ttl)) h.hops.set(p.ttl, null);
          }
        }
        if (h.active.length > 0) busy = true;
      }
      // New probes: at most 10 in flight over all hosts, one host after the other (nmap's
      // round robin), so a path found for one host is in the cache before the next counts down.
      let inFlight = hosts.reduce((n, h) => n + h.active.length, 0);
      for (let idle = 0; inFlight < MAX_OUTSTANDING && idle < hosts.length; rr = (rr + 1) % hosts.length) {
        const h = hosts[rr]!;
        nextTtl(h);
        if (!hasMore(h)) { idle++; continue; }
        idle = 0;
        const p: Probe = { token: newToken(), host: h, ttl: h.current, sentUs: 0, resends: 0 };
        h.sent[h.current] = true;
        byToken.set(p.token, p);
        h.active.push(p);
        send(h, p);
        inFlight++;
        busy = true;
      }
      if (!busy) break;
      await sleep(2);
      for (const { packet, timeUs } of ex.poll()) {
        // parseReply reads Ethernet frames: give the captured IP packet a header.
        const frame = Buffer.alloc(14 + packet.length);
        if (family === 6) { frame[12] = 0x86; frame[13] = 0xdd; } else frame[12] = 0x08;
        packet.copy(frame, 14);
        onReply(frame, timeUs);
      }
    }
  } finally {
    ex.close();
  }

  const results = new Map<string, TraceResult>();
  const resolve = (h: HostTrace, seen: Set<string>): TraceResult => {
    const done = results.get(h.t.ip);
    if (done) return done;
    seen.add(h.t.ip);
    const hops: TraceHop[] = [];
    const last = h.reached > 0 ? h.reached : Math.max(0, ...[...h.hops.keys()]);
    const from = h.shared && !seen.has(h.shared.ip) && byIp.get(h.shared.ip) ? resolve(byIp.get(h.shared.ip)!, seen) : undefined;
    for (let ttl = 1; ttl <= last; ttl++) {
      const mine = h.hops.get(ttl);
      const theirs = from && h.shared && ttl < h.shared.ttl ? from.hops.find((x) => x.ttl === ttl) : undefined;
      if (mine) hops.push({ ttl, ip: mine.ip, rtt: Math.round(mine.rtt * 100) / 100 });
      else if (theirs) hops.push(theirs);
      else hops.push({ ttl });
    }
    const r: TraceResult = { ip: h.t.ip, hops, probesSent: h.probesSent, ...(h.shared && from ? { sharedWith: h.shared } : {}) };
    results.set(h.t.ip, r);
    return r;
  };
  return hosts.map((h) => resolve(h, new Set()));
}
