import { UserInputError } from '../../../../stages/records/index.js';
import { exportParquet, openForReading, resolveScanId } from '../../../../stages/store/index.js';
import { parseSimple, SimpleCommand } from '../../lib/simple-command.js';

export default class DbExport extends SimpleCommand {
  static override summary = 'Export a prtip database to Parquet files';
  static override description = [
    'USAGE: prtip db export DBFILE --parquet DIR [--scan ID]',
    '',
    'Writes DIR/scans.parquet, hosts.parquet, ports.parquet, services.parquet, os_matches.parquet',
    'and progress.parquet (zstd); --scan limits every table to one scan (id, unique prefix, or @1 =',
    'newest, @2 = the one before).',
    '',
    'EXAMPLES:',
    '  prtip db export scans.duckdb --parquet out/',
    '  duckdb -c "select * from \'out/ports.parquet\' where state = \'open\'"',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'db export', [], ['--parquet', '--scan']);
    const [dbFile, ...extra] = a.positional;
    const dir = a.values.get('--parquet');
    if (!dbFile || !dir || extra.length) throw new UserInputError('usage: prtip db export DBFILE --parquet DIR [--scan ID]');
    const db = await openForReading(dbFile); // reads only: works on a database the user cannot write
    try {
      const ref = a.values.get('--scan');
      const scan = ref ? await resolveScanId(db, ref) : undefined;
      const counts = await exportParquet(db, dir, scan);
      for (const [t, n] of Object.entries(counts)) process.stdout.write(`${dir.replace(/\/$/, '')}/${t}.parquet: ${n} rows\n`);
    } finally {
      db.close();
    }
  }
}
