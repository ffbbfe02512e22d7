import type { AnyRecord, EndTrailer, ScanHeader } from '../records/index.js';
import type { OutputFormat, ViewOptions } from './output-format.js';
import type { OutputSink } from './sink.js';
import { shownWithOpen } from './host-report.js';
import type { PortRecord } from '../records/index.js';

/** Byte columns (probe batches, raw replies) become base64 text; JSON has no bytes. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * JSON Lines (-oD): one JSON object per record with the record's own field names. Probe
 * batches are plans, not results, and are left out; with --open, so are ports not open (and
 * not open|filtered) and ports marked proxied (unless --show-proxied), as every other output leaves them out.
 */
export function jsonLinesFormat(sink: OutputSink, view?: Pick<ViewOptions, 'openOnly' | 'showProxied'>): OutputFormat {
  // Port and host records hold only strings, numbers and nulls: no replacer (it runs per key).
  const line = (rec: { type?: unknown }) =>
    sink.write(`${rec.type === 'port' || rec.type === 'host' ? JSON.stringify(rec) : JSON.stringify(rec, jsonReplacer)}\n`);
  return {
    async begin(header: ScanHeader | undefined) {
      if (header) await line(header);
    },
    record(rec: AnyRecord) {
      if (rec.type === 'probes') return undefined;
      if (view?.openOnly && rec.type === 'port' && !shownWithOpen(rec as PortRecord, view)) return undefined;
      return line(rec);
    },
    async end(trailer: EndTrailer | undefined) {
      if (trailer) await line(trailer);
    },
  };
}
