#!/usr/bin/env -S node --max-semi-space-size=4
// prtip's entry point. `prtip -sT -p 80 host` (nmap style, no command) runs `prtip scan`.
// --max-semi-space-size=4 (MiB): a scan allocates records at a high, steady rate, and V8 would
// otherwise grow its young generation to 2 × 16 MiB; capped, a /16 sweep stays within 1.2× the
// memory of a /24 one at the same speed (bench/syn.ts, case memory).
import { Config, run, handle, flush } from '@oclif/core';

const root = new URL('../../../', import.meta.url);
const argv = process.argv.slice(2);
const config = await Config.load(root.pathname);
const first = argv[0];
const asksForHelpOrVersion = first === undefined || ['--help', '-h', 'help', '--version', '-V'].includes(first);
if (!asksForHelpOrVersion && !config.findCommand(first) && !config.findTopic(first)) argv.unshift('scan');
await run(argv, config).then(() => flush()).catch((err) => handle(err));
// Done: exit once stdout and stderr have taken everything, instead of waiting for V8 to tear a big
// heap down and for idle handles (sockets, timers, DuckDB's threads) to go: "prtip done" → exit
// in milliseconds (bench/memory.ts measures it).
const drained = (stream) => new Promise((resolve) => (stream.writableLength === 0 ? resolve() : stream.write('', resolve)));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit();
