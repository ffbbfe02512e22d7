/**
 * IPv4 target sets as sorted, merged interval lists. Memory follows the number of intervals,
 * never the number of addresses: 0.0.0.0/0 is one interval.
 */

/** Growable list of inclusive [start, end] intervals (unsigned 32-bit). */
export class V4Ranges {
  private starts = new Uint32Array(64);
  private ends = new Uint32Array(64);
  private n = 0;

  /** Number of intervals held (after normalize(): disjoint, non-adjacent, ascending). */
  get length(): number {
    return this.n;
  }

  add(start: number, end: number): void {
    if (this.n === this.starts.length) {
      const grow = (a: Uint32Array) => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
    }
    this.starts[this.n] = start;
    this.ends[this.n] = end;
    this.n++;
  }

  /**
   * Sorts and merges overlapping or adjacent intervals in place. Starts and ends are sorted
   * separately (a native numeric sort, no comparator): a merged run ends at the i-th smallest
   * end exactly when the (i+1)-th smallest start lies beyond it + 1, so the pairing between a
   * start and its own end is never needed.
   */
  normalize(): void {
    const n = this.n;
    if (n === 0) return;
    const s = this.starts.subarray(0, n).sort();
    const e = this.ends.subarray(0, n).sort();
    let out = 0;
    let runStart = s[0]!;
    for (let i = 0; i < n; i++) {
      if (i === n - 1 || s[i + 1]! > e[i]! + 1) {
        // Writing at `out` ≤ i never overwrites a start or end still to be read.
        const runEnd = e[i]!;
        s[out] = runStart;
        e[out] = runEnd;
        out++;
        if (i < n - 1) runStart = s[i + 1]!;
      }
    }
    this.n = out;
  }

  /** Removes every address in `other`; both must be normalized. The result stays normalized. */
  subtract(other: V4Ranges): void {
    const result = new V4Ranges();
    let j = 0;
    for (let i = 0; i < this.n; i++) {
      let cur = this.starts[i]!;
      const end = this.ends[i]!;
      while (j < other.n && other.ends[j]! < cur) j++;
      for (let k = j; k < other.n && other.starts[k]! <= end && cur <= end; k++) {
        if (other.starts[k]! > cur) result.add(cur, other.starts[k]! - 1);
        cur = Math.max(cur, other.ends[k]! + 1);
      }
      if (cur <= end) result.add(cur, end);
    }
    this.starts = result.starts;
    this.ends = result.ends;
    this.n = result.n;
  }

  /** Total addresses (≤ 2^32, exact in a double). */
  hosts(): number {
    let total = 0;
    for (let i = 0; i < this.n; i++) total += this.ends[i]! - this.starts[i]! + 1;
    return total;
  }

  /** Intervals as [start, end] pairs (tests, diagnostics). */
  toArray(): Array<[number, number]> {
    return Array.from({ length: this.n }, (_, i) => [this.starts[i]!, this.ends[i]!]);
  }

  /** The lookup table for generation; call on a normalized set. */
  compile(): V4Table {
    return new V4Table(this.starts.slice(0, this.n), this.ends.slice(0, this.n));
  }
}

/** Host index → address by binary search over cumulative counts. */
export class V4Table {
  readonly starts: Uint32Array;
  /** cum[k] = hosts in intervals before k; cum[length] = all hosts. */
  readonly cum: Float64Array;
  readonly hosts: number;

  constructor(starts: Uint32Array, ends: Uint32Array) {
    this.starts = starts;
    this.cum = new Float64Array(starts.length + 1);
    for (let k = 0; k < starts.length; k++) this.cum[k + 1] = this.cum[k]! + (ends[k]! - starts[k]! + 1);
    this.hosts = this.cum[starts.length]!;
  }

  /** The address (unsigned 32-bit) of host index h, 0 ≤ h < hosts. */
  addr(h: number): number {
    const cum = this.cum;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cum[mid]! <= h) lo = mid;
      else hi = mid - 1;
    }
    return this.starts[lo]! + (h - cum[lo]!);
  }
}
