import { formatRecords } from '../../../stages/format/index.js';
import { createPacketTrace, UserInputError } from '../../../stages/records/index.js';
import { sendRecords } from '../../../stages/send/index.js';
import { commandHelp, PrtipCommand, refuseTerminalOnlyFlags } from '../lib/base-command.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';
import { drain, interruptController, lossWatch, stdinRecords, warnLine, writeRecordsToStdout } from '../lib/io.js';
import { formatOptions, sendOptions } from '../lib/stage-options.js';
import { verboseObserver } from '../lib/verbose.js';

const GROUPS: FlagGroup[] = ['scan', 'evasion', 'discovery', 'timing', 'output', 'interaction'];
const REFUSED: Record<string, string> = {
  '--tui': 'the dashboard is prtip scan --tui; in a pipe, prtip format shows the status records of --stats-every',
  '-sL': 'the list scan sends nothing: it is prtip scan -sL (or prtip -sL)',
  '--traceroute': 'traceroute runs after the whole port scan: use prtip scan --traceroute',
};

export default class Send extends PrtipCommand {
  static override summary = 'Probe the targets read on stdin and emit port records';
  static override description = commandHelp(
    'prtip targets … | prtip send [options] | prtip format …',
    'Reads probe batches on stdin, probes each (address, port), and writes port and host\n' +
      'records (msgpack); every other record passes through. On a terminal it prints a report.\n' +
      'Scan types: -sS (TCP SYN, raw packets; the default with root or CAP_NET_RAW),\n' +
      '-sT (TCP connect; the default without). --stats-every TIME adds status records (live\n' +
      'counters) to the stream, which prtip format shows.',
    GROUPS,
    [
      'prtip targets 198.18.0.0/24 -p 1-1024 | prtip send -sT -T4 | prtip format -oD results.jsonl',
      'prtip targets 198.18.0.0/16 -p 80 | prtip send -sS --rate 100k | prtip format -oN -',
    ],
    REFUSED,
  );

  protected readonly commandName = 'send';
  protected readonly groups = GROUPS;
  protected override readonly refused = REFUSED;

  protected async main(o: CliOptions): Promise<void> {
    if (o.outputs.length > 0) {
      throw new UserInputError(
        'output files are written by prtip format (or prtip scan): prtip targets … | prtip send | prtip format -oN FILE',
      );
    }
    refuseTerminalOnlyFlags(o, 'send');
    const interrupt = interruptController();
    const warn = warnLine;
    const observe = verboseObserver(o.verbose);
    const sendOpts = sendOptions(o, [this.commandLine()], interrupt.signal, warn);
    // A stage's stdout is its record stream: the trace goes to stderr.
    if (o.packetTrace) sendOpts.packetTrace = createPacketTrace({ enabled: () => true, out: (t) => process.stderr.write(t), onWarning: warn });
    // --stats-every: status records go downstream with the others (prtip format shows them).
    sendOpts.statusEveryMs = o.statsEveryMs;
    const send = sendRecords(sendOpts);
    const input = stdinRecords('send');
    const losses = lossWatch();
    const records = losses.wrap(observe
      ? (async function* () { for await (const r of send(input)) { observe(r); yield r; } })()
      : send(input));
    if (process.stdout.isTTY) await drain(formatRecords(formatOptions(o, [{ format: 'normal', path: '-' }]))(records));
    else await writeRecordsToStdout(records);
    losses.settle();
  }
}
