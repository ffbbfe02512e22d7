/**
 * stages/format: writes records as text for people and other tools. Each output format is a
 * small module behind OutputFormat; this stage fans records out to every requested output and
 * passes all records on unchanged (so a store stage can follow it).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex, Writable } from 'node:stream';
import {
  stageStream,
  UserInputError,
  type AnyRecord,
  type EndTrailer,
  type ScanHeader,
} from '../records/index.js';
import { csvFormat } from './out-csv.js';
import { grepableFormat } from './out-grepable.js';
import { jsonFormat } from './out-json.js';
import { jsonLinesFormat } from './out-jsonl.js';
import { normalFormat } from './out-normal.js';
import { xmlFormat } from './out-xml.js';
import type { OutputFormat, OutputFormatFactory, ViewOptions } from './output-format.js';
import { OutputSink } from './sink.js';

export type { ViewOptions } from './output-format.js';
export { CSV_COLUMNS, csvField } from './out-csv.js';
export { xmlAttr, xmlText } from './xml-text.js';
export { compareIps } from './host-report.js';

/** The output formats by name; the CLI maps -oN/-oD onto these. */
export const OUTPUT_FORMATS: Readonly<Record<string, { flag: string; describe: string; create: OutputFormatFactory }>> = {
  normal: { flag: '-oN', describe: 'nmap-style normal text', create: normalFormat },
  xml: { flag: '-oX', describe: 'Nmap XML (valid against nmap.dtd)', create: xmlFormat },
  grepable: { flag: '-oG', describe: 'nmap grepable, one line per host', create: grepableFormat },
  json: { flag: '-oJ', describe: 'one JSON document', create: jsonFormat },
  jsonl: { flag: '-oD', describe: 'JSON Lines, one object per record', create: (sink, view) => jsonLinesFormat(sink, view) },
  csv: { flag: '-oC', describe: 'CSV, one row per port', create: csvFormat },
};

export type OutputFormatName = keyof typeof OUTPUT_FORMATS;

export interface OutputRequest {
  format: OutputFormatName;
  /** File path, or "-" for stdout. */
  path: string;
}

export interface FormatOptions {
  outputs: OutputRequest[];
  view: ViewOptions;
  /** Where "-" goes (default process.stdout). */
  stdout?: Writable;
}

/**
 * Checks every output can be written without touching it (no file is created or truncated), so
 * a bad path is reported before anything runs and a run that fails before its first record
 * leaves existing files as they were.
 */
export function checkOutputs(opts: FormatOptions): void {
  const toStdout = opts.outputs.filter((o) => o.path === '-');
  if (toStdout.length > 1) {
    throw new UserInputError(
      `only one output can go to stdout ("-"), got ${toStdout.map((o) => OUTPUT_FORMATS[o.format]!.flag).join(' and ')}`,
    );
  }
  for (const o of opts.outputs) {
    const spec = OUTPUT_FORMATS[o.format];
    if (!spec) throw new UserInputError(`unknown output format "${o.format}"`);
    if (o.path === '-') continue;
    try {
      if (fs.existsSync(o.path)) {
        if (fs.statSync(o.path).isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${o.path}'`), { code: 'EISDIR' });
        fs.accessSync(o.path, fs.constants.W_OK);
      } else {
        fs.accessSync(path.dirname(path.resolve(o.path)), fs.constants.W_OK);
      }
    } catch (err) {
      throw new UserInputError(`cannot write ${spec.flag} output "${o.path}": ${(err as Error).message}`);
    }
  }
}

/** Opens every output (truncating files): done when the first record arrives. */
export async function openOutputs(opts: FormatOptions): Promise<{ formats: OutputFormat[]; sinks: OutputSink[] }> {
  checkOutputs(opts);
  const sinks: OutputSink[] = [];
  const formats: OutputFormat[] = [];
  for (const o of opts.outputs) {
    const spec = OUTPUT_FORMATS[o.format];
    if (!spec) throw new UserInputError(`unknown output format "${o.format}"`);
    const sink = OutputSink.open(o.path, opts.stdout ?? process.stdout);
    try {
      await sink.ready();
    } catch (err) {
      throw new UserInputError(`cannot write ${spec.flag} output "${o.path}": ${(err as Error).message}`);
    }
    sinks.push(sink);
    formats.push(spec.create(sink, opts.view));
  }
  return { formats, sinks };
}

export function formatRecords(opts: FormatOptions) {
  return async function* format(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    // Outputs are checked now but opened when the first record arrives (the header, before any
    // probe is sent): an error before it — a usage error, a refused resume — leaves files alone.
    checkOutputs(opts);
    let formats: OutputFormat[] = [];
    let sinks: OutputSink[] = [];
    let opened = false;
    let header: ScanHeader | undefined;
    let trailer: EndTrailer | undefined;
    let begun = false;
    const begin = async () => {
      if (begun) return;
      begun = true;
      for (const f of formats) await f.begin(header);
    };
    try {
      for await (const rec of source) {
        if (!opened) {
          ({ formats, sinks } = await openOutputs(opts));
          opened = true;
        }
        if (rec.type === 'scan') {
          header = rec as ScanHeader;
          await begin();
        } else if (rec.type === 'end') {
          trailer = rec as EndTrailer;
        } else {
          if (!begun) await begin();
          for (const f of formats) {
            const full = f.record(rec);
            if (full) await full;
          }
        }
        yield rec;
      }
    } finally {
      // Even when upstream fails mid-stream, what arrived is written out with its summary.
      if (opened) {
        await begin();
        for (const f of formats) await f.end(trailer);
        for (const s of sinks) await s.close();
      }
    }
  };
}

export function createFormatStage(opts: FormatOptions): Duplex {
  return stageStream(formatRecords(opts));
}
