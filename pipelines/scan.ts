/**
 * `prtip scan`: the stages of a scan composed in one process (targets → send → store → format). Records pass between stages as
 * objects (no encoding); each stage is an async generator, so backpressure runs end to end.
 */
import type { AnyRecord } from '../stages/records/index.js';
import { formatRecords, type FormatOptions } from '../stages/format/index.js';
import { sendRecords, type SendOptions } from '../stages/send/index.js';
import { storeRecords, type StoreOptions } from '../stages/store/index.js';
import { targetRecords, type TargetsOptions } from '../stages/targets/index.js';

export interface ScanPipelineOptions {
  targets: TargetsOptions;
  send: SendOptions;
  format: FormatOptions;
  /** --db: append to a DuckDB database as records arrive (before formatting). */
  store?: StoreOptions;
  /** Sees every record between send and format (e.g. -v's live "Discovered open port" lines). */
  observe?: (rec: AnyRecord) => void;
}

async function* observed(source: AsyncIterable<AnyRecord>, observe?: (rec: AnyRecord) => void) {
  for await (const rec of source) {
    observe?.(rec);
    yield rec;
  }
}

/** The scan's records after every stage ran; pull them (or drain) to drive the scan. */
export function scanRecords(opts: ScanPipelineOptions): AsyncGenerator<AnyRecord, void, undefined> {
  const found = sendRecords(opts.send)(targetRecords(opts.targets));
  const stored = opts.store ? storeRecords(opts.store)(found) : found;
  return formatRecords(opts.format)(observed(stored, opts.observe));
}

export async function runScan(opts: ScanPipelineOptions): Promise<void> {
  for await (const _ of scanRecords(opts)) {
    // pulling drives the pipeline; format has written the outputs
  }
}
