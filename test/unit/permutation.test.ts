import t from 'tap';
import {
  FeistelPermutation,
  bijectionProblem,
  mappingProblem,
  feistelSelfTest,
} from '../../stages/targets/rand-feistel.js';

/** A small seeded PRNG (mulberry32) so the "random sizes" are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('self-test passes', async (t) => {
  t.equal(feistelSelfTest(), undefined);
});

t.test('bijection for many sizes', async (t) => {
  const primes = [5, 7, 11, 13, 31, 101, 251, 257, 65_537, 131_071];
  const powers = [1, 2, 4, 8, 64, 1024, 4096, 65_536, 262_144, 1 << 20];
  const fixed = [1, 2, 3, 6, 10, 99, 100, 1000, 9999, 65_535, 1_000_000];
  const random = rng(7);
  const randomSizes = Array.from({ length: 12 }, () => 1 + Math.floor(random() * (1 << 20)));
  for (const size of [...fixed, ...primes, ...powers, ...randomSizes]) {
    for (const seed of [0, 12345]) {
      t.equal(bijectionProblem(size, seed), undefined, `size ${size} seed ${seed}`);
    }
  }
});

t.test('the checker catches mappings that are not bijections', async (t) => {
  t.match(mappingProblem(10, (i) => i % 9), /produced twice/);
  t.match(mappingProblem(10, (i) => i + 1), /out of range/);
  t.equal(mappingProblem(10, (i) => 9 - i), undefined);
});

t.test('same seed same order, different seeds different orders', async (t) => {
  const n = 50_000;
  const a = new FeistelPermutation(n, 99);
  const b = new FeistelPermutation(n, 99);
  const c = new FeistelPermutation(n, 100);
  let same = 0;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    if (a.at(i) === b.at(i)) same++;
    if (a.at(i) === c.at(i)) agree++;
  }
  t.equal(same, n, 'same seed reproduces the order');
  t.ok(agree < n / 100, `different seeds agree on only ${agree} positions`);
  const orders = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const p = new FeistelPermutation(8, seed);
    orders.add(Array.from({ length: 8 }, (_, i) => p.at(i)).join(','));
  }
  t.ok(orders.size >= 15, `20 seeds gave ${orders.size} distinct orders of 8 elements`);
});

t.test('the order looks scrambled, not sequential', async (t) => {
  const n = 1 << 16;
  const p = new FeistelPermutation(n, 5);
  let ascending = 0;
  let sumGap = 0;
  for (let i = 1; i < n; i++) {
    if (p.at(i) === p.at(i - 1) + 1) ascending++;
    sumGap += Math.abs(p.at(i) - p.at(i - 1));
  }
  t.ok(ascending < 50, `only ${ascending} consecutive steps`);
  // For a uniform random order the mean gap is about n/3.
  const meanGap = sumGap / (n - 1);
  t.ok(meanGap > n / 4 && meanGap < n / 2.5, `mean gap ${meanGap.toFixed(0)} near ${Math.round(n / 3)}`);
});

t.test('large sizes stay in range and are deterministic', async (t) => {
  const n = 2 ** 47 + 12345;
  const p = new FeistelPermutation(n, 3);
  const seen = new Set<number>();
  let bad = 0;
  for (let i = 0; i < 10_000; i++) {
    const v = p.at(n - 1 - i);
    if (!(Number.isSafeInteger(v) && v >= 0 && v < n)) bad++;
    seen.add(v);
  }
  t.equal(bad, 0, 'every value in range');
  t.equal(seen.size, 10_000, 'no repeats in a sample');
  t.throws(() => new FeistelPermutation(2 ** 53, 1), RangeError);
  t.throws(() => new FeistelPermutation(-1, 1), RangeError);
});

t.test('size zero has nothing to permute', async (t) => {
  t.equal(new FeistelPermutation(0, 1).size, 0);
});
