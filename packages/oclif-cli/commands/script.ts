import { join } from 'node:path';
import { formatRecords } from '../../../stages/format/index.js';
import { resolveDatadir } from '../../../stages/datafiles/index.js';
import { UserInputError } from '../../../stages/records/index.js';
import { readScriptDb, scriptHelp, scriptRecords, selectScripts } from '../../../stages/script/index.js';
import { commandHelp, PrtipCommand, refuseTerminalOnlyFlags } from '../lib/base-command.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';
import { drain, interruptController, stdinRecords, writeRecordsToStdout } from '../lib/io.js';
import { formatOptions, scriptOptions } from '../lib/stage-options.js';

const GROUPS: FlagGroup[] = ['script', 'timing', 'output', 'misc'];

const REFUSED: Record<string, string> = {
  '--max-retries': 'it sets how prtip send probes', '--max-rtt-timeout': 'it sets how prtip send probes',
  '--max-parallelism': 'it sets how prtip send probes', '--max-rate': 'it sets how prtip send probes',
  '--rate': 'it sets how prtip send probes', '--min-rate': 'it sets how prtip send probes', '--wait': 'it sets how prtip send probes',
};

/** --script-help: the selected scripts' descriptions on stdout. */
export function printScriptHelp(o: CliOptions): void {
  const dir = join(resolveDatadir(o.datadir), 'scripts');
  const db = readScriptDb(dir);
  process.stdout.write(scriptHelp(selectScripts(o.scriptHelp ?? 'default', dir, db), db));
}

/** Script flags only mean something when scripts run: refused, not ignored, otherwise. */
export { refuseScriptFlagsWithoutScripts } from '../lib/script-flags.js';

export default class Script extends PrtipCommand {
  static override summary = 'Run Nmap\'s NSE scripts against the hosts and ports read on stdin (-sC, --script)';
  static override description = commandHelp(
    'prtip targets … | prtip send … | prtip detect | prtip script [--script SPEC] | prtip format …',
    'Reads host, port and service records on stdin and runs the selected NSE scripts (default:\n' +
      'the "default" category, as -sC) — Nmap\'s own, read at run time from DATADIR/scripts with\n' +
      'their libraries from DATADIR/nselib — in a sandboxed Lua 5.4: no files beyond those\n' +
      'directories, no processes, connections only to the hosts and ports the scan found, a\n' +
      'memory cap, and a time budget per script per target (--script-timeout). Writes every\n' +
      'record through, plus a script record per result (id, output, structured elements).',
    GROUPS,
    [
      'prtip targets 198.18.0.7 -p 21,22,80,443 | prtip send -sT | prtip detect | prtip script | prtip format',
      'prtip targets 198.18.0.7 -p 80 | prtip send -sT | prtip script --script "http-* and safe" | prtip format -oX -',
      'prtip script --script-help ssl-cert',
    ],
    REFUSED,
  );

  protected readonly commandName = 'script';
  protected readonly groups = GROUPS;
  protected override readonly refused = REFUSED;

  protected async main(o: CliOptions): Promise<void> {
    if (o.scriptHelp !== undefined) return printScriptHelp(o);
    if (o.outputs.length > 0) {
      throw new UserInputError('output files are written by prtip format (or prtip scan): … | prtip script | prtip format -oN FILE');
    }
    refuseTerminalOnlyFlags(o, 'script');
    const interrupt = interruptController();
    const warn = (m: string) => process.stderr.write(`prtip: warning: ${m}\n`);
    const records = scriptRecords(scriptOptions(o, [this.commandLine()], interrupt.signal, warn))(stdinRecords('script'));
    if (process.stdout.isTTY) await drain(formatRecords(formatOptions(o, [{ format: 'normal', path: '-' }]))(records));
    else await writeRecordsToStdout(records);
  }
}
