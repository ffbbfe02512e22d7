import { storeRecords } from '../../../stages/store/index.js';
import { UserInputError } from '../../../stages/records/index.js';
import { drain, interruptController, stdinRecords, writeRecordsToStdout } from '../lib/io.js';
import { parseSimple, SimpleCommand } from '../lib/simple-command.js';

export default class Store extends SimpleCommand {
  static override summary = 'Append the records read on stdin to a DuckDB database; pass them on';
  static override description = [
    'USAGE: prtip … | prtip store --db FILE [| prtip format …]',
    '',
    'Appends the scan on stdin (hosts, ports, services, OS matches) to FILE with DuckDB',
    'appenders, committing a checkpoint every second, and writes every record on to stdout',
    '(msgpack) for the next stage; on a terminal it prints a one-line summary instead.',
    '',
    'EXAMPLES:',
    '  prtip targets 198.18.0.0/24 -p 80 | prtip send -sT | prtip store --db scans.duckdb | prtip format -oX scan.xml',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'store', [], ['--db']);
    const file = a.values.get('--db');
    if (!file || a.positional.length) throw new UserInputError('usage: prtip … | prtip store --db FILE');
    // Upstream stops on Ctrl-C and ends the stream; store keeps reading to commit what it flushes.
    interruptController(false);
    let ports = 0;
    let scanId = '';
    const stored = storeRecords({ path: file })(stdinRecords('store'));
    const counted = (async function* () {
      for await (const r of stored) {
        if (r.type === 'port') ports++;
        if (r.type === 'scan' && !scanId) scanId = String((r as { scanId?: string }).scanId);
        yield r;
      }
    })();
    if (process.stdout.isTTY) {
      await drain(counted);
      process.stdout.write(`stored scan ${scanId} in ${file}: ${ports} port records\n`);
    } else {
      await writeRecordsToStdout(counted);
    }
  }
}
