#!/usr/bin/env node
/**
 * OS matching speed (run after `npm run build`; no root, no packets): parses the installed
 * nmap-os-db (or --datadir DIR) and matches a Linux-like fingerprint against every reference,
 * N times. Prints the parse time and the per-fingerprint match time (min / median / max).
 * nmap has no match-only mode to run beside it; the figure to compare is nmap's whole -O (seconds).
 *
 *   node bench/os-match.mjs [--runs N] [--datadir DIR] [--json]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (f, d) => {
  const i = argv.indexOf(f);
  return i >= 0 ? argv[i + 1] : d;
};
const runs = Number(opt('--runs', 50));
const datadir = opt('--datadir', undefined);
const { loadOsDb, clearOsDbCache } = await import(path.join(root, 'dist/stages/datafiles/index.js'));
const { firstRound, matchFingerprint, parseSubmission } = await import(path.join(root, 'dist/stages/os/index.js'));

// A fingerprint of the kind a Linux 5.x host gives (hand-written, not taken from the database).
const FP = `SEQ(SP=105%GCD=1%ISR=10B%TI=Z%CI=Z%II=I%TS=22)
OPS(O1=M5B4ST11NWA%O2=M5B4ST11NWA%O3=M5B4NNT11NWA%O4=M5B4ST11NWA%O5=M5B4ST11NWA%O6=M5B4ST11)
WIN(W1=FE88%W2=FE88%W3=FE88%W4=FE88%W5=FE88%W6=FE88)
ECN(R=Y%DF=Y%T=40%W=FAF0%O=M5B4NNSNWA%CC=Y%Q=)
T1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)
T2(R=N)
T3(R=N)
T4(R=Y%DF=Y%T=40%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)
T5(R=Y%DF=Y%T=40%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)
T6(R=Y%DF=Y%T=40%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)
T7(R=Y%DF=Y%T=40%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)
U1(R=Y%DF=N%T=40%IPL=164%UN=0%RIPL=G%RID=G%RIPCK=G%RUCK=G%RUD=G)
IE(R=Y%DFI=N%T=40%CD=S)`;

clearOsDbCache();
let t0 = performance.now();
const db = loadOsDb(datadir);
const parseMs = performance.now() - t0;
const fp = firstRound(parseSubmission(FP).tests);
const times = [];
let top;
for (let i = 0; i < runs; i++) {
  t0 = performance.now();
  const m = matchFingerprint(db, fp);
  times.push(performance.now() - t0);
  top = m.matches[0];
}
times.sort((a, b) => a - b);
const result = {
  references: db.references.length, distinctLines: db.distinctTests, parseMs: Math.round(parseMs),
  matchMs: { min: +times[0].toFixed(2), median: +times[Math.floor(runs / 2)].toFixed(2), max: +times[runs - 1].toFixed(2) },
  top: top ? `${top.reference.name} (${Math.floor(top.accuracy * 100)}%)` : null,
};
if (argv.includes('--json')) console.log(JSON.stringify(result));
else {
  console.log(`nmap-os-db: ${result.references} references, ${result.distinctLines} distinct test lines, parsed in ${result.parseMs} ms`);
  console.log(`match one fingerprint against all: min ${result.matchMs.min} ms, median ${result.matchMs.median} ms, max ${result.matchMs.max} ms (${runs} runs; top ${result.top})`);
}
