import { Duplex } from 'node:stream';
import type { AnyRecord, EndTrailer, ScanHeader } from './types.js';

/**
 * A stage's core: records in, records out. Written as an async generator, backpressure is
 * natural — while the consumer is slow the generator waits at `yield` and starts no new work.
 */
export type StageFunction = (source: AsyncIterable<AnyRecord>) => AsyncGenerator<AnyRecord, void, undefined>;

/** A stage as an object-mode Duplex stream, for pipelines and the CLI. */
export function stageStream(fn: StageFunction): Duplex {
  return Duplex.from(fn as (source: AsyncIterable<unknown>) => AsyncGenerator<unknown>);
}

export function isHeader(r: AnyRecord): r is ScanHeader {
  return r.type === 'scan';
}

export function isTrailer(r: AnyRecord): r is EndTrailer {
  return r.type === 'end';
}
