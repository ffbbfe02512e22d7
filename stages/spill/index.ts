/**
 * stages/spill: sorting records by a key in bounded memory — a shared library (not a stage), for
 * stages that must regroup a stream (merge per host and port, format's per-host reports).
 *
 * Records are held in memory up to `memoryRecords`; then the buffer is sorted and written to a
 * temporary file as a sorted run (msgpack, the record codec). Reading back merges the runs with
 * a heap: memory is one buffer while adding, then one record per run. Ties keep insertion order
 * (the sort is stable and earlier runs win ties), so "the later record wins" logic still works.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRecordPacker, newHeader, RecordDecoder, type AnyRecord } from '../records/index.js';

export interface SpillOptions {
  /** Records held in memory before a sorted run goes to disk (default 250000). */
  memoryRecords?: number;
  /** Where runs go (default os.tmpdir()); removed when reading ends or close() is called. */
  tmpdir?: string;
}

/**
 * 250,000 records (as stages/merge holds): a /16 sweep's report (131,072 host and port records)
 * stays in memory, about 15 MB more than spilled, and packing and unpacking runs of it was a third
 * of that scan's CPU; a /8 still spills, in 68 runs.
 */
export const SPILL_DEFAULTS = { memoryRecords: 250_000 };

/** Sort key of an address: IPv4 before IPv6, numeric order within each (fixed-width hex). */
export function ipKey(ip: string): string {
  const v4 = ipv4Number(ip);
  if (v4 >= 0) return `4${v4.toString(16).padStart(8, '0')}`;
  if (!ip.includes(':')) {
    const parts = ip.split('.');
    if (parts.length === 4) return `4${parts.map((p) => Number(p).toString(16).padStart(2, '0')).join('')}`;
    return `9${ip}`;
  }
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  if (t.length && t[t.length - 1]!.includes('.')) return `9${ip}`; // embedded IPv4: rare, keep apart
  const fill = ip.includes('::') ? Array(Math.max(0, 8 - h.length - t.length)).fill('0') : [];
  return `6${[...h, ...fill, ...t].map((w) => w.padStart(4, '0')).join('')}`;
}

/** A dotted-quad IPv4 address as a number, or -1 (a hot path: one call per record sorted). */
function ipv4Number(ip: string): number {
  let n = 0;
  let octet = -1;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (octet < 0 || dots === 3) return -1;
      n = n * 256 + octet;
      octet = -1;
      dots++;
    } else if (c >= 48 && c <= 57) {
      octet = (octet < 0 ? 0 : octet * 10) + (c - 48);
      if (octet > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || octet < 0) return -1;
  return n * 256 + octet;
}

interface Keyed<T> { key: string; rec: T }

const byKey = <T>(a: Keyed<T>, b: Keyed<T>) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Bytes a spilled run is written and read in: one syscall per this much, not per record. */
const IO_BYTES = 256 * 1024;

export class SortedSpill<T extends AnyRecord> {
  private buffer: Array<Keyed<T>> = [];
  private readonly files: string[] = [];
  private dir: string | undefined;
  private readonly limit: number;
  /** Records added so far. */
  count = 0;

  constructor(private readonly keyOf: (rec: T) => string, private readonly opts: SpillOptions = {}) {
    this.limit = Math.max(1, opts.memoryRecords ?? SPILL_DEFAULTS.memoryRecords);
  }

  /** Sorted runs written to disk so far. */
  get runs(): number {
    return this.files.length;
  }

  /**
   * Adds a record. The spill of a full buffer is synchronous (a sort and a few large writes to a
   * local temporary file); the return type stays a promise-or-undefined for callers that await it.
   */
  add(rec: T): Promise<void> | undefined {
    this.count++;
    this.buffer.push({ key: this.keyOf(rec), rec });
    if (this.buffer.length >= this.limit) this.spill();
    return undefined;
  }

  private spill(): void {
    this.dir ??= fs.mkdtempSync(path.join(this.opts.tmpdir ?? os.tmpdir(), 'prtip-spill-'));
    const file = path.join(this.dir, `run-${this.files.length}.rec`);
    const items = this.buffer.sort(byKey);
    this.buffer = [];
    const fd = fs.openSync(file, 'w');
    try {
      const pack = createRecordPacker();
      const chunks: Buffer[] = [pack(newHeader(['prtip (spilled run)']))];
      let bytes = chunks[0]!.length;
      const flush = () => {
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
        for (let off = 0; off < all.length; ) off += fs.writeSync(fd, all, off);
        chunks.length = 0;
        bytes = 0;
      };
      for (const it of items) {
        const b = pack(it.rec);
        chunks.push(b);
        bytes += b.length;
        if (bytes >= IO_BYTES) flush();
      }
      if (bytes > 0) flush();
    } finally {
      fs.closeSync(fd);
    }
    this.files.push(file);
  }

  /** Every record added, in key order; the runs are removed afterwards. */
  async *sorted(): AsyncGenerator<T, void, undefined> {
    yield* this.sortedSync();
  }

  /**
   * The same, synchronously: runs are local files read in large blocks, and a per-record promise
   * would cost more than the read (a /16 sweep's report merges 131,072 records).
   */
  *sortedSync(): Generator<T, void, undefined> {
    const memory = this.buffer.sort(byKey);
    this.buffer = [];
    try {
      if (this.files.length === 0) {
        for (const it of memory) yield it.rec;
        return;
      }
      const runs: Array<() => Keyed<T> | undefined> = this.files.map((f) => fileRun<T>(f, this.keyOf));
      let m = 0;
      runs.push(() => memory[m++]);
      // A binary heap of run heads, ordered by (key, run index): earlier runs win ties.
      const heap: Array<{ item: Keyed<T>; run: number }> = [];
      const less = (a: { item: Keyed<T>; run: number }, b: { item: Keyed<T>; run: number }) =>
        a.item.key < b.item.key || (a.item.key === b.item.key && a.run < b.run);
      const siftDown = () => {
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let s = i;
          if (l < heap.length && less(heap[l]!, heap[s]!)) s = l;
          if (r < heap.length && less(heap[r]!, heap[s]!)) s = r;
          if (s === i) break;
          [heap[i], heap[s]] = [heap[s]!, heap[i]!];
          i = s;
        }
      };
      const push = (e: { item: Keyed<T>; run: number }) => {
        heap.push(e);
        for (let i = heap.length - 1; i > 0; ) {
          const p = (i - 1) >> 1;
          if (!less(heap[i]!, heap[p]!)) break;
          [heap[i], heap[p]] = [heap[p]!, heap[i]!];
          i = p;
        }
      };
      for (let k = 0; k < runs.length; k++) {
        const item = runs[k]!();
        if (item) push({ item, run: k });
      }
      while (heap.length > 0) {
        const top = heap[0]!;
        const rec = top.item.rec;
        const next = runs[top.run]!();
        // The run's next record replaces the head in place (one sift instead of a pop and a push).
        if (next) top.item = next;
        else {
          const last = heap.pop()!;
          if (heap.length > 0) heap[0] = last;
        }
        if (heap.length > 0) siftDown();
        yield rec;
      }
    } finally {
      this.close();
    }
  }

  /** Removes the spilled runs (also done when sorted() ends). */
  close(): void {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.files.length = 0;
  }
}

/** A spilled run's records in order, read in large blocks; its header is skipped. */
function fileRun<T extends AnyRecord>(file: string, keyOf: (rec: T) => string): () => Keyed<T> | undefined {
  const fd = fs.openSync(file, 'r');
  const decoder = new RecordDecoder(file);
  const block = Buffer.allocUnsafe(IO_BYTES);
  let records: AnyRecord[] = [];
  let at = 0;
  let skippedHeader = false;
  let done = false;
  const refill = (): boolean => {
    while (at >= records.length) {
      if (done) return false;
      const n = fs.readSync(fd, block, 0, block.length, null);
      if (n === 0) {
        done = true;
        fs.closeSync(fd);
        const cut = decoder.finish();
        if (cut) throw cut;
        return false;
      }
      // decode() keeps a record cut at the block's end, so the block can be reused only after a copy.
      const { records: got, error } = decoder.decode(Buffer.from(block.subarray(0, n)));
      if (error) throw error;
      records = got;
      at = 0;
    }
    return true;
  };
  return () => {
    if (!skippedHeader) {
      skippedHeader = true;
      if (!refill()) return undefined;
      at++;
    }
    if (!refill()) return undefined;
    const rec = records[at++] as T;
    return { key: keyOf(rec), rec };
  };
}
