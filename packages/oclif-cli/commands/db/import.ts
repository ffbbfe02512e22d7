import { UserInputError } from '../../../../stages/records/index.js';
import { importFile, openDatabase } from '../../../../stages/store/index.js';
import { parseSimple, SimpleCommand } from '../../lib/simple-command.js';

export default class DbImport extends SimpleCommand {
  static override summary = 'Import Nmap XML or masscan JSON scans into a prtip database';
  static override description = [
    'USAGE: prtip db import DBFILE FILE... [--format nmap-xml|masscan-json]',
    '',
    'Reads each FILE (Nmap -oX, masscan -oJ or -oD; detected from the content unless --format)',
    'and adds it as a scan (scan_id nmap-<hash> or masscan-<hash>) beside prtip\'s own scans.',
    'Importing the same file twice is refused.',
    '',
    'EXAMPLES:',
    '  prtip db import scans.duckdb old-nmap.xml masscan.json',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'db import', [], ['--format']);
    const [dbFile, ...files] = a.positional;
    if (!dbFile || files.length === 0) throw new UserInputError('usage: prtip db import DBFILE FILE... [--format nmap-xml|masscan-json]');
    const format = a.values.get('--format');
    if (format !== undefined && format !== 'nmap-xml' && format !== 'masscan-json') {
      throw new UserInputError(`--format "${format}": use nmap-xml or masscan-json`);
    }
    const db = await openDatabase(dbFile);
    try {
      for (const f of files) {
        const r = await importFile(db, f, format as 'nmap-xml' | 'masscan-json' | undefined);
        process.stdout.write(`${f}: imported as scan ${r.scanId} (${r.source}, ${r.records} records)\n`);
      }
    } finally {
      db.close();
    }
  }
}
