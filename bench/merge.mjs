#!/usr/bin/env node
/**
 * The merge stage's memory bound (run after `npx tsc -p .`): N port records (default 2M, every
 * (ip, port) observed twice, in random order) through stages/merge with spilling (default
 * 100k records in memory) and without (everything in memory), each in its own child process so
 * peak RSS is that run's alone. The spilling run gets a 96 MB heap cap (and finishes); the
 * in-memory run is tried under the same cap too (and runs out of memory). Prints records/s and
 * peak RSS of both and their ratios.
 *
 *   node bench/merge.mjs [--records N] [--memory N] [--json]
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (f, d) => {
  const i = process.argv.indexOf(f);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const N = arg('--records', 2_000_000);
const MEMORY = arg('--memory', 100_000);

if (process.argv[2] === '--child') {
  const memoryRecords = Number(process.argv[3]);
  const n = Number(process.argv[4]);
  const { mergeRecords } = await import(path.join(root, 'dist/stages/merge/index.js'));
  const { newHeader, newTrailer } = await import(path.join(root, 'dist/stages/records/index.js'));
  const half = n / 2;
  async function* src() {
    yield newHeader(['bench']);
    // Position i of a fixed permutation of 0..n-1 (multiplicative, odd step): each key twice.
    for (let i = 0; i < n; i++) {
      const k = (i * 2654435761) % n % half;
      const host = Math.floor(k / 1000);
      yield {
        type: 'port', ip: `198.18.${(host >> 8) & 255}.${host & 255}`, port: 1 + (k % 1000), proto: 'tcp',
        state: i & 1 ? 'open' : 'closed', reason: 'x', ttl: 64, rtt: 0.3, time: i,
      };
    }
    yield newTrailer(false);
  }
  const t0 = process.hrtime.bigint();
  let out = 0;
  for await (const r of mergeRecords({ memoryRecords })(src())) if (r.type === 'port') out++;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ seconds: s, out, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

const HEAP_MB = 96;
const run = (mem, heapMB) => JSON.parse(execFileSync(process.execPath, [
  ...(heapMB ? [`--max-old-space-size=${heapMB}`] : []), fileURLToPath(import.meta.url), '--child', String(mem), String(N),
], { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'ignore'] }));
// The bound, shown by a heap cap: spilling finishes within it; holding everything does not.
const spilled = run(MEMORY, HEAP_MB);
const inMemory = run(N + 1);
let inMemoryCapped = 'completed';
try {
  run(N + 1, HEAP_MB);
} catch {
  inMemoryCapped = 'out of memory';
}
if (spilled.out !== N / 2 || inMemory.out !== N / 2) throw new Error(`expected ${N / 2} merged records, got ${spilled.out} / ${inMemory.out}`);
const figures = {
  records: N, merged: N / 2,
  spilled: { memoryRecords: MEMORY, seconds: +spilled.seconds.toFixed(2), recordsPerSecond: Math.round(N / spilled.seconds), peakRssMB: Math.round(spilled.maxRssMB) },
  inMemory: { seconds: +inMemory.seconds.toFixed(2), recordsPerSecond: Math.round(N / inMemory.seconds), peakRssMB: Math.round(inMemory.maxRssMB) },
};
figures.spilled.heapCapMB = HEAP_MB;
figures.inMemory.withHeapCap = inMemoryCapped;
figures.rssRatio = +(figures.spilled.peakRssMB / figures.inMemory.peakRssMB).toFixed(2);
figures.speedRatio = +(figures.spilled.recordsPerSecond / figures.inMemory.recordsPerSecond).toFixed(2);
if (process.argv.includes('--json')) console.log(JSON.stringify(figures));
else {
  console.log(`${N.toLocaleString('en')} port records, each (ip, port) twice → ${(N / 2).toLocaleString('en')} merged`);
  console.log(`spilled (${MEMORY.toLocaleString('en')} in memory, heap capped at ${HEAP_MB} MB): ${figures.spilled.seconds} s, ${figures.spilled.recordsPerSecond.toLocaleString('en')} rec/s, peak RSS ${figures.spilled.peakRssMB} MB`);
  console.log(`all in memory: ${figures.inMemory.seconds} s, ${figures.inMemory.recordsPerSecond.toLocaleString('en')} rec/s, peak RSS ${figures.inMemory.peakRssMB} MB; with the same heap cap: ${inMemoryCapped}`);
  console.log(`spilled / in-memory: RSS ${figures.rssRatio}, speed ${figures.speedRatio}`);
}
