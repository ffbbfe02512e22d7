/**
 * A seeded pseudo-random permutation of [0, size): the scan order.
 *
 * Generalized Feistel cipher over a rectangle a × b ≥ size (Black & Rogaway, "Ciphers with
 * arbitrary finite domains"): x is split as (x mod a, floor(x / a)); rounds alternately add a
 * keyed mix of one half into the other mod a and mod b, so every round is invertible and the
 * whole is a bijection of [0, a·b). Values that land in [size, a·b) are re-encrypted ("cycle
 * walking") until they fall inside, which restricts the bijection to [0, size). With a ≈ b ≈
 * √size the rectangle overshoots by less than a + b, so walks are short.
 *
 * Why not a cyclic group (masscan, zmap)? This needs no prime search, works for every size,
 * and costs a few multiplies per index with O(1) state — memory never depends on the size.
 */

/** Sizes above this lose exactness in double arithmetic (a·b must stay below 2^53). */
export const FEISTEL_MAX_SIZE = 2 ** 52;

/** Must be even: the output formula below assumes the halves are back in (mod a, mod b) order. */
const ROUNDS = 6;

/** 32-bit finalizer-style mixing (multiply/xor-shift): cheap, and every input bit reaches every output bit. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

export class FeistelPermutation {
  readonly size: number;
  readonly seed: number;
  private readonly a: number;
  private readonly b: number;
  private readonly keys: Int32Array;

  constructor(size: number, seed: number) {
    if (!Number.isSafeInteger(size) || size < 0 || size > FEISTEL_MAX_SIZE) {
      throw new RangeError(`permutation size ${size} is not an integer in 0..2^52`);
    }
    this.size = size;
    this.seed = seed >>> 0;
    let a = Math.max(1, Math.ceil(Math.sqrt(size)));
    while (a > 1 && (a - 1) * (a - 1) >= size) a--; // sqrt rounding for large sizes
    this.a = a;
    this.b = Math.max(1, Math.ceil(size / a));
    // Round keys mix the seed with the round number, so rounds differ and seeds differ everywhere.
    this.keys = new Int32Array(ROUNDS);
    for (let r = 0; r < ROUNDS; r++) {
      this.keys[r] = mix32((this.seed ^ Math.imul(r + 1, 0x9e3779b9)) >>> 0) | 0;
    }
  }

  /** One pass of the cipher over [0, a·b). */
  private encrypt(x: number): number {
    const a = this.a;
    const b = this.b;
    const keys = this.keys;
    let left = x % a;
    let right = (x - left) / a;
    for (let r = 0; r < ROUNDS; r++) {
      // Round function: mix the half with the round key; the half is < 2^26, so it fits in 32 bits.
      let f = Math.imul(right ^ keys[r]!, 0x9e3779b1);
      f = Math.imul(f ^ (f >>> 15), 0x85ebca77);
      f = (f ^ (f >>> 13)) >>> 0;
      const next = (left + f) % (r % 2 === 0 ? a : b);
      left = right;
      right = next;
    }
    // After an even number of rounds left ∈ [0, a), right ∈ [0, b).
    return right * a + left;
  }

  /** The value at position i of the permuted sequence, 0 ≤ i < size. */
  at(i: number): number {
    let x = this.encrypt(i);
    while (x >= this.size) x = this.encrypt(x);
    return x;
  }
}

/**
 * Self-test (masscan style, beside the algorithm): the permutation is a bijection for a spread
 * of sizes, the same seed gives the same order, and another seed a different one. Returns a
 * problem description, or undefined when all is well.
 */
export function feistelSelfTest(): string | undefined {
  const sizes = [1, 2, 3, 4, 5, 7, 16, 17, 97, 255, 256, 1000, 4096, 65_521, 65_536, 100_003];
  for (const size of sizes) {
    for (const seed of [0, 1, 0xdeadbeef]) {
      const problem = bijectionProblem(size, seed);
      if (problem) return problem;
    }
  }
  const p1 = new FeistelPermutation(10_000, 42);
  const p2 = new FeistelPermutation(10_000, 42);
  const p3 = new FeistelPermutation(10_000, 43);
  let same = true;
  let differs = 0;
  for (let i = 0; i < 10_000; i++) {
    if (p1.at(i) !== p2.at(i)) same = false;
    if (p1.at(i) !== p3.at(i)) differs++;
  }
  if (!same) return 'same seed gave different orders';
  if (differs < 9_000) return `seeds 42 and 43 agree on ${10_000 - differs} of 10000 positions`;
  return undefined;
}

/** Checks that the Feistel permutation of `size` under `seed` is a bijection of [0, size). */
export function bijectionProblem(size: number, seed: number): string | undefined {
  const perm = new FeistelPermutation(size, seed);
  return mappingProblem(size, (i) => perm.at(i), `size ${size} seed ${seed}`);
}

/** Checks that at(0..size-1) hits every value of [0, size) exactly once. */
export function mappingProblem(size: number, at: (i: number) => number, label = `size ${size}`): string | undefined {
  const seen = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const v = at(i);
    if (!Number.isInteger(v) || v < 0 || v >= size) return `${label}: at(${i}) = ${v} is out of range`;
    if (seen[v]) return `${label}: value ${v} produced twice`;
    seen[v] = 1;
  }
  return undefined;
}
