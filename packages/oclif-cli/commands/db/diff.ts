import { UserInputError } from '../../../../stages/records/index.js';
import { diffScans, openForReading, resolveScanId } from '../../../../stages/store/index.js';
import { parseSimple, SimpleCommand } from '../../lib/simple-command.js';

export default class DbDiff extends SimpleCommand {
  static override summary = 'What changed between two scans: ports opened, closed, services changed, hosts up/down, OS';
  static override description = [
    'USAGE: prtip db diff DBFILE [A B] [--json]',
    '',
    'Compares scan A (before) with scan B (after) in DBFILE. A and B are scan ids, unique id',
    'prefixes, or @N (the Nth newest scan); without them the two newest scans (@2 @1) are compared.',
    'Imported Nmap and masscan scans compare like prtip\'s own. Exit status: 0 no change, 1 changes.',
    '',
    'Lines:  + IP PORT/PROTO opened (was STATE)   - IP PORT/PROTO closed (now STATE)',
    '        ~ IP PORT/PROTO service: BEFORE -> AFTER      host IP: BEFORE -> AFTER',
    '        ~ IP OS: BEFORE (N%) -> AFTER (N%)   (hosts OS-scanned (-O) in both whose best match changed)',
    '',
    'EXAMPLES:',
    '  prtip db diff scans.duckdb',
    '  prtip db diff scans.duckdb nmap-1a2b 3f9c --json',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'db diff', ['--json'], []);
    const [dbFile, refA, refB, ...extra] = a.positional;
    if (!dbFile || (refA && !refB) || extra.length) throw new UserInputError('usage: prtip db diff DBFILE [A B] [--json]');
    const db = await openForReading(dbFile); // reads only: works on a database the user cannot write
    try {
      const idA = await resolveScanId(db, refA ?? '@2');
      const idB = await resolveScanId(db, refB ?? '@1');
      const d = await diffScans(db, idA, idB);
      if (a.switches.has('--json')) {
        process.stdout.write(`${JSON.stringify(d)}\n`);
      } else {
        const lines = [`# prtip db diff ${idA} -> ${idB}`];
        for (const h of d.hosts) lines.push(`  host ${h.ip}: ${h.before ?? 'not scanned'} -> ${h.after ?? 'not scanned'}`);
        for (const p of d.ports) {
          const where = `${p.ip} ${p.port}/${p.proto}`;
          if (p.change === 'opened') lines.push(`+ ${where} opened (was ${p.before ?? 'not scanned'})`);
          else if (p.change === 'closed') lines.push(`- ${where} closed (now ${p.after ?? 'not scanned'})`);
          else lines.push(`~ ${where} service: ${p.before} -> ${p.after}`);
        }
        const osText = (m: { name: string; accuracy: number } | null) => (m ? `${m.name} (${m.accuracy}%)` : 'no OS match');
        for (const o of d.os) lines.push(`~ ${o.ip} OS: ${osText(o.before)} -> ${osText(o.after)}`);
        lines.push(`# ${d.ports.filter((p) => p.change === 'opened').length} opened, ${d.ports.filter((p) => p.change === 'closed').length} closed, ` +
          `${d.ports.filter((p) => p.change === 'service').length} services changed, ${d.hosts.length} hosts changed, ${d.os.length} OS changed`);
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      process.exitCode = d.ports.length + d.hosts.length + d.os.length > 0 ? 1 : 0;
    } finally {
      db.close();
    }
  }
}
