import { Transform, type TransformCallback } from 'node:stream';
import { Packr, Unpackr } from 'msgpackr';
import { SCHEMA_VERSION, type AnyRecord } from './types.js';

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
 * msgpack bytes in, validated object-mode records out.
 * The first record must be a `scan` header of a schema this build reads; every value must be an
 * object with a string `type`. Anything else stops the stream with a RecordStreamError naming
 * the source and byte offset — after every valid record before it has been passed on.
 */
export function createRecordDecoder(source = 'stdin'): Transform {
  const unpackr = new Unpackr({ ...CODEC_OPTIONS });
  let pending: Buffer | undefined;
  let offset = 0; // stream offset of pending[0]
  let seenHeader = false;
  let sawTrailer = false;

  function check(value: unknown, at: number): RecordStreamError | undefined {
    const rec = value as { type?: unknown; schema?: unknown };
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof rec.type !== 'string') {
      return new RecordStreamError(
        `${source}: not a prtip record stream at byte ${at}: got ${describeValue(value)}; ${HINT}`,
      );
    }
    if (!seenHeader) {
      if (rec.type !== 'scan') {
        return new RecordStreamError(
          `${source}: record stream must start with a "scan" header, got a "${rec.type}" record at byte ${at}; ${HINT}`,
        );
      }
      if (typeof rec.schema !== 'number' || rec.schema > SCHEMA_VERSION) {
        return new RecordStreamError(
          `${source}: record schema ${String(rec.schema)} is newer than this prtip reads (${SCHEMA_VERSION}); upgrade prtip`,
        );
      }
      seenHeader = true;
    }
    if (rec.type === 'end') sawTrailer = true;
    return undefined;
  }

  const decoder = new Transform({
    readableObjectMode: true,
    writableObjectMode: false,
    readableHighWaterMark: 64,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let failure: Error | undefined;
      let consumed = 0;
      try {
        unpackr.unpackMultiple(buf, (value: unknown, _start?: number, end?: number) => {
          failure = check(value, offset + consumed);
          if (failure) return false;
          consumed = end ?? consumed;
          this.push(value);
          return true;
        });
      } catch (err) {
        const e = err as { incomplete?: boolean; lastPosition?: number; message?: string };
        if (e.incomplete && typeof e.lastPosition === 'number') {
          consumed = e.lastPosition;
          pending = buf.subarray(consumed);
        } else {
          failure = new RecordStreamError(
            `${source}: not a prtip record stream at byte ${offset + consumed}: ${describeBytes(buf, consumed)} ` +
              `(${e.message ?? 'undecodable'}); ${HINT}`,
          );
        }
      }
      offset += consumed;
      cb(failure);
    },
    flush(cb: TransformCallback) {
      if (pending && pending.length > 0) {
        cb(new RecordStreamError(
          `${source}: stream ended inside a record at byte ${offset} (${pending.length} bytes left over); the upstream stage was cut off`,
        ));
        return;
      }
      cb();
    },
  });
  /** Whether a trailer arrived: a stream that ended without one was cut short upstream. */
  Object.defineProperty(decoder, 'sawTrailer', { get: () => sawTrailer });
  Object.defineProperty(decoder, 'sawHeader', { get: () => seenHeader });
  return decoder;
}
