import { PROTO_BY_NUMBER, type ProbeBatch, type Proto } from './types.js';

/**
 * Column buffers handed back by the last consumer of a batch (recycleProbeBatch), by size.
 * Without reuse a fast producer leaves dead buffers that V8 collects only after tens of MB have
 * piled up, so peak memory would depend on how long the scan runs.
 */
const spareColumns = new Map<number, Uint8Array[]>();
const SPARES_PER_SIZE = 8;

function reuseOrAllocate(size: number): Uint8Array {
  return spareColumns.get(size)?.pop() ?? new Uint8Array(size);
}

/**
 * Gives a batch's column buffers back for reuse. Only the batch's last user may call it (e.g. the
 * encoder, once the bytes are packed): the batch must not be read afterwards.
 */
export function recycleProbeBatch(batch: ProbeBatch): void {
  for (const column of [batch.addrs, batch.ports, batch.protos]) {
    if (column.byteOffset !== 0 || column.byteLength !== column.buffer.byteLength) continue; // a view: not ours
    const list = spareColumns.get(column.byteLength) ?? [];
    if (list.length < SPARES_PER_SIZE) list.push(column);
    spareColumns.set(column.byteLength, list);
  }
}

/** Fills one probe batch's packed columns; `take()` hands it out and starts the next. */
export class ProbeBatchWriter {
  readonly family: 4 | 6;
  readonly capacity: number;
  private readonly addrWidth: number;
  private addrs!: Uint8Array;
  private ports!: Uint8Array;
  private protos!: Uint8Array;
  private count = 0;
  private start = 0;

  constructor(family: 4 | 6, capacity: number) {
    this.family = family;
    this.capacity = capacity;
    this.addrWidth = family === 4 ? 4 : 16;
    this.reset(0);
  }

  private reset(start: number): void {
    this.addrs = reuseOrAllocate(this.capacity * this.addrWidth);
    this.ports = reuseOrAllocate(this.capacity * 2);
    this.protos = reuseOrAllocate(this.capacity);
    this.count = 0;
    this.start = start;
  }

  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Adds an IPv4 probe; `addr` is the address as an unsigned 32-bit number. */
  addV4(index: number, addr: number, port: number, proto: number): void {
    if (this.count === 0) this.start = index;
    const i = this.count++;
    const a = this.addrs;
    const o = i * 4;
    a[o] = addr >>> 24;
    a[o + 1] = (addr >>> 16) & 0xff;
    a[o + 2] = (addr >>> 8) & 0xff;
    a[o + 3] = addr & 0xff;
    this.ports[i * 2] = port >>> 8;
    this.ports[i * 2 + 1] = port & 0xff;
    this.protos[i] = proto;
  }

  /** Adds an IPv6 probe; `addr` is 16 bytes in network order, copied. */
  addV6(index: number, addr: Uint8Array, port: number, proto: number): void {
    if (this.count === 0) this.start = index;
    const i = this.count++;
    this.addrs.set(addr, i * 16);
    this.ports[i * 2] = port >>> 8;
    this.ports[i * 2 + 1] = port & 0xff;
    this.protos[i] = proto;
  }

  /** The batch so far (trimmed), or undefined when empty. */
  take(): ProbeBatch | undefined {
    if (this.count === 0) return undefined;
    const n = this.count;
    const batch: ProbeBatch = {
      type: 'probes',
      family: this.family,
      start: this.start,
      count: n,
      addrs: n === this.capacity ? this.addrs : this.addrs.slice(0, n * this.addrWidth),
      ports: n === this.capacity ? this.ports : this.ports.slice(0, n * 2),
      protos: n === this.capacity ? this.protos : this.protos.slice(0, n),
    };
    this.reset(this.start + n);
    return batch;
  }
}

export interface Probe {
  index: number;
  ip: string;
  port: number;
  proto: Proto;
}

/** Formats the i-th address of a batch as text (IPv6 compressed per RFC 5952). */
export function batchAddress(batch: ProbeBatch, i: number): string {
  const a = batch.addrs;
  if (batch.family === 4) {
    const o = i * 4;
    return `${a[o]}.${a[o + 1]}.${a[o + 2]}.${a[o + 3]}`;
  }
  return formatIPv6(a.subarray(i * 16, i * 16 + 16));
}

export function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let w = 0; w < 8; w++) words.push((bytes[w * 2]! << 8) | bytes[w * 2 + 1]!);
  // Longest run of two or more zero words becomes "::" (first one on ties).
  let bestStart = -1;
  let bestLen = 1;
  for (let w = 0; w < 8; ) {
    if (words[w] !== 0) { w++; continue; }
    let e = w;
    while (e < 8 && words[e] === 0) e++;
    if (e - w > bestLen) { bestStart = w; bestLen = e - w; }
    w = e;
  }
  const hex = (ws: number[]) => ws.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Iterates a batch's probes as objects (for per-probe work that is not on the hot path, e.g. connect scan). */
export function* probesOf(batch: ProbeBatch): Generator<Probe> {
  const p = batch.ports;
  for (let i = 0; i < batch.count; i++) {
    const proto = PROTO_BY_NUMBER[batch.protos[i]!];
    if (!proto) throw new Error(`probe batch ${batch.start}: unknown protocol number ${batch.protos[i]} at entry ${i}`);
    yield { index: batch.start + i, ip: batchAddress(batch, i), port: (p[i * 2]! << 8) | p[i * 2 + 1]!, proto };
  }
}

/** Checks a decoded batch's columns agree with its count and family; returns a problem or undefined. */
export function probeBatchProblem(batch: ProbeBatch): string | undefined {
  const width = batch.family === 4 ? 4 : batch.family === 6 ? 16 : 0;
  if (!width) return `family ${String(batch.family)} is neither 4 nor 6`;
  if (!Number.isInteger(batch.count) || batch.count < 0) return `count ${String(batch.count)} is not a count`;
  if (!(batch.addrs instanceof Uint8Array) || batch.addrs.length !== batch.count * width) return 'addrs column has the wrong size';
  if (!(batch.ports instanceof Uint8Array) || batch.ports.length !== batch.count * 2) return 'ports column has the wrong size';
  if (!(batch.protos instanceof Uint8Array) || batch.protos.length !== batch.count) return 'protos column has the wrong size';
  return undefined;
}
