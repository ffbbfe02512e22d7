import { formatRecords } from '../../../stages/format/index.js';
import { commandHelp, PrtipCommand } from '../lib/base-command.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';
import { drain, interruptController, lossWatch, stdinRecords } from '../lib/io.js';
import { formatOptions } from '../lib/stage-options.js';
import { ProgressReporter } from '../lib/progress/reporter.js';

const GROUPS: FlagGroup[] = ['output', 'misc'];

export default class Format extends PrtipCommand {
  static override summary = 'Write the records read on stdin as nmap normal/XML/grepable text, JSON, JSON Lines or CSV';
  static override description = commandHelp(
    'prtip … | prtip format [-oN|-oX|-oG|-oJ|-oD|-oC FILE] [-oA BASE] [--open] [--reason] [-v]',
    'Reads a record stream on stdin and writes the requested outputs ("-" = stdout): -oN nmap\n' +
      'normal, -oX Nmap XML (valid against nmap.dtd, read by ndiff), -oG grepable, -oA all three,\n' +
      '-oJ one JSON document, -oD JSON Lines, -oC/--csv CSV. With no output option it prints the\n' +
      'normal (nmap-style) report on stdout. Status records (prtip send --stats-every) show as a\n' +
      'live line on a terminal\'s stderr, else as nmap-style Stats lines; -oD keeps them.',
    GROUPS,
    ['prtip targets 198.18.0.0/24 -p 80 | prtip send -sT | prtip format -oN scan.txt -oD -',
      'prtip merge a.rec b.rec | prtip format -oA merged'],
  );

  protected readonly commandName = 'format';
  protected readonly groups = GROUPS;

  protected async main(o: CliOptions): Promise<void> {
    // Upstream stages stop on Ctrl-C and end the stream; format keeps reading to write what they flush.
    interruptController(false);
    const outputs = o.outputs.length > 0 ? o.outputs : [{ format: 'normal' as const, path: '-' }];
    // Status records from upstream (prtip send --stats-every): the live line on a terminal, else
    // one set of Stats lines per record.
    const tty = process.stderr.isTTY === true;
    const reporter = new ProgressReporter({ out: process.stderr, live: tty, statsEveryMs: tty ? undefined : 0, interaction: { verbose: o.verbose, debug: 0 } });
    const input = stdinRecords('format');
    // A stream whose scan lost probes ends this stage with EXIT_PROBES_LOST too (a pipe without pipefail shows it).
    const losses = lossWatch();
    const watched = async function* () {
      for await (const rec of input) {
        reporter.observe(rec);
        losses.observe(rec);
        yield rec;
      }
    };
    try {
      await drain(formatRecords(formatOptions(o, outputs))(watched()));
    } finally {
      reporter.finish();
    }
    losses.settle();
  }
}
