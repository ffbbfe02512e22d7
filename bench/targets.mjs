#!/usr/bin/env node
/**
 * Benchmark of the targets stage, run exactly as a user runs it (after `npm run build`):
 *
 *   prtip targets 198.18.0.0/15 -p 1-100  > /dev/null    13.1M probes: rate (probes/s)
 *   prtip targets 198.18.0.0/24 -p 1-1000 > /dev/null    256k probes: the memory baseline
 *
 * Each command runs under /usr/bin/time (wall time, peak RSS of the whole process), `--runs N`
 * times (default 3); the median is reported. Goals (issue 2): ≥ 2M probes/s for the /15, and its
 * peak RSS within 1.3× of the /24 run (memory must not grow with the target space).
 * No packet is sent: targets only expands specs into probe records.
 *
 *   node bench/targets.mjs [--runs N] [--json] [--long]   (--long adds /15 × 1000: 131M probes)
 */
import { spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../packages/oclif-cli/bin/run.js', import.meta.url));
const arg = (flag, dflt) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const runs = Number(arg('--runs', '3'));
const CASES = [
  { name: '/15 x 100', args: ['198.18.0.0/15', '-p', '1-100'], probes: 131072 * 100 },
  { name: '/24 x 1000', args: ['198.18.0.0/24', '-p', '1-1000'], probes: 256 * 1000 },
];
if (process.argv.includes('--long')) CASES.push({ name: '/15 x 1000', args: ['198.18.0.0/15', '-p', '1-1000'], probes: 131072 * 1000 });

function sample(c) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, bin, 'targets', ...c.args], {
    stdio: ['ignore', openSync('/dev/null', 'w'), 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status}: ${r.stderr}`);
  const [seconds, rssKB] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { seconds, rssKB };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = CASES.map((c) => {
  const s = Array.from({ length: runs }, () => sample(c));
  const seconds = median(s.map((x) => x.seconds));
  return { name: c.name, probes: c.probes, seconds, rate: c.probes / seconds, rssKB: median(s.map((x) => x.rssKB)) };
});
const [big, small] = results;
const ratio = big.rssKB / small.rssKB;
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ results, rssRatio: ratio }, null, 2));
} else {
  for (const r of results) {
    console.log(`${r.name.padEnd(12)} ${r.probes.toLocaleString('en-US').padStart(13)} probes  ${r.seconds.toFixed(2)} s  ` +
      `${(r.rate / 1e6).toFixed(2)} M probes/s  peak RSS ${(r.rssKB / 1024).toFixed(1)} MiB`);
  }
  console.log(`peak RSS ratio /15x100 : /24x1000 = ${ratio.toFixed(3)} (goal <= 1.3); /15 rate ${(big.rate / 1e6).toFixed(2)} M/s (goal >= 2)`);
}
