/**
 * stages/send: turns probe batches into port records. Every raw scan type is a probe module run
 * by the raw session (stages/probes, shared with discovery and OS detection); the connect scan
 * (proto-connect.ts) uses kernel sockets and needs no privileges. Several scan types in one run
 * (-sS -sU) each get their engine; each takes the probes of its own protocol from every batch.
 */
import {
  extendTrailer,
  isTrailer,
  probeBatchProblem,
  PROTO_NUMBER,
  RecordStreamError,
  stageStream,
  type AnyRecord,
  type EndTrailer,
  type HostRecord,
  type PortRecord,
  type ProbeBatch,
  type ScanHeader,
  StatusTicker,
  withStatus,
} from '../records/index.js';
import type { PacketTrace } from '../records/index.js';
import type { Duplex } from 'node:stream';
import { ConnectScanner } from './proto-connect.js';
import { HostTable } from './host-table.js';
import { Resolver, type ResolverOptions } from '../dns/index.js';
import { IdleScanner, probeModule, RawSession, scanTypeByName, type EvasionOptions } from '../probes/index.js';
import type { Decided, ScanEngine } from './scan-engine.js';

export { resolveRawRoute, addressBytes, addressKey, macBytes, neighbourTable, nextHopsOf, resolveNeighbours, type NextHop, type RawRoute } from '../probes/index.js';
export { RttEstimator, RawSession } from '../probes/index.js';
export { ConnectScanner } from './proto-connect.js';
export type { ScanEngine, Decided } from './scan-engine.js';

/** A scan type's registry name (stages/probes/registry.ts): connect, syn, fin, null, xmas, maimon, ack, window, udp. */
export type ScanTypeName = string;

export interface SendOptions {
  scanType: ScanTypeName;
  /** Further scan types of the same run (-sS -sU): each takes the probes of its own protocol. */
  moreScanTypes?: ScanTypeName[];
  /** Most connects in flight at once. */
  maxParallelism: number;
  /** How long one attempt waits for an answer, ms. */
  timeoutMs: number;
  /** Extra attempts for a probe that got no answer (nmap's --max-retries). */
  maxRetries: number;
  /** Most probes started per second (undefined: as fast as parallelism allows). */
  maxRate?: number;
  /** Raw scans: the first wait (before RTTs are measured) is timeoutMs; these bound the adapted timeout. */
  minRttTimeoutMs?: number;
  maxRttTimeoutMs?: number;
  /** Raw scans: floor on the pace (--min-rate); congestion control chooses between it and maxRate. */
  minRate?: number;
  /** Raw scans: the pace congestion control starts from and its growth past slow start (the template's). */
  initialRate?: number;
  caGrowth?: number;
  /** Least time between two probes (--scan-delay), ms. */
  scanDelayMs?: number;
  /** Raw scans: most probes awaiting an answer (--max-parallelism, -T0…-T2: 1). */
  rawParallelism?: number;
  /** Raw scans: --min-parallelism (a floor of that many probes per smoothed RTT on the pace). */
  minParallelism?: number;
  /** --host-timeout, ms: a host not finished by then is given up (ports dropped, host record says so). */
  hostTimeoutMs?: number;
  /** Raw TCP: --defeat-rst-ratelimit. */
  defeatRstRateLimit?: boolean;
  /** Raw scans: cooldown after a probe's last attempt (--wait), ms. */
  waitMs?: number;
  /** SYN scan: fixed source port (-g / --source-port). */
  sourcePort?: number;
  /** SYN scan: interface (-e). */
  iface?: string;
  /** SYN scan: source address (-S). */
  sourceAddress?: string;
  /** Raw scans: IPv4 TTL / IPv6 hop limit (--ttl). */
  ttl?: number;
  /** Raw scans: packet options (--badsum, -f, -D, --ip-options, --spoof-mac, --data…, --scanflags). */
  evasion?: EvasionOptions;
  /** Raw scans: nmap's data directory (UDP payloads). */
  datadir?: string;
  /** -sI: the zombie, "host[:probeport]". */
  idleZombie?: string;
  /** UDP: --defeat-icmp-ratelimit. */
  defeatIcmpRateLimit?: boolean;
  /** Raw scans: longest per-host delay when slowing down for a rate limit (--max-scan-delay), ms. */
  maxScanDelayMs?: number;
  /** -Pn: report every host as up (reason user-set) instead of inferring from replies. */
  assumeUp: boolean;
  /** -R: look up names of hosts that are up. */
  reverseDns: boolean;
  /** How (--dns-servers, --system-dns; default: resolv.conf's servers, /etc/hosts first). */
  dns?: ResolverOptions;
  /** The command line of this stage, appended to the header's args. */
  args?: string[];
  signal?: AbortSignal;
  /** Emit a status record (the live counters) every this many ms; none when undefined. */
  statusEveryMs?: number;
  /** Non-fatal notices for the user (e.g. probes of a protocol this scan type cannot send). */
  onWarning?: (message: string) => void;
  /** --packet-trace: every probe and reply (raw: SENT/RCVD; connect: CONN), nmap's lines. */
  packetTrace?: PacketTrace;
}

export const SEND_DEFAULTS: Omit<SendOptions, 'scanType'> = {
  maxParallelism: 256,
  timeoutMs: 1000,
  maxRetries: 1,
  assumeUp: false,
  reverseDns: false,
};

/** The scan type's engine for these options. */
function engineFor(opts: SendOptions, scanType: ScanTypeName): ScanEngine {
  if (scanType === 'connect') return new ConnectScanner(opts);
  if (scanType === 'idle') {
    if (!opts.idleZombie) throw new RecordStreamError('the idle scan needs its zombie (idleZombie)');
    return new IdleScanner({ zombie: opts.idleZombie, maxRetries: opts.maxRetries, iface: opts.iface, sourceAddress: opts.sourceAddress, sourcePort: opts.sourcePort, ttl: opts.ttl, signal: opts.signal });
  }
  const module = probeModule(scanType);
  if (!module) throw new RecordStreamError(`unknown scan type "${scanType}"`);
  return new RawSession({
    module,
    sourcePort: opts.sourcePort,
    iface: opts.iface,
    sourceAddress: opts.sourceAddress,
    maxRate: opts.maxRate,
    minRate: opts.minRate,
    initialRate: opts.initialRate,
    caGrowth: opts.caGrowth,
    scanDelayMs: opts.scanDelayMs,
    maxParallelism: opts.rawParallelism,
    minParallelism: opts.minParallelism,
    hostTimeoutMs: opts.hostTimeoutMs,
    defeatRstRateLimit: opts.defeatRstRateLimit,
    maxRetries: opts.maxRetries,
    initialTimeoutMs: opts.timeoutMs,
    minTimeoutMs: opts.minRttTimeoutMs ?? 100,
    maxTimeoutMs: opts.maxRttTimeoutMs ?? 10_000,
    waitMs: opts.waitMs,
    ttl: opts.ttl,
    evasion: opts.evasion,
    datadir: opts.datadir,
    defeatIcmpRateLimit: opts.defeatIcmpRateLimit,
    maxScanDelayMs: opts.maxScanDelayMs,
    signal: opts.signal,
    onWarning: opts.onWarning,
    packetTrace: opts.packetTrace,
  });
}

/** True when an engine gave the host up (--host-timeout): its record comes at the end, marked. */
function timedOutNow(engines: ScanEngine[], ip: string): boolean {
  return engines.some((e) => (e as { timedOutHosts?: Set<string> }).timedOutHosts?.has(ip) === true);
}

/** The counters of several engines, summed (one engine: its own object, live). */
function sumCounters(engines: ScanEngine[]): Readonly<Record<string, number>> {
  if (engines.length === 1) return engines[0]!.counters;
  const sum: Record<string, number> = {};
  for (const e of engines) for (const [k, v] of Object.entries(e.counters)) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/**
 * The send stage: probe batches in, port / progress / host records out; every other record
 * passes through. The scan type's engine does the probing; this driver is the same for all.
 */
export function sendRecords(opts: SendOptions) {
  return async function* send(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const types = [opts.scanType, ...(opts.moreScanTypes ?? [])];
    const engines = types.map((t) => engineFor(opts, t));
    const protos = new Set(types.map((t) => PROTO_NUMBER[scanTypeByName(t)?.proto ?? 'tcp']));
    const aborted = () => engines.some((e) => e.aborted);
    const hosts = new HostTable();
    let trailer: EndTrailer | undefined;
    let skipped = 0;
    const skippedProtos = new Set<string>();
    let total: number | null = null;
    /** stages/discover ran upstream: its host records decide up/down, send adds none. */
    let discovered = false;
    const passedHosts: HostRecord[] = [];
    /** Host records of finished groups (without discovery), held only for -R's names. */
    const groupHosts: HostRecord[] = [];
    let groups = 0;
    let hostsSeen = 0;
    const decided = (c: Readonly<Record<string, number>>) => (c.open ?? 0) + (c.closed ?? 0) + (c.filtered ?? 0);
    const ticker = opts.statusEveryMs
      ? new StatusTicker(opts.statusEveryMs, () => ({ stage: 'send', phase: 'port scan', scanType: opts.scanType, done: decided(sumCounters(engines)), total, counters: { ...sumCounters(engines), skipped } }))
      : undefined;
    const noted = async function* (records: AsyncIterable<Decided>) {
      for await (const r of withStatus(records, ticker)) {
        if (r.type === 'port') hosts.note(r as PortRecord);
        yield r;
      }
    };
    try {
      for await (const rec of source) {
        if (rec.type === 'scan') {
          const header = rec as ScanHeader;
          total = header.plan?.shardProbes ?? null;
          discovered = header.hostDiscovery !== undefined;
          yield { ...header, args: [...header.args, ...(opts.args ?? [])], scanTypes: [...(header.scanTypes ?? []), ...types] };
          continue;
        }
        if (isTrailer(rec)) {
          trailer = rec;
          break;
        }
        if (rec.type === 'hostgroup') {
          // --max-hostgroup: the group's probes all finish before its end passes and the next
          // group's probes are taken; without discovery its hosts' records go with it.
          for (const engine of engines) yield* noted(engine.finishGroup());
          groups++;
          if (!discovered && !aborted()) {
            for (const h of hosts.records(opts.assumeUp)) if (!timedOutNow(engines, h.ip)) { groupHosts.push(h); }
            hostsSeen += hosts.size;
            hosts.clear();
            if (!opts.reverseDns) yield* groupHosts.splice(0, groupHosts.length);
          }
          yield rec;
          continue;
        }
        if (rec.type !== 'probes') {
          // -R with discovery upstream: its host records are the scan's; they wait here for their names.
          if (rec.type === 'host' && discovered && opts.reverseDns) {
            passedHosts.push({ ...(rec as HostRecord) });
            continue;
          }
          yield rec;
          continue;
        }
        const batch = rec as ProbeBatch;
        const problem = probeBatchProblem(batch);
        if (problem) throw new RecordStreamError(`probe batch at ${String(batch.start)}: ${problem}`);
        for (let i = 0; i < batch.count; i++) {
          if (protos.has(batch.protos[i]!)) continue;
          skipped++;
          skippedProtos.add(PROTO_NAMES[batch.protos[i]!] ?? `protocol ${batch.protos[i]}`);
        }
        for (const engine of engines) yield* noted(engine.add(batch));
        // Interrupted: stop reading. Failed (the link went down): read on, so every probe left is counted lost.
        if (aborted() && !engines.some((e) => e.failure !== undefined)) break;
      }
      for (const engine of engines) yield* noted(engine.finish());
    } finally {
      for (const engine of engines) await engine.close();
    }
    if (skipped > 0) {
      const names = types.map((t) => { const i = scanTypeByName(t); return i ? `the ${i.title} (${i.flag}, ${i.proto})` : t; });
      opts.onWarning?.(`${skipped} ${[...skippedProtos].join('/')} probes skipped: no scan type of this run probes them (${names.join(', ')})`);
    }
    // --host-timeout: hosts given up, as nmap marks them (no ports; <host timedout="true">). After
    // discovery the host was up (and its record, held for -R, keeps its name).
    const timedOut = new Set<string>();
    for (const e of engines) for (const h of (e as { timedOutHosts?: Set<string> }).timedOutHosts ?? []) timedOut.add(h);
    for (const ip of timedOut) {
      const held = passedHosts.find((p) => p.ip === ip);
      yield { ...held, type: 'host', ip, state: opts.assumeUp || discovered ? 'up' : 'unknown', reason: 'host-timeout', timedOut: true, time: Date.now() } satisfies HostRecord;
    }
    const hostRecords = (discovered ? passedHosts : [...groupHosts, ...hosts.records(opts.assumeUp)]).filter((h) => !timedOut.has(h.ip));
    const dns: Record<string, number> = {};
    if (opts.reverseDns && !aborted()) {
      // Every up host's name at once, in parallel (nmap's mass reverse DNS after the ping stage).
      const resolver = new Resolver(opts.dns);
      try {
        const names = await resolver.reverse(hostRecords.filter((h) => h.state === 'up').map((h) => h.ip));
        for (const h of hostRecords) {
          const name = names.get(h.ip);
          if (name) h.hostname = name;
        }
      } finally {
        resolver.close();
      }
      dns.dnsQueries = resolver.counters.queries;
      dns.dnsNames = resolver.counters.names;
    }
    yield* hostRecords;
    yield extendTrailer(trailer, 'send', { ...sumCounters(engines), skipped, hosts: hostsSeen + hosts.size, ...(groups ? { hostGroups: groups } : {}), ...dns }, aborted() || trailer === undefined);
  };
}

export function createSendStage(opts: SendOptions): Duplex {
  return stageStream(sendRecords(opts));
}
