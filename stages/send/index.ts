/**
 * stages/send: turns probe batches into port records. Scan types are small modules behind one
 * interface (ScanType); the connect scan needs no privileges and uses kernel sockets.
 */
import {
  extendTrailer,
  isTrailer,
  probeBatchProblem,
  probesOf,
  RecordStreamError,
  stageStream,
  type AnyRecord,
  type EndTrailer,
  type PortRecord,
  type ProbeBatch,
  type ProgressRecord,
  type ScanHeader,
} from '../records/index.js';
import type { Duplex } from 'node:stream';
import { connectOnce } from './proto-connect.js';
import { HostTable } from './host-table.js';
import { reverseName } from './reverse-dns.js';
import { TokenBucket } from './token-bucket.js';
import { SynScanner } from './proto-syn.js';

export { resolveRawRoute, addressBytes, macBytes, type RawRoute } from './routing.js';
export { RttEstimator } from './rtt.js';
export { SynScanner } from './proto-syn.js';

export type ScanTypeName = 'connect' | 'syn';

export interface SendOptions {
  scanType: ScanTypeName;
  /** Most connects in flight at once. */
  maxParallelism: number;
  /** How long one attempt waits for an answer, ms. */
  timeoutMs: number;
  /** Extra attempts for a probe that got no answer (nmap's --max-retries). */
  maxRetries: number;
  /** Most probes started per second (undefined: as fast as parallelism allows). */
  maxRate?: number;
  /** SYN scan: most time one attempt waits at first (before RTTs are measured) is timeoutMs; these bound the adapted timeout. */
  minRttTimeoutMs?: number;
  maxRttTimeoutMs?: number;
  /** SYN scan: cooldown after a probe's last attempt (--wait), ms. */
  waitMs?: number;
  /** SYN scan: fixed source port (-g / --source-port). */
  sourcePort?: number;
  /** SYN scan: interface (-e). */
  iface?: string;
  /** SYN scan: source address (-S). */
  sourceAddress?: string;
  /** -Pn: report every host as up (reason user-set) instead of inferring from replies. */
  assumeUp: boolean;
  /** -R: look up names of hosts that are up. */
  reverseDns: boolean;
  /** The command line of this stage, appended to the header's args. */
  args?: string[];
  signal?: AbortSignal;
  /** Non-fatal notices for the user (e.g. probes of a protocol this scan type cannot send). */
  onWarning?: (message: string) => void;
}

export const SEND_DEFAULTS: Omit<SendOptions, 'scanType'> = {
  maxParallelism: 256,
  timeoutMs: 1000,
  maxRetries: 1,
  assumeUp: false,
  reverseDns: false,
};

interface Counters {
  sent: number;
  open: number;
  closed: number;
  filtered: number;
  retries: number;
  skipped: number;
  [k: string]: number;
}

export function sendRecords(opts: SendOptions) {
  return opts.scanType === 'syn' ? synRecords(opts) : connectRecords(opts);
}

/** Passes the header on with this stage's args and scan type appended. */
function stampHeader(header: ScanHeader, opts: SendOptions): ScanHeader {
  return { ...header, args: [...header.args, ...(opts.args ?? [])], scanTypes: [...(header.scanTypes ?? []), opts.scanType] };
}

function synRecords(opts: SendOptions) {
  return async function* send(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const hosts = new HostTable();
    const scanner = new SynScanner({
      sourcePort: opts.sourcePort,
      iface: opts.iface,
      sourceAddress: opts.sourceAddress,
      maxRate: opts.maxRate,
      maxRetries: opts.maxRetries,
      initialTimeoutMs: opts.timeoutMs,
      minTimeoutMs: opts.minRttTimeoutMs ?? 100,
      maxTimeoutMs: opts.maxRttTimeoutMs ?? 10_000,
      waitMs: opts.waitMs,
      signal: opts.signal,
    });
    let trailer: EndTrailer | undefined;
    let skipped = 0;
    const skippedProtos = new Set<string>();
    const noted = function* (recs: Iterable<PortRecord | ProgressRecord>) {
      for (const r of recs) {
        if (r.type === 'port') hosts.note(r);
        yield r;
      }
    };
    try {
      for await (const rec of source) {
        if (rec.type === 'scan') {
          yield stampHeader(rec as ScanHeader, opts);
          continue;
        }
        if (isTrailer(rec)) {
          trailer = rec;
          break;
        }
        if (rec.type !== 'probes') {
          yield rec;
          continue;
        }
        const batch = rec as ProbeBatch;
        const problem = probeBatchProblem(batch);
        if (problem) throw new RecordStreamError(`probe batch at ${String(batch.start)}: ${problem}`);
        for (let i = 0; i < batch.count; i++) {
          if (batch.protos[i] !== 6) {
            skipped++;
            skippedProtos.add(String(batch.protos[i]));
          }
        }
        await scanner.add(batch);
        yield* noted(scanner.take());
        if (scanner.aborted) break;
      }
      for await (const r of scanner.finish()) yield* noted([r]);
    } finally {
      await scanner.close();
    }
    if (skipped > 0) {
      const names = [...skippedProtos].map((n) => (n === '17' ? 'udp' : n === '132' ? 'sctp' : `protocol ${n}`));
      opts.onWarning?.(`${skipped} ${names.join('/')} probes skipped: the SYN scan (-sS) probes TCP only`);
    }
    for (const host of hosts.records(opts.assumeUp)) {
      if (opts.reverseDns && host.state === 'up') {
        const name = await reverseName(host.ip);
        if (name) host.hostname = name;
      }
      yield host;
    }
    const { counters } = scanner;
    yield extendTrailer(trailer, 'send', { ...counters, skipped, hosts: hosts.size }, scanner.aborted || trailer === undefined);
  };
}

function connectRecords(opts: SendOptions) {
  return async function* send(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const counters: Counters = { sent: 0, open: 0, closed: 0, filtered: 0, retries: 0, skipped: 0 };
    const hosts = new HostTable();
    const bucket = opts.maxRate ? new TokenBucket(opts.maxRate) : undefined;
    const done: Array<PortRecord | ProgressRecord> = [];
    let inFlight = 0;
    let wake: (() => void) | undefined;
    let trailer: EndTrailer | undefined;
    const skippedProtos = new Set<string>();
    const aborted = () => opts.signal?.aborted === true;

    // Per batch: probes still unanswered. When a fully fed batch has no probe left, a progress
    // record follows its last port record (the store checkpoints it for --resume).
    interface BatchState { start: number; count: number; left: number; fed: boolean }
    const finishBatch = (b: BatchState): void => {
      if (b.fed && b.left === 0) done.push({ type: 'progress', start: b.start, count: b.count });
    };
    const settle = (rec: PortRecord, batch: BatchState): void => {
      counters[rec.state === 'open' ? 'open' : rec.state === 'closed' ? 'closed' : 'filtered']++;
      hosts.note(rec);
      done.push(rec);
      batch.left--;
      finishBatch(batch);
      inFlight--;
      const w = wake;
      wake = undefined;
      w?.();
    };
    const waitForCompletion = () => new Promise<void>((resolve) => (wake = resolve));

    const probePort = async (ip: string, port: number): Promise<PortRecord> => {
      let attempt = 0;
      let shortageBackoff = 10;
      for (;;) {
        counters.sent++;
        const outcome = await connectOnce(ip, port, opts.timeoutMs);
        if (outcome.localShortage && !aborted()) {
          // Out of fds or ephemeral ports: not an answer from the target. Back off and try again.
          counters.sent--;
          await new Promise((r) => setTimeout(r, shortageBackoff));
          shortageBackoff = Math.min(shortageBackoff * 2, 1000);
          continue;
        }
        if (outcome.retryable && attempt < opts.maxRetries && !aborted()) {
          attempt++;
          counters.retries++;
          continue;
        }
        return {
          type: 'port', ip, port, proto: 'tcp', state: outcome.state, reason: outcome.reason,
          ttl: null, rtt: outcome.rtt === null ? null : Math.round(outcome.rtt * 1000) / 1000, time: Date.now(),
        };
      }
    };

    function* drainDone(): Generator<PortRecord | ProgressRecord> {
      while (done.length > 0) yield done.shift()!;
    }

    for await (const rec of source) {
      if (rec.type === 'scan') {
        const header = rec as ScanHeader;
        yield {
          ...header,
          args: [...header.args, ...(opts.args ?? [])],
          scanTypes: [...(header.scanTypes ?? []), opts.scanType],
        };
        continue;
      }
      if (isTrailer(rec)) {
        trailer = rec;
        break;
      }
      if (rec.type !== 'probes') {
        yield rec;
        continue;
      }
      const batch = rec as ProbeBatch;
      const problem = probeBatchProblem(batch);
      if (problem) throw new RecordStreamError(`probe batch at ${String(batch.start)}: ${problem}`);
      const state: BatchState = { start: batch.start, count: batch.count, left: batch.count, fed: false };
      for (const probe of probesOf(batch)) {
        if (aborted()) break;
        if (probe.proto !== 'tcp') {
          state.left--;
          counters.skipped++;
          skippedProtos.add(probe.proto);
          continue;
        }
        while (inFlight >= opts.maxParallelism) {
          await waitForCompletion();
          yield* drainDone();
        }
        if (bucket) await bucket.take(opts.signal);
        if (aborted()) break;
        inFlight++;
        void probePort(probe.ip, probe.port).then((rec) => settle(rec, state));
        if (done.length > 0) yield* drainDone();
      }
      if (aborted()) break;
      state.fed = true;
      finishBatch(state);
    }

    while (inFlight > 0) {
      await waitForCompletion();
      yield* drainDone();
    }
    yield* drainDone();

    if (skippedProtos.size > 0) {
      opts.onWarning?.(
        `${counters.skipped} ${[...skippedProtos].join('/')} probes skipped: the connect scan (-sT) probes TCP only`,
      );
    }
    for (const host of hosts.records(opts.assumeUp)) {
      if (opts.reverseDns && host.state === 'up') {
        const name = await reverseName(host.ip);
        if (name) host.hostname = name;
      }
      yield host;
    }
    yield extendTrailer(trailer, 'send', { ...counters, hosts: hosts.size }, aborted() || trailer === undefined);
  };
}

export function createSendStage(opts: SendOptions): Duplex {
  return stageStream(sendRecords(opts));
}
