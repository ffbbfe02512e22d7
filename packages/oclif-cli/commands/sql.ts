import { csvField } from '../../../stages/format/index.js';
import { UserInputError } from '../../../stages/records/index.js';
import { isReadOnlyRefusal, openDatabase, openForReading, query, type Database } from '../../../stages/store/index.js';
import { parseSimple, SimpleCommand, textTable } from '../lib/simple-command.js';

export default class Sql extends SimpleCommand {
  static override summary = 'Run SQL over a prtip DuckDB database (tables scans, hosts, ports, services, os_matches)';
  static override description = [
    'USAGE: prtip sql FILE "QUERY" [--json | --csv]',
    '',
    'Runs one SQL statement (DuckDB dialect) against FILE and prints the result as a table;',
    '--json prints a JSON array of row objects, --csv a CSV with a header line. The schema is',
    'documented in stages/store/README.md (every table has scan_id).',
    '',
    'EXAMPLES:',
    '  prtip sql scans.duckdb "select ip, port, state from ports where state = \'open\'"',
    '  prtip sql scans.duckdb "select port, count(*) from ports where state=\'open\' group by all order by 2 desc" --csv',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'sql', ['--json', '--csv'], []);
    const [file, sql, ...extra] = a.positional;
    if (!file || !sql) throw new UserInputError('usage: prtip sql FILE "QUERY" [--json | --csv]');
    if (extra.length) throw new UserInputError(`prtip sql takes one query; quote it: got extra "${extra[0]}"`);
    if (a.switches.has('--json') && a.switches.has('--csv')) throw new UserInputError('choose one of --json and --csv');
    // Read-only first, so a database the user may read but not write (root's, after sudo) can be
    // queried; a statement that writes is run again on a read-write connection.
    let db: Database = await openForReading(file);
    try {
      let r;
      try {
        r = await query(db.conn, sql);
      } catch (err) {
        if (!isReadOnlyRefusal(err)) throw new UserInputError(`SQL error: ${(err as Error).message}`);
        db.close();
        db = await openDatabase(file, { existing: true });
        try {
          r = await query(db.conn, sql);
        } catch (err2) {
          throw new UserInputError(`SQL error: ${(err2 as Error).message}`);
        }
      }
      if (a.switches.has('--json')) {
        const objs = r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
        process.stdout.write(`${JSON.stringify(objs)}\n`);
      } else if (a.switches.has('--csv')) {
        const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? csvField(JSON.stringify(v)) : csvField(typeof v === 'number' ? v : String(v)));
        process.stdout.write([r.columns.map(csvField).join(','), ...r.rows.map((row) => row.map(cell).join(','))].join('\r\n') + '\r\n');
      } else {
        process.stdout.write(textTable(r.columns, r.rows));
      }
    } finally {
      db.close();
    }
  }
}
