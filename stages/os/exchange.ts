/**
 * The raw side of OS detection for one host: sends the 16 probes of each round as exact frames
 * (native RawExchange on the route's interface), SEQ1–6 100 ms apart, the other ten right after;
 * captures the host's replies, pairs them (OsReplyCollector), resends the unanswered non-SEQ
 * probes up to three times per round, and runs the rounds by the round policy (rounds.ts) into an os record.
 */
import { randomInt } from 'node:crypto';
import { loadNative, type NativeEngine, type RawExchange } from '../../native/index.js';
import type { OsDb } from '../datafiles/os-db.js';
import type { RawRoute } from '../probes/routing.js';
import { PRTIP_VERSION, type OsRecord } from '../records/index.js';
import { decodeIpv4Reply } from './decode.js';
import { computeFingerprint, type OsRoundResult } from './fingerprint.js';
import { matchFingerprint, type OsMatchResult } from './match.js';
import { OS_PROBES, OsReplyCollector, type OsProbeName, type OsTcpProbeSpec } from './probes.js';
import { buildOsProbe, buildOsProbes, type BuiltProbe, type OsRoundWire } from './packets.js';
import { buildOsRecord } from './record.js';
import type { OsProbeContext } from './responses.js';
import { bestRound, pauseBeforeRound, resultsUnreliable, roundIsFinal, roundsFor, unfitReason } from './rounds.js';
import { isPrivateIpv4, platformTriple, submissionText, type DistanceMethod } from './submission.js';

/** The ports one host is probed on, chosen by the stage from the port scan (or nmap's fallbacks). */
export interface OsHostPorts {
  openTcpPort: number | null;
  closedTcpPort: number;
  /** closedTcpPort was found closed by the scan (not a fallback). */
  closedTcpPortKnown: boolean;
  closedUdpPort: number;
  closedUdpPortKnown: boolean;
  /** Open and closed TCP ports the scan found (for the "unreliable" note). */
  openCount: number;
  closedCount: number;
}

export interface OsHostOptions {
  db: OsDb;
  maxOsTries: number;
  guess: boolean;
  scanDelayMs: number;
  timingLevel: number;
  /** A UDP scan ran (-sU). */
  udpScan: boolean;
  /** The target's next hop: interface, source, MACs. */
  route: RawRoute;
  /** The Ethernet destination (the target's MAC on the link, else the gateway's). */
  dstMac: Uint8Array;
  signal?: AbortSignal;
}

const SEQ_SPACING_MS = 100;
/** Resends of an unanswered non-SEQ probe within a round (nmap's, as counted on the lab's wire). */
const TUI_RETRIES = 3;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const macText = (m: Uint8Array) => [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');

interface RoundOutcome {
  result: OsRoundResult;
  match: OsMatchResult;
  u1Answered: boolean;
}

/** One round: send, collect, resend what is missing once, compute and match. */
async function runRound(native: NativeEngine, ex: RawExchange, ip: string, ports: OsHostPorts, o: OsHostOptions): Promise<RoundOutcome> {
  const base = randomInt(33000, 60000 - OS_PROBES.length - 7);
  const sourcePort = {} as Record<OsProbeName, number>;
  const ipId = {} as Record<OsProbeName, number>;
  OS_PROBES.forEach((p, i) => {
    sourcePort[p.name] = base + i;
    ipId[p.name] = randomInt(0, 0x10000);
  });
  // T1, resent when SEQ1 goes unanswered, has a source port of its own so its reply pairs with it.
  sourcePort.T1 = base + OS_PROBES.length;
  ipId.T1 = randomInt(0, 0x10000);
  // So do TOPS1–6, the SEQ probes resent for OPS/WIN.
  const tops = [1, 2, 3, 4, 5, 6].map((i) => `TOPS${i}` as OsProbeName);
  tops.forEach((n, i) => {
    sourcePort[n] = base + OS_PROBES.length + 1 + i;
    ipId[n] = randomInt(0, 0x10000);
  });
  const wire: OsRoundWire = {
    srcMac: o.route.srcMac, dstMac: o.dstMac, src: o.route.sourceBytes, dst: Uint8Array.from(ip.split('.').map(Number)),
    openTcpPort: ports.openTcpPort ?? 0, closedTcpPort: ports.closedTcpPort, closedUdpPort: ports.closedUdpPort,
    sourcePort, tcpSeqBase: randomInt(0, 2 ** 32), tcpAck: randomInt(0, 2 ** 32), icmpId: randomInt(0, 0x10000), ipId,
    // nmap's raw packets leave with a TTL of 37–59, U1 with 51–64.
    ttl: randomInt(37, 60), u1Ttl: randomInt(51, 65),
  };
  // Without an open port nmap has nothing to send SEQ, ECN and T1–T4 to.
  const probes = buildOsProbes(wire, native.checksum).filter((p) => ports.openTcpPort !== null || p.spec.kind !== 'tcp' || p.spec.port === 'closed');
  const collector = new OsReplyCollector({
    tcpSource: sourcePort, openTcpPort: ports.openTcpPort, closedTcpPort: ports.closedTcpPort,
    icmpId: wire.icmpId, udpSource: sourcePort.U1, udpDest: ports.closedUdpPort, t1Source: sourcePort.T1,
    topsSource: tops.map((n) => sourcePort[n]),
  });
  let lastReplyRttUs = 0;
  const sentAt = new Map<OsProbeName, number>();
  const drain = () => {
    for (const { packet, timeUs } of ex.poll()) {
      const d = decodeIpv4Reply(packet);
      if (!d) continue;
      const name = collector.offer(d);
      const sent = name ? sentAt.get(name) : undefined;
      if (sent !== undefined) lastReplyRttUs = Math.max(lastReplyRttUs, timeUs - sent);
    }
  };
  const send = (p: BuiltProbe) => {
    sentAt.set(p.name, ex.send(p.frame));
  };
  const sentProbes: BuiltProbe[] = [...probes];
  const waitForReplies = async () => {
    // Long enough for the slowest reply seen so far, four times over, within 0.3–2 s.
    const deadline = Date.now() + Math.min(2000, Math.max(300, (4 * lastReplyRttUs) / 1000 + 100));
    while (Date.now() < deadline && sentProbes.some((p) => !collector.answered(p.name))) {
      await sleep(5);
      drain();
    }
  };

  const seq = probes.filter((p) => p.name.startsWith('SEQ'));
  const rest = probes.filter((p) => !p.name.startsWith('SEQ'));
  const t0 = Date.now();
  for (let i = 0; i < seq.length; i++) {
    const wait = t0 + i * SEQ_SPACING_MS - Date.now();
    if (wait > 0) await sleep(wait);
    send(seq[i]!);
    drain();
  }
  drain();
  // nmap's TUI phase sends an unanswered SEQ probe again as TOPS (seq = base, before ECN) for its
  // O/W, and SEQ1 once more as T1 (after ECN) for the T1 test: SEQ packets on source ports of
  // their own, retransmitted like the other TUI probes.
  const ecnAt = rest.findIndex((p) => p.name === 'ECN');
  const again = seq.filter((p) => !collector.answered(p.name)).map((p) => {
    const i = Number(p.name.slice(3)) - 1;
    return buildOsProbe({ ...(p.spec as OsTcpProbeSpec), name: tops[i]!, seqOffset: 0 }, wire, native.checksum);
  });
  const seq1 = seq.find((p) => p.name === 'SEQ1');
  const t1 = seq1 && !collector.answered('SEQ1') ? [buildOsProbe({ ...(seq1.spec as OsTcpProbeSpec), name: 'T1' }, wire, native.checksum)] : [];
  if (ecnAt >= 0) rest.splice(ecnAt, 1, ...again, rest[ecnAt]!, ...t1);
  sentProbes.push(...again, ...t1);
  for (const p of rest) send(p);
  await waitForReplies();
  // nmap sends an unanswered ECN/T/IE/U1 probe up to three more times (four in all).
  const resent = new Set<OsProbeName>();
  for (let retry = 0; retry < TUI_RETRIES; retry++) {
    const again = rest.filter((p) => !collector.answered(p.name));
    if (!again.length) break;
    for (const p of again) {
      send(p);
      resent.add(p.name);
    }
    await waitForReplies();
  }
  drain();

  const u1 = probes.find((p) => p.name === 'U1')!;
  const ctx: OsProbeContext = {
    openTcpPort: ports.openTcpPort,
    closedTcpPort: ports.closedTcpPort,
    closedTcpPortKnown: ports.closedTcpPortKnown,
    closedUdpPort: ports.closedUdpPort,
    tcpSeqBase: wire.tcpSeqBase,
    tcpAck: wire.tcpAck,
    seqSentUs: [1, 2, 3, 4, 5, 6].map((i) => sentAt.get(`SEQ${i}` as OsProbeName) ?? null),
    seqSentUnixSeconds: Math.floor((sentAt.get('SEQ1') ?? Date.now() * 1000) / 1e6),
    u1: { ttl: wire.u1Ttl, ipId: 0x1042, udpChecksum: u1.udpChecksum!, patternByte: 0x43, sport: sourcePort.U1, dport: ports.closedUdpPort },
    ieRetransmitted: [resent.has('IE1'), resent.has('IE2')],
    localhost: o.route.local,
    scanDelayMs: o.scanDelayMs,
  };
  const result = computeFingerprint(ctx, collector.replies());
  return { result, match: matchFingerprint(o.db, result.fingerprint), u1Answered: collector.answered('U1') };
}

/** Every round for one host (by the round policy), then its os record. */
export async function osDetectHost(ip: string, ports: OsHostPorts, o: OsHostOptions): Promise<OsRecord> {
  const native = loadNative();
  const ex = new native.RawExchange(o.route.ifname, `src host ${ip}`);
  const rounds: RoundOutcome[] = [];
  const method: DistanceMethod | null = o.route.local ? 'localhost' : o.route.onLink ? 'direct' : null;
  const distanceOf = (r: OsRoundResult) => (o.route.local ? 0 : o.route.onLink ? 1 : r.distance);
  let reason: string | null = null;
  try {
    for (let r = 0; ; r++) {
      if (o.signal?.aborted) break;
      const pause = pauseBeforeRound(r);
      if (pause) await sleep(pause);
      const round = await runRound(native, ex, ip, ports, o);
      rounds.push(round);
      reason = unfitReason({
        scanDelayMs: o.scanDelayMs, timingLevel: o.timingLevel, openTcpPort: ports.openTcpPort,
        knownClosedTcpPort: ports.closedTcpPortKnown ? ports.closedTcpPort : null, distance: distanceOf(round.result),
        maxTimingRatio: Math.max(...rounds.map((x) => x.result.timingRatio)),
        closedUdpPortKnown: ports.closedUdpPortKnown || rounds.some((x) => x.u1Answered), udpScan: o.udpScan, incomplete: false,
      });
      if (roundIsFinal(round.match) || r + 1 >= roundsFor(o.maxOsTries, reason !== null)) break;
    }
  } finally {
    ex.close();
  }
  const best = rounds[bestRound(rounds.map((x) => x.match))]!;
  const hops = distanceOf(best.result) ?? rounds.map((x) => x.result.distance).find((d) => d !== null) ?? null;
  const dMethod: DistanceMethod | null = method ?? (hops !== null ? 'icmp' : null);
  const udpKnown = ports.closedUdpPortKnown || rounds.some((x) => x.u1Answered);
  const good = reason === null;
  const fingerprint = submissionText({
    version: PRTIP_VERSION, time: new Date(), openTcpPort: ports.openTcpPort, closedTcpPort: ports.closedTcpPortKnown ? ports.closedTcpPort : null,
    closedUdpPort: udpKnown ? ports.closedUdpPort : null, privateAddress: isPrivateIpv4(ip), distance: hops, distanceMethod: dMethod, good,
    ...(o.route.onLink && !o.route.local && !o.route.ipLink ? { mac: macText(o.dstMac) } : {}), platform: platformTriple(),
  }, rounds.map((x) => x.result.fingerprint), good);
  const rec = buildOsRecord({
    ip, round: best.result, match: best.match, fingerprint,
    openTcpPort: ports.openTcpPort, knownClosedTcpPort: ports.closedTcpPortKnown ? ports.closedTcpPort : null,
    closedUdpPort: udpKnown ? ports.closedUdpPort : null,
    distance: hops !== null && dMethod ? { hops, method: ({ localhost: 'L', direct: 'D', icmp: 'I', traceroute: 'T' } as const)[dMethod] } : null,
    unfitReason: reason, unreliable: resultsUnreliable(ports.openCount, ports.closedCount), guess: o.guess, nowSeconds: Date.now() / 1000,
  });
  return rec;
}
