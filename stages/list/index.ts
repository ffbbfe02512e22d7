/**
 * stages/list: the list scan (-sL). Probe batches in, one host record per distinct address out —
 * state "unknown", reason "user-set", as nmap's list scan reports them — with its reverse name
 * unless -n; nothing is sent to the targets (only DNS questions to the resolver's servers).
 * Names are looked up a batch at a time, in parallel, so memory stays bounded on big lists.
 * Every other record passes through.
 */
import {
  batchAddress, extendTrailer, isTrailer, probeBatchProblem, RecordStreamError, type AnyRecord, type EndTrailer,
  type HostRecord, type ProbeBatch, type ScanHeader,
} from '../records/index.js';
import { Resolver, type ResolverOptions } from '../dns/index.js';

export interface ListOptions {
  /** Look up reverse names (nmap's -sL does unless -n). */
  reverseDns: boolean;
  dns?: ResolverOptions;
  /** The command line of this stage, appended to the header's args. */
  args?: string[];
  signal?: AbortSignal;
}

export function listRecords(opts: ListOptions) {
  return async function* list(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const resolver = opts.reverseDns ? new Resolver(opts.dns) : undefined;
    let trailer: EndTrailer | undefined;
    let hosts = 0;
    // Consecutive probes of one host (several ports) give one record; -sL plans one port anyway.
    let last: string | undefined;
    try {
      for await (const rec of source) {
        if (rec.type === 'scan') {
          const header = rec as ScanHeader;
          yield { ...header, args: [...header.args, ...(opts.args ?? [])], scanTypes: [...(header.scanTypes ?? []), 'list'] };
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
        const ips: string[] = [];
        for (let i = 0; i < batch.count; i++) {
          const ip = batchAddress(batch, i);
          if (ip !== last) ips.push(ip);
          last = ip;
        }
        const names = resolver ? await resolver.reverse(ips) : new Map<string, string>();
        const time = Date.now();
        for (const ip of ips) {
          const host: HostRecord = { type: 'host', ip, state: 'unknown', reason: 'user-set', time };
          const name = names.get(ip);
          if (name) host.hostname = name;
          hosts++;
          yield host;
        }
        if (opts.signal?.aborted) break;
      }
    } finally {
      resolver?.close();
    }
    const dns: Record<string, number> = resolver ? { dnsQueries: resolver.counters.queries, dnsNames: resolver.counters.names } : {};
    yield extendTrailer(trailer, 'list', { hosts, ...dns }, opts.signal?.aborted === true || trailer === undefined);
  };
}
