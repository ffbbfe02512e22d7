/** How a stage process meets the outside: stdin/stdout as record streams or text, signals, errors. */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import {
  decodeRecords,
  EXIT_PROBES_LOST,
  probeLosses,
  RecordWriter,
  RecordStreamError,
  UserInputError,
  type AnyRecord,
  type EndTrailer,
} from '../../../stages/records/index.js';

export type RecordGenerator = AsyncGenerator<AnyRecord, void, undefined>;

/** Records from stdin; refuses a terminal (a stage's input is another stage's output). */
export function stdinRecords(command: string): RecordGenerator {
  if (process.stdin.isTTY) {
    throw new UserInputError(
      `prtip ${command} reads records on stdin; pipe another stage into it, e.g. prtip targets 198.18.0.0/24 -p 80 | prtip ${command}`,
    );
  }
  return decodeRecords(process.stdin as AsyncIterable<Buffer>, 'stdin', { complete: true });
}

/**
 * Writes to stdout with backpressure. stdout is never handed to pipeline(): a failing stage must
 * not destroy stdout (oclif rethrows stdout errors), it must reach our error report.
 */
async function writeChunk(chunk: string | Buffer, out: Writable): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Writes records to stdout as msgpack (for the next stage in a pipe). */
export async function writeRecordsToStdout(records: AsyncIterable<AnyRecord>, out: Writable = process.stdout): Promise<void> {
  const writer = new RecordWriter(out);
  for await (const rec of records) await writer.write(rec);
}

/** Consumes records, discarding them (the format stage has already written its outputs). */
export async function drain(records: AsyncIterable<AnyRecord>): Promise<void> {
  for await (const _ of records) {
    // nothing: pulling is what drives the pipeline
  }
}

/**
 * SIGINT: the first one asks the stages to stop and flush (the abort signal), the second exits
 * at once. A stage in the middle of a pipe can ignore the first (its upstream will end).
 */
export function interruptController(stopOnFirst = true): AbortController {
  const controller = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    interruptedBy ??= sig;
    if (count === 1) {
      process.stderr.write('\nprtip: interrupted; flushing results (press Ctrl-C again to quit at once)\n');
      if (stopOnFirst) controller.abort();
    } else {
      process.exit(sig === 'SIGTERM' ? 143 : 130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller;
}

let interruptedBy: NodeJS.Signals | undefined;

/**
 * The exit status of a command that ran to its end: 130 once SIGINT interrupted it (as nmap;
 * 143 for SIGTERM), even though it flushed what it had; else what it set.
 */
export function finalExitCode(code: number | string | undefined): number | string | undefined {
  if (interruptedBy && (code === undefined || code === 0)) return interruptedBy === 'SIGTERM' ? 143 : 130;
  return code;
}

/**
 * Watches a record stream for its trailer; `settle()` then makes the exit status say the scan
 * lost probes (EXIT_PROBES_LOST, with one line on stderr) unless something already set a status.
 */
export function lossWatch(): { observe(rec: AnyRecord): void; wrap(records: AsyncIterable<AnyRecord>): RecordGenerator; settle(): void } {
  let trailer: EndTrailer | undefined;
  const observe = (rec: AnyRecord) => { if (rec.type === 'end') trailer = rec as EndTrailer; };
  return {
    observe,
    async *wrap(records) {
      for await (const rec of records) { observe(rec); yield rec; }
    },
    settle() {
      const lost = probeLosses(trailer);
      if (!lost || (process.exitCode !== undefined && process.exitCode !== 0)) return;
      process.stderr.write(`prtip: the scan lost probes (${lost.summary}): its results are partial (exit status ${EXIT_PROBES_LOST})\n`);
      process.exitCode = EXIT_PROBES_LOST;
    },
  };
}

/** A reader that went away (prtip targets … | head) is not an error: stop quietly. */
export function quietOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
}

/**
 * Text for the terminal: control bytes (ESC, BEL, NUL, CR, LF, C1 …) quoted as \xNN, so a hostile
 * argv, -iL file or probe file echoed in a message cannot drive the terminal or split the line.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A warning line on stderr, escaped. */
export function warnLine(message: string): void {
  process.stderr.write(`prtip: warning: ${printable(message)}\n`);
}

/** Prints an error the user can act on; a stack only for bugs, and only with PRTIP_DEBUG=1. */
export function reportError(err: unknown): number {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EPIPE' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE') return 0;
  if (err instanceof UserInputError || err instanceof RecordStreamError) {
    process.stderr.write(`prtip: ${printable(e.message)}\n`);
    return 1;
  }
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR' || e?.code === 'PRTIP_NATIVE_MISSING') {
    process.stderr.write(`prtip: ${printable(e.message)}\n`);
    return 1;
  }
  process.stderr.write(`prtip: internal error: ${printable(e?.message ?? String(err))}\n`);
  if (process.env.PRTIP_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
  else process.stderr.write('(set PRTIP_DEBUG=1 for details, and please report it)\n');
  return 2;
}

/** Writes text to stdout with backpressure. */
export async function writeText(lines: AsyncIterable<string>, out: Writable = process.stdout): Promise<void> {
  for await (const text of lines) await writeChunk(text, out);
}
