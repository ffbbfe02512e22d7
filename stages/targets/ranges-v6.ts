/**
 * IPv6 target sets as sorted, merged interval lists of 128-bit values. Planning uses bigint
 * (few operations per interval); the generation table keeps 4 × u32 words so no bigint is made
 * per probe.
 */
import { ipv6Words } from './ipv6.js';

const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

export class V6Ranges {
  private starts: bigint[] = [];
  private ends: bigint[] = [];

  get length(): number {
    return this.starts.length;
  }

  add(start: bigint, end: bigint): void {
    this.starts.push(start);
    this.ends.push(end);
  }

  /** Sorts and merges overlapping or adjacent intervals (same separate-sort method as V4Ranges). */
  normalize(): void {
    const n = this.starts.length;
    if (n === 0) return;
    const s = this.starts.sort(cmp);
    const e = this.ends.sort(cmp);
    const outS: bigint[] = [];
    const outE: bigint[] = [];
    let runStart = s[0]!;
    for (let i = 0; i < n; i++) {
      if (i === n - 1 || s[i + 1]! > e[i]! + 1n) {
        outS.push(runStart);
        outE.push(e[i]!);
        if (i < n - 1) runStart = s[i + 1]!;
      }
    }
    this.starts = outS;
    this.ends = outE;
  }

  /** Removes every address in `other`; both must be normalized. */
  subtract(other: V6Ranges): void {
    const outS: bigint[] = [];
    const outE: bigint[] = [];
    let j = 0;
    for (let i = 0; i < this.starts.length; i++) {
      let cur = this.starts[i]!;
      const end = this.ends[i]!;
      while (j < other.ends.length && other.ends[j]! < cur) j++;
      for (let k = j; k < other.starts.length && other.starts[k]! <= end && cur <= end; k++) {
        if (other.starts[k]! > cur) {
          outS.push(cur);
          outE.push(other.starts[k]! - 1n);
        }
        const next = other.ends[k]! + 1n;
        if (next > cur) cur = next;
      }
      if (cur <= end) {
        outS.push(cur);
        outE.push(end);
      }
    }
    this.starts = outS;
    this.ends = outE;
  }

  /** Total addresses (may be astronomically large: checked against limits before use). */
  hosts(): bigint {
    let total = 0n;
    for (let i = 0; i < this.starts.length; i++) total += this.ends[i]! - this.starts[i]! + 1n;
    return total;
  }

  toArray(): Array<[bigint, bigint]> {
    return this.starts.map((s, i) => [s, this.ends[i]!]);
  }

  /** The lookup table for generation; every interval must hold fewer than 2^53 addresses. */
  compile(): V6Table {
    return new V6Table(this.starts, this.ends);
  }
}

/** Host index → 16-byte address without bigint: binary search, then a 4-word add with carry. */
export class V6Table {
  /** Interval starts as 4 words each, most significant first. */
  readonly words: Uint32Array;
  readonly cum: Float64Array;
  readonly hosts: number;
  private readonly count: number;

  constructor(starts: readonly bigint[], ends: readonly bigint[]) {
    this.count = starts.length;
    this.words = new Uint32Array(4 * this.count);
    this.cum = new Float64Array(this.count + 1);
    for (let k = 0; k < this.count; k++) {
      ipv6Words(starts[k]!, this.words, 4 * k);
      this.cum[k + 1] = this.cum[k]! + Number(ends[k]! - starts[k]! + 1n);
    }
    this.hosts = this.cum[this.count]!;
  }

  /** Writes the address of host index h into out[0..16) in network order. */
  writeAddr(h: number, out: Uint8Array): void {
    const cum = this.cum;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cum[mid]! <= h) lo = mid;
      else hi = mid - 1;
    }
    const offset = h - cum[lo]!; // < 2^53
    const w = this.words;
    const base = 4 * lo;
    const offHi = Math.floor(offset / 4294967296);
    let sum = w[base + 3]! + (offset - offHi * 4294967296);
    let carry = sum >= 4294967296 ? 1 : 0;
    const w3 = sum - carry * 4294967296;
    sum = w[base + 2]! + offHi + carry;
    carry = sum >= 4294967296 ? 1 : 0;
    const w2 = sum - carry * 4294967296;
    sum = w[base + 1]! + carry;
    carry = sum >= 4294967296 ? 1 : 0;
    const w1 = sum - carry * 4294967296;
    const w0 = (w[base]! + carry) >>> 0; // cannot overflow: the interval ends inside the address space
    putWord(out, 0, w0);
    putWord(out, 4, w1);
    putWord(out, 8, w2);
    putWord(out, 12, w3);
  }
}

function putWord(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}
