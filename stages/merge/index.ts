/**
 * stages/merge: one view per host and port from several observations — retries, shards,
 * several sources (files) and stages. Port records are deduplicated per (ip, port, proto) by the
 * documented precedence (precedence.ts: open > closed > unfiltered > closed|filtered >
 * open|filtered > filtered), hosts, services and OS guesses likewise, and the result comes out
 * grouped per host, hosts in address order, ports in (proto, port) order.
 *
 * Streaming with a memory bound: result records are buffered up to `memoryRecords`, sorted by
 * (host, kind, proto, port) and spilled to a temporary file as a sorted run; at the end the runs
 * are merged (k-way) and each host is emitted as soon as its last record has been read. Memory:
 * `memoryRecords` records while reading, then one record per run plus one host's records while
 * writing — never the whole scan. Headers: the first passes through at once; trailers are
 * combined into one at the end (interrupted if any was). Progress records wait until the
 * merged records are out (a batch is finished only once merge has passed on its ports: see
 * ProgressGate in stages/records). Every other record (probe batches, unknown types) passes
 * through immediately.
 *
 * An input that fails (cut off, garbage) still gets every valid record before the bad byte
 * merged and passed on — then the stage fails, without a trailer, so its consumer fails too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  createRecordPacker, decodeRecords, newHeader, stageStream, type AnyRecord, type EndTrailer, type HostRecord, type OsRecord,
  type PortRecord, type ServiceRecord,
} from '../records/index.js';
import { mergeHost, mergeOs, portWins, serviceWins } from './precedence.js';
import { ipKey } from '../spill/index.js';

export { PORT_STATE_PRECEDENCE, stateRank, portWins, mergeHost, serviceWins, mergeOs } from './precedence.js';

export interface MergeOptions {
  /** Result records held in memory before a sorted run is spilled to disk (default 250000). */
  memoryRecords?: number;
  /** Where runs are spilled (default os.tmpdir()); removed when the stage ends. */
  tmpdir?: string;
}

export const MERGE_DEFAULTS = { memoryRecords: 250_000 };

type Mergeable = PortRecord | HostRecord | ServiceRecord | OsRecord;
const KIND: Record<string, number> = { host: 0, port: 1, service: 2, os: 3 };
const PROTO: Record<string, number> = { tcp: 0, udp: 1, sctp: 2, ip: 3 };

export { ipKey };

function sortKey(r: Mergeable): string {
  const k = KIND[r.type]!;
  const pp = r.type === 'port' || r.type === 'service'
    ? `${PROTO[(r as PortRecord).proto] ?? 9}${String((r as PortRecord).port).padStart(5, '0')}` : '';
  return `${ipKey(r.ip)} ${k}${pp}`;
}

interface Keyed { key: string; rec: Mergeable }

/** A sorted run: in memory (the last one) or on disk. */
interface Run { next(): Promise<Keyed | undefined> }

function memoryRun(items: Keyed[]): Run {
  let i = 0;
  return { next: async () => items[i++] };
}

async function spill(items: Keyed[], file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  const pack = createRecordPacker();
  const write = async (buf: Buffer) => {
    if (!out.write(buf)) await once(out, 'drain');
  };
  await write(pack(newHeader(['prtip merge (spilled run)'])));
  for (const it of items) await write(pack(it.rec));
  out.end();
  await once(out, 'finish');
}

function fileRun(file: string): Run {
  const it = decodeRecords(fs.createReadStream(file, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>, file)[Symbol.asyncIterator]();
  let skippedHeader = false;
  return {
    async next() {
      for (;;) {
        const r = await it.next();
        if (r.done) return undefined;
        if (!skippedHeader) { skippedHeader = true; continue; }
        const rec = r.value as Mergeable;
        return { key: sortKey(rec), rec };
      }
    },
  };
}

function combineTrailers(trailers: EndTrailer[]): EndTrailer {
  if (trailers.length === 0) return { type: 'end', endTime: Date.now(), interrupted: true, counters: {} };
  const counters: Record<string, Record<string, number>> = {};
  for (const t of trailers) {
    for (const [stage, cs] of Object.entries(t.counters ?? {})) {
      const into = (counters[stage] ??= {});
      for (const [k, v] of Object.entries(cs)) into[k] = (into[k] ?? 0) + (typeof v === 'number' ? v : 0);
    }
  }
  return {
    type: 'end',
    endTime: Math.max(...trailers.map((t) => t.endTime)),
    interrupted: trailers.some((t) => t.interrupted),
    counters,
  };
}

/** Collapses one host's sorted records into its merged records, in report order. */
function* collapseHost(items: Mergeable[], stats: { dropped: number }): Generator<AnyRecord> {
  let host: HostRecord | undefined;
  let osRec: OsRecord | undefined;
  let port: PortRecord | undefined;
  let svc: ServiceRecord | undefined;
  const ports: PortRecord[] = [];
  const services: ServiceRecord[] = [];
  const same = (a: PortRecord | ServiceRecord, b: PortRecord | ServiceRecord) => a.port === b.port && a.proto === b.proto;
  for (const r of items) {
    switch (r.type) {
      case 'host':
        if (host) stats.dropped++;
        host = host ? mergeHost(host, r) : r;
        break;
      case 'port':
        if (port && same(port, r)) {
          stats.dropped++;
          if (portWins(r, port)) port = r;
        } else {
          if (port) ports.push(port);
          port = r;
        }
        break;
      case 'service':
        if (svc && same(svc, r)) {
          stats.dropped++;
          if (serviceWins(r, svc)) svc = r;
        } else {
          if (svc) services.push(svc);
          svc = r;
        }
        break;
      case 'os':
        if (osRec) stats.dropped++;
        osRec = osRec ? mergeOs(osRec, r) : r;
        break;
    }
  }
  if (port) ports.push(port);
  if (svc) services.push(svc);
  if (host) yield host;
  yield* ports;
  yield* services;
  if (osRec) yield osRec;
}

export function mergeRecords(opts: MergeOptions = {}) {
  const limit = Math.max(1, opts.memoryRecords ?? MERGE_DEFAULTS.memoryRecords);
  return async function* merge(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    let buffer: Keyed[] = [];
    const files: string[] = [];
    let dir: string | undefined;
    const trailers: EndTrailer[] = [];
    let sawHeader = false;
    let input = 0;
    const stats = { dropped: 0 };
    const progress: AnyRecord[] = [];
    let failure: unknown;
    const byKey = (a: Keyed, b: Keyed) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    try {
      try {
        for await (const rec of source) {
          if (rec.type === 'scan') {
            if (!sawHeader) yield rec;
            sawHeader = true;
          } else if (rec.type === 'end') {
            trailers.push(rec as EndTrailer);
          } else if (rec.type in KIND && typeof (rec as { ip?: unknown }).ip === 'string') {
            input++;
            buffer.push({ key: sortKey(rec as Mergeable), rec: rec as Mergeable });
            if (buffer.length >= limit) {
              dir ??= fs.mkdtempSync(path.join(opts.tmpdir ?? os.tmpdir(), 'prtip-merge-'));
              const file = path.join(dir, `run-${files.length}.rec`);
              buffer.sort(byKey);
              await spill(buffer, file);
              files.push(file);
              buffer = [];
            }
          } else if (rec.type === 'progress') {
            progress.push(rec);
          } else {
            yield rec;
          }
        }
      } catch (err) {
        failure = err; // merge and pass on what arrived, then fail
      }
      buffer.sort(byKey);
      const runs: Run[] = [...files.map(fileRun), memoryRun(buffer)];
      const heads: Array<Keyed | undefined> = await Promise.all(runs.map((r) => r.next()));
      // k-way merge; runs are few (input / memoryRecords), so a linear scan for the minimum is enough.
      let current: string | undefined;
      let group: Mergeable[] = [];
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i];
          if (h && (best < 0 || h.key < heads[best]!.key)) best = i;
        }
        if (best < 0) break;
        const item = heads[best]!;
        heads[best] = await runs[best]!.next();
        const host = item.key.slice(0, item.key.indexOf(' '));
        if (host !== current) {
          if (group.length) yield* collapseHost(group, stats);
          group = [];
          current = host;
        }
        group.push(item.rec);
      }
      if (group.length) yield* collapseHost(group, stats);
      yield* progress;
      if (failure !== undefined) throw failure;
      const trailer = combineTrailers(trailers);
      trailer.counters.merge = { input, duplicates: stats.dropped, runs: files.length + 1, sources: trailers.length };
      yield trailer;
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

export function createMergeStage(opts: MergeOptions = {}): Duplex {
  return stageStream(mergeRecords(opts));
}
