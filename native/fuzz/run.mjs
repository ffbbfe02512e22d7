#!/usr/bin/env node
// npm run fuzz:native [-- --seconds N] [-- --target NAME]: builds the libFuzzer targets of the
// native parsers (native/fuzz/*.cc) with clang-14 (-fsanitize=fuzzer,address,undefined) and runs
// each for N seconds (default 30), corpora kept in native/build/fuzz/corpus-NAME. Exit 1 with the
// crashing input's path when a target finds a crash, a leak or undefined behaviour.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, '..', 'src');
const out = path.join(here, '..', 'build', 'fuzz');
const TARGETS = ['parse-frame', 'parse-l4', 'build-frames'];
// The native sources the parsers and builders live in: plain C++, no Node-API, no libpcap.
// Every proto-*.cc: wire-ip.cc's protocol table refers to all of them.
const SOURCES = ['wire-ip.cc', ...fs.readdirSync(src).filter((f) => /^proto-.*\.cc$/.test(f)).sort(), 'siphash.cc', 'checksum.cc'];

function usage(msg) {
  process.stderr.write(`prtip fuzz: ${msg}\nusage: npm run fuzz:native [-- --seconds N] [-- --target ${TARGETS.join('|')}]\n`);
  process.exit(2);
}
let seconds = 30;
let only;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--seconds') {
    seconds = Number(argv[++i]);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 86400) usage(`--seconds wants whole seconds (1–86400), got "${argv[i]}"`);
  } else if (argv[i] === '--target') {
    only = argv[++i];
    if (!TARGETS.includes(only)) usage(`unknown target "${only}"`);
  } else usage(`unknown option "${argv[i]}"`);
}

const cxx = process.env.FUZZ_CXX || 'clang++-14';
if (spawnSync(cxx, ['--version'], { stdio: 'ignore' }).status !== 0) {
  process.stderr.write(`prtip fuzz: no ${cxx}: install clang-14 and libclang-rt-14-dev (npm run setup -- --tests)\n`);
  process.exit(1);
}
const FLAGS = ['-std=c++17', '-g', '-O1', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined'];
fs.mkdirSync(out, { recursive: true });

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`prtip fuzz: ${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})\n`);
    process.exit(1);
  }
}
const newer = (a, b) => fs.existsSync(b) && fs.statSync(b).mtimeMs >= fs.statSync(a).mtimeMs;

// The sources once, instrumented for coverage (fuzzer-no-link), then one link per target.
const objects = SOURCES.map((s) => {
  const o = path.join(out, s.replace(/\.cc$/, '.o'));
  if (!newer(path.join(src, s), o) || !newer(path.join(src, 'wire.h'), o)) {
    run(cxx, [...FLAGS, '-fsanitize=fuzzer-no-link', '-c', path.join(src, s), '-o', o]);
  }
  return o;
});
let failed = 0;
for (const name of only ? [only] : TARGETS) {
  const bin = path.join(out, name);
  run(cxx, [...FLAGS, '-fsanitize=fuzzer', path.join(here, `${name}.cc`), ...objects, '-o', bin]);
  const corpus = path.join(out, `corpus-${name}`);
  fs.mkdirSync(corpus, { recursive: true });
  const crashes = path.join(out, `crash-${name}-`);
  process.stdout.write(`prtip fuzz: ${name} for ${seconds} s\n`);
  const r = spawnSync(bin, [`-max_total_time=${seconds}`, '-timeout=10', '-rss_limit_mb=1024', `-artifact_prefix=${crashes}`, '-print_final_stats=1', corpus],
    { encoding: 'utf8', env: { ...process.env, UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1', ASAN_OPTIONS: 'detect_leaks=1' } });
  const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(r.stderr ?? '')?.[1] ?? '?';
  if (r.status !== 0) {
    failed++;
    process.stderr.write(r.stderr.split('\n').slice(-60).join('\n'));
    process.stderr.write(`prtip fuzz: ${name} FAILED after ${runs} runs; the input is under ${crashes}*\n`);
  } else process.stdout.write(`prtip fuzz: ${name}: ${runs} runs, no crash\n`);
}
process.exit(failed ? 1 : 0);
