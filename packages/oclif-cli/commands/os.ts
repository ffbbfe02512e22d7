import { formatRecords } from '../../../stages/format/index.js';
import { osRecords } from '../../../stages/os/index.js';
import { UserInputError } from '../../../stages/records/index.js';
import { commandHelp, PrtipCommand, refuseTerminalOnlyFlags } from '../lib/base-command.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';
import { drain, interruptController, stdinRecords, writeRecordsToStdout } from '../lib/io.js';
import { formatOptions, osOptions } from '../lib/stage-options.js';

const GROUPS: FlagGroup[] = ['os', 'probedb', 'timing', 'output', 'misc'];

const REFUSED: Record<string, string> = {
  '-O': 'prtip os always detects the OS',
  '-A': 'it is prtip scan -A (-O -sV -sC --traceroute); in a pipe: prtip send | prtip detect | prtip os | prtip script',
  '--max-retries': 'OS probe rounds are set by --max-os-tries',
  '--max-rtt-timeout': 'it sets how prtip send waits', '--max-parallelism': 'it sets how prtip send probes',
  '--max-rate': 'it sets how prtip send probes', '--rate': 'it sets how prtip send probes', '--min-rate': 'it sets how prtip send probes',
  '--wait': 'it sets how prtip send waits', '--max-scan-delay': 'it sets how prtip send probes UDP',
  '-v': 'live "Discovered open port" lines come from prtip send or prtip scan',
};

export default class Os extends PrtipCommand {
  static override summary = 'OS-detect the hosts read on stdin (nmap -O) and emit os records';
  static override description = commandHelp(
    'prtip targets … | prtip send -sS … | prtip os [options] | prtip format …',
    'Reads host and port records on stdin, passes them through, and after the last one sends\n' +
      "nmap's 16 IPv4 OS probes to every up host (an open and a closed TCP port from the port\n" +
      'records, else nmap\'s fallbacks; a closed UDP port for U1), several hosts at once, in up to\n' +
      '--max-os-tries rounds. Writes an os record per host: matches from DATADIR/nmap-os-db, the\n' +
      'fingerprint in nmap\'s submission format, distance, uptime and sequence classes. Needs root.\n' +
      'IPv6 hosts get nmap\'s IPv6 probe set and print (SCAN E=6, the replies in hex) and no matches:\n' +
      'nmap classifies IPv6 with a model compiled into its binary, not a data file prtip can read.',
    GROUPS,
    [
      'sudo prtip targets 198.18.0.7 -p 22,80,81 | sudo prtip send -sS | sudo prtip os | prtip format',
      'sudo prtip targets 198.18.0.7 -p 80,81 | sudo prtip send -sS | sudo prtip os --osscan-guess --max-os-tries 2 | prtip format -oX os.xml',
    ],
    REFUSED,
  );

  protected readonly commandName = 'os';
  protected readonly groups = GROUPS;
  protected override readonly refused = REFUSED;

  protected async main(o: CliOptions): Promise<void> {
    if (o.outputs.length > 0) {
      throw new UserInputError('output files are written by prtip format (or prtip scan): … | prtip os | prtip format -oN FILE');
    }
    refuseTerminalOnlyFlags(o, 'os');
    o.osDetect = true;
    const interrupt = interruptController();
    const warn = (m: string) => process.stderr.write(`prtip: warning: ${m}\n`);
    const records = osRecords(osOptions(o, [this.commandLine()], interrupt.signal, warn))(stdinRecords('os'));
    if (process.stdout.isTTY) await drain(formatRecords(formatOptions(o, [{ format: 'normal', path: '-' }]))(records));
    else await writeRecordsToStdout(records);
  }
}
