import { formatRecords } from '../../../stages/format/index.js';
import { checkProbeFile, detectRecords, resolveProbes } from '../../../stages/detect/index.js';
import { UserInputError } from '../../../stages/records/index.js';
import { commandHelp, PrtipCommand, refuseTerminalOnlyFlags } from '../lib/base-command.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';
import { drain, interruptController, stdinRecords, warnLine, writeRecordsToStdout } from '../lib/io.js';
import { detectOptions, formatOptions } from '../lib/stage-options.js';

const GROUPS: FlagGroup[] = ['version', 'probedb', 'timing', 'output', 'interaction', 'misc'];

/** Send-side timing flags: detect's own waits follow -T only. */
const SENDING = 'it sets how prtip send probes; prtip detect takes -T for its waits';
const REFUSED: Record<string, string> = {
  '--max-retries': SENDING, '--max-rtt-timeout': SENDING, '--max-parallelism': SENDING, '--max-rate': SENDING,
  '--rate': SENDING, '--min-rate': SENDING, '--wait': SENDING,
  '-v': 'live "Discovered open port" lines come from prtip send or prtip scan',
  '--tui': 'the dashboard is prtip scan --tui; in a pipe, prtip format shows the status records of --stats-every',
};

export default class Detect extends PrtipCommand {
  static override summary = 'Probe the open ports read on stdin and emit service records (-sV)';
  static override description = commandHelp(
    'prtip targets … | prtip send … | prtip detect [options] | prtip format …',
    'Reads port records on stdin and probes each open TCP port (and open or open|filtered UDP\n' +
      'port) with nmap\'s version-detection probes: DATADIR/nmap-service-probes when Nmap is\n' +
      'installed, else prtip\'s own small set. Writes every record through, plus a service record\n' +
      'per probed port (name, product, version, extra info, CPEs, TLS certificate).\n' +
      '--check-db loads the probe database and reports what it cannot use. --stats-every TIME adds\n' +
      'status records while ports are probed; upstream status records pass through.',
    GROUPS,
    [
      'prtip targets 198.18.0.7 -p 1-1024 | prtip send -sT | prtip detect | prtip format',
      'prtip detect --check-db --datadir /usr/share/nmap',
    ],
    REFUSED,
  );

  protected readonly commandName = 'detect';
  protected readonly groups = GROUPS;
  protected override readonly refused = REFUSED;

  protected async main(o: CliOptions): Promise<void> {
    if (o.checkDb) return this.checkDb(o);
    if (o.outputs.length > 0) {
      throw new UserInputError('output files are written by prtip format (or prtip scan): … | prtip detect | prtip format -oN FILE');
    }
    refuseTerminalOnlyFlags(o, 'detect');
    const interrupt = interruptController();
    const warn = warnLine;
    const opts = detectOptions(o, [this.commandLine()], interrupt.signal, warn);
    // --stats-every: its own status records (while ports are probed) join the stream.
    opts.statusEveryMs = o.statsEveryMs;
    const records = detectRecords(opts)(stdinRecords('detect'));
    if (process.stdout.isTTY) await drain(formatRecords(formatOptions(o, [{ format: 'normal', path: '-' }]))(records));
    else await writeRecordsToStdout(records);
  }

  private checkDb(o: CliOptions): void {
    const file = resolveProbes({ datadir: o.datadir });
    const c = checkProbeFile(file);
    const out: string[] = [
      `probe database: ${c.source}`,
      `probes: ${c.probes}`,
      `match lines: ${c.matches}, softmatch lines: ${c.softmatches}`,
      `loaded: ${c.loaded} of ${c.matches + c.softmatches}`,
      `untranslatable: ${c.untranslatable.length}`,
    ];
    for (const [reason, n] of Object.entries(c.reasons).sort((a, b) => b[1] - a[1])) out.push(`  ${n}× ${reason}`);
    for (const u of c.untranslatable) out.push(`  line ${u.line} (${u.service}): ${u.reason}`);
    out.push(`other problems: ${c.problems.length}`);
    for (const p of c.problems) out.push(`  line ${p.line}: ${p.reason}: ${p.text.slice(0, 120)}`);
    process.stdout.write(out.join('\n') + '\n');
    if (c.untranslatable.length > 0 || c.problems.length > 0) process.exitCode = 2;
  }
}
