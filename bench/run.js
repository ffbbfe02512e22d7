#!/usr/bin/env node
// `npm run bench [NAME...] [-- options]`: runs bench/NAME.mjs for each name (all when none given).
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir).filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -4)).sort();
const names = process.argv.slice(2).filter((a) => !a.startsWith('-') && !/^\d+$/.test(a));
const options = process.argv.slice(2).filter((a) => a.startsWith('-') || /^\d+$/.test(a));
const chosen = names.length ? names : all;
let failed = 0;
for (const name of chosen) {
  if (!all.includes(name)) {
    console.error(`bench: no bench/${name}.mjs (have: ${all.join(', ')})`);
    process.exit(1);
  }
  console.log(`\n== bench/${name}.mjs`);
  const r = spawnSync(process.execPath, [`${dir}${name}.mjs`, ...options], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
