#!/usr/bin/env node
// npm run build:native: the preflight (native/preflight.mjs), then node-gyp. When the preflight
// finds something missing (libpcap's headers, a compiler), the build still finishes without the
// native engine: the connect scan (-sT), -sV, scripts, outputs and the database need no native
// code, and raw scan types are refused at run time with the package to install. One line says so
// here. PRTIP_REQUIRE_NATIVE=1 makes the missing part an error instead (exit 1).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pre = spawnSync(process.execPath, [path.join(here, 'preflight.mjs')], { encoding: 'utf8' });
if (pre.status !== 0) {
  // The preflight's line: "prtip build: WHAT: install PKG (how)".
  const line = (pre.stderr || `prtip build: preflight failed (${pre.status ?? pre.signal})`).trim().split('\n')[0];
  const [, what = line, fix] = /^prtip build: (.*?)(?:: install (.*))?$/.exec(line) ?? [];
  if (process.env.PRTIP_REQUIRE_NATIVE === '1') {
    process.stderr.write(`${line}\n`);
    process.exit(1);
  }
  // No stale engine from an earlier build may stay behind: what runs is what this build made.
  fs.rmSync(path.join(here, 'build'), { recursive: true, force: true });
  process.stderr.write(
    `prtip build: ${what}: building WITHOUT the native engine (-sT, -sV, scripts, outputs and the database work; raw scans -sS, -sU, -O … need it)` +
      `${fix ? `: install ${fix} and run npm run build` : ''}\n`,
  );
  process.exit(0);
}
const gyp = spawnSync(process.execPath, [path.join(here, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'rebuild', `--directory=${here}`], { stdio: 'inherit' });
process.exit(gyp.status ?? 1);
