import { runScan } from '../../../pipelines/scan.js';
import { UserInputError } from '../../../stages/records/index.js';
import { commandHelp, PrtipCommand } from '../lib/base-command.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';
import { interruptController } from '../lib/io.js';
import { detectOptions, formatOptions, sendOptions, targetsOptions } from '../lib/stage-options.js';
import { verboseObserver } from '../lib/verbose.js';

const GROUPS: FlagGroup[] = ['targets', 'ports', 'scan', 'discovery', 'version', 'timing', 'output', 'misc'];

export default class Scan extends PrtipCommand {
  static override summary = 'Run a whole scan in one process (targets → send → [detect] → format)';
  static override description = commandHelp(
    'prtip [scan] [options] TARGET...',
    'Scans the targets with the same stages the pipe runs, in one process, and prints the\n' +
      'normal report on stdout (plus any -oN/-oD files). nmap spellings are accepted; options\n' +
      'prtip does not implement yet are refused by name.',
    GROUPS,
    ['prtip scan -sT -p 1-1024 198.18.0.0/24', 'prtip scan -sV -p 22,80,443 198.18.0.7', 'prtip -sT -F --open -oD results.jsonl 198.18.0.7', 'prtip scan -sT -p- -T4 -oN all.txt 198.18.0.7'],
  );

  protected readonly commandName = 'scan';
  protected readonly groups = GROUPS;
  protected override readonly takesTargets = true;

  protected async main(o: CliOptions): Promise<void> {
    const uPorts = o.ports !== undefined && /(^|,)\s*[US]:/i.test(o.ports);
    if (uPorts) {
      throw new UserInputError(`-p "${o.ports}" asks for UDP/SCTP ports, but prtip scans TCP only for now (-sT)`);
    }
    const interrupt = interruptController();
    const warn = (m: string) => process.stderr.write(`prtip: warning: ${m}\n`);
    const args = [this.commandLine()];
    const outputs = o.outputs.some((x) => x.path === '-') ? o.outputs : [...o.outputs, { format: 'normal' as const, path: '-' }];
    await runScan({
      targets: targetsOptions(o, args, interrupt.signal),
      send: sendOptions(o, [], interrupt.signal, warn),
      format: formatOptions(o, outputs),
      detect: o.versionDetect ? detectOptions(o, [], interrupt.signal, warn) : undefined,
      observe: verboseObserver(o.verbose),
    });
  }
}
