/**
 * stages/detect: service and version detection (-sV). Consumes `port` records (open TCP; open or
 * open|filtered UDP), passes every record through, and emits a `service` record per port it
 * probed, after that port's record. Probes come from the installed nmap-service-probes, or from
 * prtip's own small set when Nmap's data is not installed.
 */
import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import { loadServicesTable, resolveDatadir } from '../datafiles/index.js';
import {
  extendTrailer,
  isTrailer,
  PRTIP_VERSION,
  ProgressGate,
  stageStream,
  UserInputError,
  type AnyRecord,
  type EndTrailer,
  type PortRecord,
  type ProgressRecord,
  type ScanHeader,
  type ServiceRecord,
  StatusTicker,
} from '../records/index.js';
import { builtinProbes } from './builtin-probes.js';
import { sharedMatcher } from './bounded-match.js';
import { ServiceEngine, type PortOutcome } from './engine.js';
import { loadServiceProbes, type ServiceProbeFile } from './service-probes.js';
import { serviceFingerprint } from './service-fp.js';

export { ServiceEngine, probeOrder, testResponse, type PortOutcome, type EngineOptions } from './engine.js';
export { parseServiceProbes, loadServiceProbes, checkProbeFile, regexOf, unescapeProbeString, PortRanges } from './service-probes.js';
export type { ServiceProbeFile, ServiceProbe, ServiceMatch, ProbeFileCheck } from './service-probes.js';
export { translatePcre, compilePcre, PcreTranslationError } from './pcre.js';
export { substituteTemplate, versionFields } from './version-info.js';
export { builtinProbes, BUILTIN_PROBES_TEXT } from './builtin-probes.js';
export { serviceFingerprint, escapeFpData, FP_MAX_CHARS, FP_RESPONSE_BYTES } from './service-fp.js';
export { summariseCert } from './tls-cert.js';
export { BoundedMatcher, sharedMatcher, BOUNDED_MATCH_DEFAULTS } from './bounded-match.js';

export interface DetectOptions {
  /** The probe database; default: DATADIR/nmap-service-probes, else the built-in set. */
  probes?: ServiceProbeFile;
  /** Where nmap's data files live (--datadir). */
  datadir?: string;
  /** --version-intensity 0–9 (default 7). */
  intensity: number;
  /** Ports probed at once, over all hosts. */
  maxParallel: number;
  /** Ports probed at once on one host. */
  maxPerHost: number;
  /** Upper bound on each probe's wait (ms); undefined: the probe file's totalwaitms. */
  probeTimeoutMs?: number;
  connectTimeoutMs: number;
  nullOverlapMs: number;
  idleMs: number;
  maxResponseBytes: number;
  /** Longest time spent on one port (ms). */
  portTimeoutMs: number;
  /** Longest time spent on one host, from its first probe (ms). */
  hostTimeoutMs: number;
  tls: boolean;
  args?: string[];
  signal?: AbortSignal;
  /** Emit a status record (the live counters) every this many ms while ports are probed; none when undefined. */
  statusEveryMs?: number;
  onWarning?: (message: string) => void;
}

export const DETECT_DEFAULTS: DetectOptions = {
  intensity: 7,
  maxParallel: 64,
  maxPerHost: 16,
  connectTimeoutMs: 5000,
  nullOverlapMs: 250,
  idleMs: 1000,
  maxResponseBytes: 32 * 1024,
  portTimeoutMs: 60_000,
  hostTimeoutMs: 300_000,
  tls: true,
};

/** The probe database detect will use, and where it came from. */
export function resolveProbes(opts: Pick<DetectOptions, 'probes' | 'datadir'>): ServiceProbeFile {
  if (opts.probes) return opts.probes;
  const dir = resolveDatadir(opts.datadir);
  try {
    return loadServiceProbes(dir) ?? builtinProbes();
  } catch (e) {
    throw new UserInputError(`cannot read ${dir}/nmap-service-probes: ${(e as Error).message}`);
  }
}

interface Counters {
  ports: number;
  matched: number;
  softmatched: number;
  tcpwrapped: number;
  unmatched: number;
  unreachable: number;
  timedOut: number;
  probes: number;
  bytes: number;
  [k: string]: number;
}

interface HostState {
  active: number;
  started: number;
  abort: AbortController;
  timer?: NodeJS.Timeout;
}

/**
 * nmap's service fingerprint for a service that answered but was not identified (no hard match):
 * what -oX writes as servicefp and -oN as the "unrecognized despite returning data" block.
 */
function fingerprintOf(p: PortRecord, out: PortOutcome, intensity: number): string | undefined {
  if ((out.kind !== 'unmatched' && out.kind !== 'soft') || !out.responses?.length) return undefined;
  return serviceFingerprint({
    port: p.port, proto: p.proto as 'tcp' | 'udp', tunnel: out.tunnel, intensity, version: `prtip-${PRTIP_VERSION}`,
    time: out.firstResponseAt ?? Date.now(), responses: out.responses,
  });
}

/** The record for an outcome; undefined when the port could not be reached at all. */
function serviceRecord(p: PortRecord, out: PortOutcome, tableName: string | undefined, intensity: number): ServiceRecord | undefined {
  const base = { type: 'service' as const, ip: p.ip, port: p.port, proto: p.proto };
  if (out.kind === 'unreachable') return undefined;
  if (out.kind === 'tcpwrapped') return { ...base, name: 'tcpwrapped', method: 'probed', conf: 8 };
  const servicefp = fingerprintOf(p, out, intensity);
  if (!out.match) {
    const rec: ServiceRecord = { ...base, name: tableName ?? 'unknown', method: 'table', conf: 3 };
    if (out.tunnel) rec.tunnel = out.tunnel;
    if (out.cert) rec.cert = out.cert;
    if (servicefp) rec.servicefp = servicefp;
    return rec;
  }
  const f = out.match.fields;
  // nmap reports a softmatch as probed with confidence 10 too (`nmap -sV -oX` on a softmatch-only service).
  const rec: ServiceRecord = { ...base, name: out.match.service, method: 'probed', conf: 10 };
  if (f.product !== undefined) rec.product = f.product;
  if (f.version !== undefined) rec.version = f.version;
  if (f.extrainfo !== undefined) rec.extrainfo = f.extrainfo;
  if (f.hostname !== undefined) rec.hostname = f.hostname;
  if (f.ostype !== undefined) rec.ostype = f.ostype;
  if (f.devicetype !== undefined) rec.devicetype = f.devicetype;
  if (f.cpe.length > 0) rec.cpe = f.cpe;
  if (out.tunnel) rec.tunnel = out.tunnel;
  if (out.cert) rec.cert = out.cert;
  rec.probe = out.match.probe;
  if (servicefp) rec.servicefp = servicefp;
  return rec;
}

function wanted(p: PortRecord): boolean {
  if (p.proto === 'tcp') return p.state === 'open';
  if (p.proto === 'udp') return p.state === 'open' || p.state === 'open|filtered';
  return false;
}

export function detectRecords(options: Partial<DetectOptions> = {}) {
  const opts: DetectOptions = { ...DETECT_DEFAULTS, ...options };
  if (!Number.isInteger(opts.intensity) || opts.intensity < 0 || opts.intensity > 9) {
    throw new UserInputError(`version intensity must be 0–9, got "${String(opts.intensity)}"`);
  }
  return async function* detect(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const probes = resolveProbes(opts);
    const services = loadServicesTable(opts.datadir);
    const engine = new ServiceEngine({ ...opts, probes });
    const matcher = sharedMatcher();
    const cutAtStart = matcher.cut;
    const counters: Counters = { ports: 0, matched: 0, softmatched: 0, tcpwrapped: 0, unmatched: 0, unreachable: 0, timedOut: 0, probes: 0, bytes: 0 };
    const hosts = new Map<string, HostState>();
    const waiting: Array<{ p: PortRecord; ticket: number }> = []; // wanted ports not yet started (host at its limit)
    const done: ServiceRecord[] = [];
    // A batch's progress record waits until the ports read before it are probed (see ProgressGate).
    const gate = new ProgressGate();
    let inFlight = 0;
    let wake: (() => void) | undefined;
    let trailer: EndTrailer | undefined;
    const aborted = () => opts.signal?.aborted === true;
    // Every port in flight listens for a stop: one detect-wide signal (linked once to the caller's)
    // and one per host carry up to maxParallel / maxPerHost listeners, which is by design, not a leak.
    const stopAll = new AbortController();
    setMaxListeners(opts.maxParallel + 16, stopAll.signal);
    if (opts.signal?.aborted) stopAll.abort();
    else opts.signal?.addEventListener('abort', () => stopAll.abort(), { once: true });
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const settled = () => new Promise<void>((resolve) => (wake = resolve));

    const hostOf = (ip: string): HostState => {
      let h = hosts.get(ip);
      if (!h) {
        const abort = new AbortController();
        setMaxListeners(opts.maxPerHost + 16, abort.signal);
        h = { active: 0, started: Date.now(), abort };
        h.timer = setTimeout(() => abort.abort(), opts.hostTimeoutMs);
        h.timer.unref?.();
        hosts.set(ip, h);
      }
      return h;
    };

    const start = (p: PortRecord, ticket: number) => {
      const h = hostOf(p.ip);
      h.active++;
      inFlight++;
      counters.ports++;
      const ac = new AbortController();
      const abortPort = () => ac.abort();
      const timer = setTimeout(() => {
        counters.timedOut++;
        ac.abort();
      }, opts.portTimeoutMs);
      stopAll.signal.addEventListener('abort', abortPort, { once: true });
      h.abort.signal.addEventListener('abort', abortPort, { once: true });
      void engine
        .detect(p.ip, p.port, p.proto as 'tcp' | 'udp', ac.signal)
        .then(
          (out) => out,
          (): PortOutcome => ({ kind: 'unreachable', bytesRead: 0, probesSent: 0 }),
        )
        .then((out) => {
          clearTimeout(timer);
          stopAll.signal.removeEventListener('abort', abortPort);
          h.abort.signal.removeEventListener('abort', abortPort);
          counters.probes += out.probesSent;
          counters.bytes += out.bytesRead;
          const key = out.kind === 'match' ? 'matched' : out.kind === 'soft' ? 'softmatched' : out.kind;
          counters[key] = (counters[key] ?? 0) + 1;
          const rec = serviceRecord(p, out, services.serviceName(p.port, p.proto), opts.intensity);
          if (rec) done.push(rec);
          // Cut short by SIGINT: not finished, so its batch stays unfinished for --resume.
          if (!aborted()) gate.finish(ticket);
          h.active--;
          inFlight--;
          notify();
        });
    };

    /** Starts waiting ports whose host has room, while overall room lasts. */
    const pump = () => {
      for (let k = 0; k < waiting.length && inFlight < opts.maxParallel; ) {
        const { p, ticket } = waiting[k]!;
        const h = hosts.get(p.ip);
        if (aborted()) {
          waiting.length = 0;
          break;
        }
        if (h && h.abort.signal.aborted) {
          waiting.splice(k, 1); // host out of time: not probed, and that is this port's outcome
          counters.timedOut++;
          gate.finish(ticket);
          continue;
        }
        if ((h?.active ?? 0) < opts.maxPerHost) {
          waiting.splice(k, 1);
          start(p, ticket);
        } else k++;
      }
    };

    const ticker = opts.statusEveryMs
      ? new StatusTicker(opts.statusEveryMs, () => ({ stage: 'detect', phase: 'service scan', done: counters.ports - inFlight, total: counters.ports + waiting.length, counters: { ...counters } }))
      : undefined;
    // Wakes the waits below so a status record goes out while every probe is still in flight.
    const statusWake = ticker ? setInterval(notify, ticker.everyMs) : undefined;
    statusWake?.unref();

    function* drain(): Generator<AnyRecord> {
      while (done.length > 0) yield done.shift()!;
      yield* gate.release();
      if (ticker?.due() && (inFlight > 0 || waiting.length > 0)) yield ticker.take();
    }

    const isExcluded = (p: PortRecord) => (p.proto === 'tcp' ? probes.exclude.tcp : probes.exclude.udp).has(p.port);

    for await (const rec of source) {
      if (rec.type === 'scan') {
        const header = rec as ScanHeader;
        yield { ...header, args: [...header.args, ...(opts.args ?? [])] };
        continue;
      }
      if (isTrailer(rec)) {
        trailer = rec;
        break;
      }
      if (rec.type === 'progress') {
        gate.hold(rec as ProgressRecord);
        yield* drain();
        continue;
      }
      if (rec.type === 'hostgroup') {
        // --max-hostgroup: the group's services are all probed before its end passes (as nmap's
        // service scan runs per host group); the next group's ports come after.
        while ((inFlight > 0 || waiting.length > 0) && !aborted()) {
          pump();
          if (inFlight === 0) break;
          await settled();
          yield* drain();
        }
        yield* drain();
        yield rec;
        continue;
      }
      yield rec;
      if (rec.type === 'port' && !aborted()) {
        const p = rec as PortRecord;
        if (wanted(p) && !isExcluded(p)) {
          waiting.push({ p, ticket: gate.begin() });
          pump();
          // Backpressure: hold the input while too much is queued.
          while (waiting.length >= opts.maxParallel && !aborted()) {
            await settled();
            pump();
            yield* drain();
          }
        }
      }
      yield* drain();
    }
    while ((inFlight > 0 || waiting.length > 0) && !(aborted() && inFlight === 0)) {
      pump();
      if (inFlight === 0) break;
      await settled();
      yield* drain();
    }
    yield* drain();
    for (const h of hosts.values()) clearTimeout(h.timer);
    clearInterval(statusWake);
    // Responses whose pattern search ran past its time budget (a reply built to make a regex backtrack).
    counters.matchesCut = matcher.cut - cutAtStart;
    yield extendTrailer(trailer, 'detect', { ...counters, hosts: hosts.size }, aborted() || trailer === undefined);
  };
}

export function createDetectStage(opts: Partial<DetectOptions> = {}): Duplex {
  return stageStream(detectRecords(opts));
}
