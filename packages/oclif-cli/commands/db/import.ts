import { UserInputError } from '../../../../stages/records/index.js';
import { IMPORT_FORMATS, importFile, openDatabase, type ImportFormat } from '../../../../stages/store/index.js';
import { parseSimple, SimpleCommand } from '../../lib/simple-command.js';

export default class DbImport extends SimpleCommand {
  static override summary = 'Import Nmap, masscan and prtip scan files into a prtip database';
  static override description = [
    `USAGE: prtip db import DBFILE FILE... [--format ${IMPORT_FORMATS.join('|')}] [--allow-empty]`,
    '',
    'Reads each FILE and adds it as a scan (scan_id nmap-, masscan- or prtip-<hash>) beside prtip\'s',
    'own scans. The format is detected from the content: Nmap -oX (and prtip\'s -oX), masscan -oX,',
    '-oJ, -oD and -oL, prtip -oJ and -oD; --format names it instead. Importing the same file twice is',
    'refused; a file holding no host or port is an error unless --allow-empty.',
    '',
    'EXAMPLES:',
    '  prtip db import scans.duckdb old-nmap.xml masscan.json masscan.txt',
    '  prtip db import scans.duckdb empty-scan.xml --allow-empty',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'db import', ['--allow-empty'], ['--format']);
    const [dbFile, ...files] = a.positional;
    if (!dbFile || files.length === 0) throw new UserInputError(`usage: prtip db import DBFILE FILE... [--format ${IMPORT_FORMATS.join('|')}] [--allow-empty]`);
    const format = a.values.get('--format');
    if (format !== undefined && !(IMPORT_FORMATS as readonly string[]).includes(format)) {
      throw new UserInputError(`--format "${format}": use one of ${IMPORT_FORMATS.join(', ')}`);
    }
    const db = await openDatabase(dbFile);
    try {
      for (const f of files) {
        const r = await importFile(db, f, { format: format as ImportFormat | undefined, allowEmpty: a.switches.has('--allow-empty') });
        process.stdout.write(`${f}: imported as scan ${r.scanId} (${r.source}, ${r.records} records, ${r.open} open ports)\n`);
      }
    } finally {
      db.close();
    }
  }
}
