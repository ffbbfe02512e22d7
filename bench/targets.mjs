#!/usr/bin/env node
/**
 * Benchmark of the targets stage (run after `npx tsc -p .`): generation + msgpack encoding to
 * /dev/null, each case in its own child process so peak RSS is that case's alone.
 *
 * Acceptance goals: 198.18.0.0/15 × ports 1-100 (13.1M probes) at ≥ 2M probes/s, and its peak
 * RSS within 1.3× of a 198.18.0.0/24 × 1-1000 run (memory must not grow with the target space).
 *
 *   node bench/targets.mjs            run both cases, print figures, exit 1 if a goal is missed
 *   node bench/targets.mjs --json     same, figures as JSON
 *   node bench/targets.mjs --batch N  override the batch size (default: the stage's own default)
 *   node bench/targets.mjs --long     add a 10x longer case, to show RSS does not grow with the run
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argValue = (flag) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const batchSize = argValue('--batch') === undefined ? undefined : Number(argValue('--batch'));
const CASES = [
  { name: '/15 x 100', specs: ['198.18.0.0/15'], ports: '1-100', batchSize },
  { name: '/24 x 1000', specs: ['198.18.0.0/24'], ports: '1-1000', batchSize },
];
if (process.argv.includes('--long')) CASES.push({ name: '/15 x 1000', specs: ['198.18.0.0/15'], ports: '1-1000', batchSize });
const MIN_RATE = 2_000_000;
const MAX_RSS_RATIO = 1.3;

async function runCase(c) {
  const { createTargetsStage } = await import(join(root, 'dist/stages/targets/index.js'));
  const { createRecordEncoder } = await import(join(root, 'dist/stages/records/index.js'));
  let probes = 0;
  const stage = createTargetsStage({ specs: c.specs, ports: c.ports, seed: 1, args: ['bench'], batchSize: c.batchSize });
  stage.on('data', (r) => {
    if (r.type === 'probes') probes += r.count;
  });
  const t0 = process.hrtime.bigint();
  await pipeline(stage, createRecordEncoder(), createWriteStream('/dev/null'));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { name: c.name, probes, seconds, rate: probes / seconds, maxRssKB: process.resourceUsage().maxRSS };
}

if (process.argv[2] === '--child') {
  const result = await runCase(JSON.parse(process.argv[3]));
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  const results = CASES.map((c) =>
    JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(c)], { encoding: 'utf8' })),
  );
  const [big, small] = results;
  const ratio = big.maxRssKB / small.maxRssKB;
  const ok = big.rate >= MIN_RATE && ratio <= MAX_RSS_RATIO;
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ results, rssRatio: ratio, ok }, null, 2));
  } else {
    for (const r of results) {
      console.log(
        `${r.name.padEnd(12)} ${r.probes.toLocaleString('en-US').padStart(12)} probes  ${r.seconds.toFixed(2)} s  ` +
          `${(r.rate / 1e6).toFixed(2)} M probes/s  peak RSS ${(r.maxRssKB / 1024).toFixed(1)} MiB`,
      );
    }
    console.log(`RSS ratio (/15 x 100 vs /24 x 1000): ${ratio.toFixed(2)} (goal ≤ ${MAX_RSS_RATIO})`);
    console.log(`rate goal ≥ ${MIN_RATE / 1e6}M probes/s: ${big.rate >= MIN_RATE ? 'met' : 'MISSED'}; RSS goal: ${ratio <= MAX_RSS_RATIO ? 'met' : 'MISSED'}`);
  }
  process.exitCode = ok ? 0 : 1;
}
