#!/usr/bin/env node
// prtip's entry point. `prtip -sT -p 80 host` (nmap style, no command) runs `prtip scan`.
import { Config, run, handle, flush } from '@oclif/core';

const root = new URL('../../../', import.meta.url);
const argv = process.argv.slice(2);
const config = await Config.load(root.pathname);
const first = argv[0];
const asksForHelpOrVersion = first === undefined || ['--help', '-h', 'help', '--version', '-V'].includes(first);
if (!asksForHelpOrVersion && !config.findCommand(first) && !config.findTopic(first)) argv.unshift('scan');
await run(argv, config).then(() => flush()).catch((err) => handle(err));
