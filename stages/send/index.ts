/**
 * stages/send: turns probe batches into port records. Scan types are small modules behind one
 * interface (ScanEngine: proto-syn.ts, proto-connect.ts); the connect scan needs no privileges.
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
  type PortRecord,
  type ProbeBatch,
  type ScanHeader,
  StatusTicker,
  withStatus,
} from '../records/index.js';
import type { Duplex } from 'node:stream';
import { ConnectScanner } from './proto-connect.js';
import { HostTable } from './host-table.js';
import { reverseName } from './reverse-dns.js';
import { SynScanner } from './proto-syn.js';
import type { Decided, ScanEngine } from './scan-engine.js';

export { resolveRawRoute, addressBytes, addressKey, macBytes, neighbourTable, nextHopsOf, resolveNeighbours, type NextHop, type RawRoute } from './routing.js';
export { RttEstimator } from './rtt.js';
export { SynScanner } from './proto-syn.js';
export { ConnectScanner } from './proto-connect.js';
export type { ScanEngine, Decided } from './scan-engine.js';

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
  /** Emit a status record (the live counters) every this many ms; none when undefined. */
  statusEveryMs?: number;
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

/** The scan type's engine for these options. */
function engineFor(opts: SendOptions): ScanEngine {
  if (opts.scanType === 'syn') {
    return new SynScanner({
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
      onWarning: opts.onWarning,
    });
  }
  return new ConnectScanner(opts);
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/**
 * The send stage: probe batches in, port / progress / host records out; every other record
 * passes through. The scan type's engine does the probing; this driver is the same for all.
 */
export function sendRecords(opts: SendOptions) {
  return async function* send(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const engine = engineFor(opts);
    const hosts = new HostTable();
    let trailer: EndTrailer | undefined;
    let skipped = 0;
    const skippedProtos = new Set<string>();
    let total: number | null = null;
    const decided = (c: Readonly<Record<string, number>>) => (c.open ?? 0) + (c.closed ?? 0) + (c.filtered ?? 0);
    const ticker = opts.statusEveryMs
      ? new StatusTicker(opts.statusEveryMs, () => ({ stage: 'send', phase: 'port scan', scanType: opts.scanType, done: decided(engine.counters), total, counters: { ...engine.counters, skipped } }))
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
          yield { ...header, args: [...header.args, ...(opts.args ?? [])], scanTypes: [...(header.scanTypes ?? []), opts.scanType] };
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
          if (batch.protos[i] === PROTO_NUMBER.tcp) continue;
          skipped++;
          skippedProtos.add(PROTO_NAMES[batch.protos[i]!] ?? `protocol ${batch.protos[i]}`);
        }
        yield* noted(engine.add(batch));
        if (engine.aborted) break;
      }
      yield* noted(engine.finish());
    } finally {
      await engine.close();
    }
    if (skipped > 0) {
      const flag = opts.scanType === 'syn' ? 'the SYN scan (-sS)' : 'the connect scan (-sT)';
      opts.onWarning?.(`${skipped} ${[...skippedProtos].join('/')} probes skipped: ${flag} probes TCP only`);
    }
    for (const host of hosts.records(opts.assumeUp)) {
      if (opts.reverseDns && host.state === 'up') {
        const name = await reverseName(host.ip);
        if (name) host.hostname = name;
      }
      yield host;
    }
    yield extendTrailer(trailer, 'send', { ...engine.counters, skipped, hosts: hosts.size }, engine.aborted || trailer === undefined);
  };
}

export function createSendStage(opts: SendOptions): Duplex {
  return stageStream(sendRecords(opts));
}
