#!/usr/bin/env node
// `npm run bench [-- NAME[,NAME…] [options…]]`: runs bench/NAME.mjs with the options (every
// bench when no name is given). Build first (`npm run build`); most benches need root for the lab.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir).filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -4)).sort();
const [first, ...rest] = process.argv.slice(2);
const named = first !== undefined && !first.startsWith('-');
const chosen = named ? first.split(',') : all;
const options = named ? rest : process.argv.slice(2);
for (const name of chosen) {
  if (!all.includes(name)) {
    console.error(`bench: no bench/${name}.mjs (have: ${all.join(', ')})`);
    process.exit(1);
  }
}
let failed = 0;
for (const name of chosen) {
  console.log(`\n== bench/${name}.mjs ${options.join(' ')}`);
  const r = spawnSync(process.execPath, [`${dir}${name}.mjs`, ...options], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
