/**
 * Port rows written straight into the column buffers of a DuckDB data chunk: the store's hot path.
 *
 * @duckdb/node-api's value path (`DuckDBDataChunk.setColumns`) boxes every timestamp in a
 * BigInt-carrying object, tracks validity with BigInt arithmetic and makes one native call per
 * string; at scan rates that costs more than DuckDB's own work. Here every column is a typed
 * array filled in place and copied into the chunk's vector with one native call per column:
 *
 * - numbers (port, ttl, confidence) in an Int32Array, rtt in a Float64Array, the time as the two
 *   32-bit halves of DuckDB's int64 milliseconds (no BigInt per row), proxied as bytes;
 * - strings as DuckDB's 16-byte `duckdb_string_t` (public layout in duckdb.h: a uint32 length, then
 *   the bytes inline when they fit in 12, zero-padded). Short ASCII strings — states, reasons,
 *   protocols, most IPv4 addresses — are written inline, the few longer ones with
 *   `vector_assign_string_element` after the copy (DuckDB owns their bytes);
 * - the scan id, the same on every row, as a constant vector (one value for the whole chunk);
 * - NULLs as cleared bits in a validity mask (uint64 words, bit i for row i).
 */
import { createRequire } from 'node:module';
import { BOOLEAN, DOUBLE, DuckDBDataChunk, INTEGER, TIMESTAMP_MS, VARCHAR, type DuckDBType } from '@duckdb/node-api';
import type { PortRecord } from '../records/index.js';

/**
 * The native binding of the installed @duckdb/node-api, resolved from node-api's own location so
 * the chunk's handles and the appender's always come from one libduckdb.
 */
type Bindings = {
  data_chunk_get_vector(chunk: unknown, column: number): unknown;
  copy_data_to_vector(vector: unknown, offset: number, buffer: ArrayBufferLike, byteOffset: number, byteCount: number): void;
  copy_data_to_vector_validity(vector: unknown, offset: number, buffer: ArrayBufferLike, byteOffset: number, byteCount: number): void;
  vector_ensure_validity_writable(vector: unknown): void;
  vector_assign_string_element(vector: unknown, index: number, value: string): void;
  vector_reference_value(vector: unknown, value: unknown): void;
  create_varchar(value: string): unknown;
};
const require = createRequire(import.meta.url);
const bindings = createRequire(require.resolve('@duckdb/node-api'))('@duckdb/node-bindings') as Bindings;

/** Column types of the ports table, in table order (stages/store/schema.ts). */
export const PORT_TYPES: DuckDBType[] = [VARCHAR, VARCHAR, INTEGER, VARCHAR, VARCHAR, VARCHAR, INTEGER, DOUBLE, TIMESTAMP_MS, INTEGER, BOOLEAN, VARCHAR];
/** DuckDB's vector size: a data chunk holds at most this many rows. */
export const CHUNK_ROWS = 2048;
const STRING_BYTES = 16;
const INLINE_MAX = 12;

/** A VARCHAR column as duckdb_string_t slots, plus the rows whose string does not fit inline. */
class StringColumn {
  readonly slots = new Uint32Array(CHUNK_ROWS * 4);
  readonly bytes = new Uint8Array(this.slots.buffer);
  readonly validity = new Validity();
  long: Array<[number, string]> = [];
  /** Inline slots of strings seen before (a column's few distinct values: states, reasons). */
  private readonly cache = new Map<string, Uint32Array | null>();

  constructor(private readonly cacheAll: boolean) {}

  set(row: number, s: string | null | undefined): void {
    if (s === null || s === undefined) {
      this.slots.fill(0, row * 4, row * 4 + 4); // a NULL's slot is an empty string, never stale bytes
      this.validity.setNull(row);
      return;
    }
    if (this.cacheAll) {
      let slot = this.cache.get(s);
      if (slot === undefined) {
        slot = inlineSlot(s);
        if (this.cache.size < 256) this.cache.set(s, slot);
      }
      if (slot === null) {
        this.slots.fill(0, row * 4, row * 4 + 4);
        this.long.push([row, s]);
      } else this.slots.set(slot, row * 4);
      return;
    }
    const n = s.length;
    const w = row * 4;
    this.slots[w + 1] = 0;
    this.slots[w + 2] = 0;
    this.slots[w + 3] = 0;
    if (n > INLINE_MAX) {
      this.slots[w] = 0;
      this.long.push([row, s]);
      return;
    }
    const b = this.bytes;
    const at = w * 4 + 4;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        // Non-ASCII: its UTF-8 form is DuckDB's to make.
        this.long.push([row, s]);
        return;
      }
      b[at + i] = c;
    }
    this.slots[w] = n;
  }

  write(vector: unknown, rows: number): void {
    bindings.copy_data_to_vector(vector, 0, this.slots.buffer, 0, rows * STRING_BYTES);
    for (const [row, s] of this.long) bindings.vector_assign_string_element(vector, row, s);
    this.validity.write(vector, rows);
    this.long = [];
  }
}

/** The four uint32 words of a string's inline duckdb_string_t, or null when it cannot be inline. */
function inlineSlot(s: string): Uint32Array | null {
  if (s.length > INLINE_MAX) return null;
  const slot = new Uint32Array(4);
  const b = new Uint8Array(slot.buffer);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return null;
    b[4 + i] = c;
  }
  slot[0] = s.length;
  return slot;
}

/** A validity mask: all rows valid until one is set NULL. */
class Validity {
  private readonly mask = new Uint8Array(CHUNK_ROWS / 8).fill(0xff);
  private any = false;

  setNull(row: number): void {
    this.mask[row >> 3]! &= ~(1 << (row & 7));
    this.any = true;
  }

  write(vector: unknown, rows: number): void {
    if (!this.any) return;
    bindings.vector_ensure_validity_writable(vector);
    bindings.copy_data_to_vector_validity(vector, 0, this.mask.buffer, 0, Math.ceil(rows / 64) * 8);
    this.mask.fill(0xff);
    this.any = false;
  }
}

/** An INTEGER column (nullable). */
class IntColumn {
  readonly values = new Int32Array(CHUNK_ROWS);
  readonly validity = new Validity();

  set(row: number, v: number | null | undefined): void {
    if (v === null || v === undefined || !Number.isFinite(v)) {
      this.values[row] = 0;
      this.validity.setNull(row);
    } else this.values[row] = Math.round(v);
  }

  write(vector: unknown, rows: number): void {
    bindings.copy_data_to_vector(vector, 0, this.values.buffer, 0, rows * 4);
    this.validity.write(vector, rows);
  }
}

/**
 * Accumulates up to CHUNK_ROWS port rows of one scan; `take()` hands them over as a data chunk for
 * `DuckDBAppender.appendDataChunk` and starts over.
 */
export class PortChunkBuilder {
  private n = 0;
  private readonly ip = new StringColumn(false);
  private readonly port = new IntColumn();
  private readonly proto = new StringColumn(true);
  private readonly state = new StringColumn(true);
  private readonly reason = new StringColumn(true);
  private readonly ttl = new IntColumn();
  private readonly rtt = new Float64Array(CHUNK_ROWS);
  private readonly rttValidity = new Validity();
  /** TIMESTAMP_MS: int64 milliseconds as (low, high) 32-bit words, little-endian. */
  private readonly time = new Int32Array(CHUNK_ROWS * 2);
  private readonly confidence = new IntColumn();
  private readonly proxied = new Uint8Array(CHUNK_ROWS);
  private readonly proxiedValidity = new Validity();
  private readonly check = new StringColumn(true);

  constructor(private readonly scanId: string) {}

  get length(): number {
    return this.n;
  }

  get full(): boolean {
    return this.n >= CHUNK_ROWS;
  }

  add(r: PortRecord): void {
    const i = this.n++;
    this.ip.set(i, r.ip);
    this.port.set(i, r.port);
    this.proto.set(i, r.proto);
    this.state.set(i, r.state);
    this.reason.set(i, r.reason);
    this.ttl.set(i, r.ttl);
    const rtt = r.rtt;
    if (rtt === null || rtt === undefined || !Number.isFinite(rtt)) {
      this.rtt[i] = 0;
      this.rttValidity.setNull(i);
    } else this.rtt[i] = rtt;
    const ms = Math.round(r.time);
    this.time[2 * i] = ms >>> 0; // ToUint32 is ms modulo 2^32: the low word, negative times too
    this.time[2 * i + 1] = Math.floor(ms / 4294967296);
    this.confidence.set(i, typeof r.confidence === 'number' ? r.confidence : null);
    if (typeof r.proxied === 'boolean') this.proxied[i] = r.proxied ? 1 : 0;
    else {
      this.proxied[i] = 0;
      this.proxiedValidity.setNull(i);
    }
    this.check.set(i, typeof r.check === 'string' ? r.check : null);
  }

  /** The rows added since the last take(), as one data chunk (undefined when there are none). */
  take(): DuckDBDataChunk | undefined {
    const rows = this.n;
    if (rows === 0) return undefined;
    const chunk = DuckDBDataChunk.create(PORT_TYPES, rows);
    const vec = (c: number) => bindings.data_chunk_get_vector(chunk.chunk, c);
    bindings.vector_reference_value(vec(0), bindings.create_varchar(this.scanId));
    this.ip.write(vec(1), rows);
    this.port.write(vec(2), rows);
    this.proto.write(vec(3), rows);
    this.state.write(vec(4), rows);
    this.reason.write(vec(5), rows);
    this.ttl.write(vec(6), rows);
    const rtt = vec(7);
    bindings.copy_data_to_vector(rtt, 0, this.rtt.buffer, 0, rows * 8);
    this.rttValidity.write(rtt, rows);
    bindings.copy_data_to_vector(vec(8), 0, this.time.buffer, 0, rows * 8);
    this.confidence.write(vec(9), rows);
    const proxied = vec(10);
    bindings.copy_data_to_vector(proxied, 0, this.proxied.buffer, 0, rows);
    this.proxiedValidity.write(proxied, rows);
    this.check.write(vec(11), rows);
    this.n = 0;
    return chunk;
  }
}
