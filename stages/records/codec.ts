import { once } from 'node:events';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { Packr, Unpackr } from 'msgpackr';
import { recycleProbeBatch } from './probe-batch.js';
import { SCHEMA_VERSION, type AnyRecord, type ProbeBatch } from './types.js';

/** A byte stream that is not a prtip record stream; the message says what arrived and where. */
export class RecordStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordStreamError';
  }
}

/** msgpack with record structures; `sequential` puts each structure definition inline, so a stream is self-describing. */
/** (msgpackr mutates its options object: each codec gets a fresh copy.) */
const CODEC_OPTIONS = { useRecords: true, sequential: true } as const;

/** Encodes records one at a time; structures seen earlier in the same stream are referenced, not repeated. */
export function createRecordPacker(): (record: AnyRecord) => Buffer {
  const packr = new Packr({ ...CODEC_OPTIONS });
  return (record) => packr.pack(record);
}

/** Large enough for a full IPv6 batch of 8192 probes (19 bytes each) plus framing. */
const SCRATCH_BYTES = 256 * 1024;

/**
 * Writes records as msgpack to a byte stream, packing into one reused buffer: each write is
 * awaited before the buffer is packed again, and probe batches' columns are recycled once packed.
 * A stream of any length therefore runs in the same memory.
 */
export class RecordWriter {
  private readonly packr = new Packr({ ...CODEC_OPTIONS });
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

  constructor(private readonly out: Writable) {}

  async write(record: AnyRecord): Promise<void> {
    this.packr.useBuffer(this.scratch);
    const bytes = this.packr.pack(record);
    if (record.type === 'probes') recycleProbeBatch(record as ProbeBatch);
    if (bytes.buffer !== this.scratch.buffer) {
      // Too big for the scratch buffer: msgpackr allocated its own, which nobody reuses.
      if (!this.out.write(bytes)) await once(this.out, 'drain');
      return;
    }
    await new Promise<void>((resolve, reject) => this.out.write(bytes, (err) => (err ? reject(err) : resolve())));
  }
}

/** Object-mode records in, msgpack bytes out. */
export function createRecordEncoder(): Transform {
  const pack = createRecordPacker();
  return new Transform({
    writableObjectMode: true,
    readableObjectMode: false,
    writableHighWaterMark: 64,
    transform(record: AnyRecord, _enc, cb: TransformCallback) {
      cb(null, pack(record));
    },
  });
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object without a string "type" field';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `the ${typeof value} ${String(value)}`;
}

function describeBytes(buf: Uint8Array, at: number): string {
  const bytes = Array.from(buf.subarray(at, at + 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = Buffer.from(buf.subarray(at, at + 16)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `bytes ${bytes} ("${text}")`;
}

const HINT = 'feed it the output of another prtip stage (e.g. prtip targets … | prtip send -sT)';

/**
 * msgpack bytes in, validated records out, chunk by chunk.
 * The first record must be a `scan` header of a schema this build reads; every value must be an
 * object with a string `type`. Anything else is a RecordStreamError naming the source and byte
 * offset — reported only after every valid record before it has been handed out.
 */
export class RecordDecoder {
  private readonly unpackr = new Unpackr({ ...CODEC_OPTIONS });
  private pending: Buffer | undefined;
  private offset = 0; // stream offset of pending[0]
  private seenHeader = false;
  /** Whether a trailer arrived: a stream that ended without one was cut short upstream. */
  sawTrailer = false;

  constructor(private readonly source = 'stdin') {}

  private check(value: unknown, at: number): RecordStreamError | undefined {
    const rec = value as { type?: unknown; schema?: unknown };
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof rec.type !== 'string') {
      return new RecordStreamError(
        `${this.source}: not a prtip record stream at byte ${at}: got ${describeValue(value)}; ${HINT}`,
      );
    }
    if (!this.seenHeader) {
      if (rec.type !== 'scan') {
        return new RecordStreamError(
          `${this.source}: record stream must start with a "scan" header, got a "${rec.type}" record at byte ${at}; ${HINT}`,
        );
      }
      if (typeof rec.schema !== 'number' || rec.schema > SCHEMA_VERSION) {
        return new RecordStreamError(
          `${this.source}: record schema ${String(rec.schema)} is newer than this prtip reads (${SCHEMA_VERSION}); upgrade prtip`,
        );
      }
      this.seenHeader = true;
    }
    if (rec.type === 'end') this.sawTrailer = true;
    return undefined;
  }

  /** Decodes what the chunk completes; a record cut at the chunk's end waits for the next chunk. */
  decode(chunk: Buffer): { records: AnyRecord[]; error?: RecordStreamError } {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    const records: AnyRecord[] = [];
    let error: RecordStreamError | undefined;
    let consumed = 0;
    try {
      this.unpackr.unpackMultiple(buf, (value: unknown, _start?: number, end?: number) => {
        error = this.check(value, this.offset + consumed);
        if (error) return false;
        consumed = end ?? consumed;
        records.push(value as AnyRecord);
        return true;
      });
    } catch (err) {
      const e = err as { incomplete?: boolean; lastPosition?: number; message?: string };
      if (e.incomplete && typeof e.lastPosition === 'number') {
        consumed = e.lastPosition;
        this.pending = buf.subarray(consumed);
      } else {
        error = new RecordStreamError(
          `${this.source}: not a prtip record stream at byte ${this.offset + consumed}: ${describeBytes(buf, consumed)} ` +
            `(${e.message ?? 'undecodable'}); ${HINT}`,
        );
      }
    }
    this.offset += consumed;
    return { records, error };
  }

  /** Bytes decoded into records so far. */
  get consumed(): number {
    return this.offset;
  }

  /** At end of input: an error when the stream stopped inside a record. */
  finish(): RecordStreamError | undefined {
    if (!this.pending || this.pending.length === 0) return undefined;
    return new RecordStreamError(
      `${this.source}: stream ended inside a record at byte ${this.offset} (${this.pending.length} bytes left over); the upstream stage was cut off`,
    );
  }
}

export interface DecodeOptions {
  /**
   * A whole stream from another stage: it must end with its trailer and hold nothing after it.
   * A stream without one was cut short upstream (a stage failed or was killed), so its consumer
   * must fail too — after passing on every record — or a store downstream would take a partial
   * scan for a finished one. After a trailer only another whole stream may follow (`cat a.rec
   * b.rec | prtip merge`); anything else is refused, even when the consumer stops reading at the
   * trailer.
   */
  complete?: boolean;
}

/** Records from a byte stream, in order; throws at the first bad byte, after yielding everything before it. */
export async function* decodeRecords(bytes: AsyncIterable<Buffer>, source = 'stdin', opts: DecodeOptions = {}): AsyncGenerator<AnyRecord, void, undefined> {
  const decoder = new RecordDecoder(source);
  const chunks = bytes[Symbol.asyncIterator]();
  let trailerOut = false;
  let ended = false;
  // What followed the last record handed out, in the same chunk: checked if the consumer stops there.
  let tail: { more: AnyRecord | undefined; error: RecordStreamError | undefined } = { more: undefined, error: undefined };
  const afterTrailer = (what: string) => new RecordStreamError(
    `${source}: ${what} after the stream's trailer (at byte ${decoder.consumed}); a record stream ends at its "end" record`);
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done) break;
      const { records, error } = decoder.decode(next.value);
      for (let k = 0; k < records.length; k++) {
        const r = records[k]!;
        if (opts.complete && trailerOut && r.type !== 'scan') throw afterTrailer(`a "${r.type}" record`);
        trailerOut = r.type === 'end';
        tail = { more: records[k + 1], error };
        yield r;
      }
      if (error) throw error;
    }
    ended = true;
    const error = decoder.finish();
    if (error) throw error;
    if (opts.complete && !trailerOut) {
      throw new RecordStreamError(decoder.consumed === 0
        ? `${source}: no records at all: the stage before produced nothing (did it fail?)`
        : `${source}: the record stream ended without its trailer at byte ${decoder.consumed}: the stage before failed or was killed; the records before were passed on`);
    }
  } finally {
    // The consumer stopped at the trailer: what follows must be nothing.
    if (opts.complete && trailerOut && !ended) {
      if (tail.more) throw afterTrailer(`a "${tail.more.type}" record`);
      if (tail.error) throw afterTrailer('bytes that are not a record');
      for (;;) {
        const next = await chunks.next();
        if (next.done) break;
        const { records, error } = decoder.decode(next.value);
        if (records.length > 0) throw afterTrailer(`a "${records[0]!.type}" record`);
        if (error) throw afterTrailer('bytes that are not a record');
      }
      if (decoder.finish()) throw afterTrailer('a cut-off record');
    }
  }
}

/** The decoder as an object-mode Transform stream. */
export function createRecordDecoder(source = 'stdin'): Transform {
  const decoder = new RecordDecoder(source);
  return new Transform({
    readableObjectMode: true,
    writableObjectMode: false,
    readableHighWaterMark: 64,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      const { records, error } = decoder.decode(chunk);
      for (const r of records) this.push(r);
      cb(error);
    },
    flush(cb: TransformCallback) {
      cb(decoder.finish());
    },
  });
}
