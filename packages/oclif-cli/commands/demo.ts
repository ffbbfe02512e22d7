import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserInputError } from '../../../stages/records/index.js';
import { openDatabase, query } from '../../../stages/store/index.js';
import {
  buildLoopbackLab, buildNamespaceLab, canBuildNamespaces, DEMO_PORTS, DEMO_SERVICES, DEMO_SWEEP, DEMO_SWEEP_PORTS,
} from '../lib/demo-lab.js';
import { parseSimple, SimpleCommand } from '../lib/simple-command.js';

const QUERIES = {
  states: 'select state, count(*) as ports, count(distinct ip) as hosts from ports group by state order by ports desc',
  services: 'select ip, port, name, product, version from services order by ip, port',
};

/** Quotes a word for a shell command line the user can copy. */
const sh = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`);

export default class Demo extends SimpleCommand {
  static override summary = 'A guided tour: scans a network built for the occasion, stores it, queries it';
  static override description = [
    'USAGE: prtip demo [--keep]',
    '',
    'As root: builds two network namespaces joined by a veth (nothing can leave the machine); the',
    `target side answers for all of ${DEMO_SWEEP} and runs a few services on four of its hosts. Then,`,
    'printing each command before running it: a SYN sweep of the /16 (live status line on a',
    'terminal), service detection (-sV) on the hosts that had open ports, two SQL queries over the',
    'DuckDB database the scans filled, and the same scan as a targets | send | detect | format pipe.',
    'Without root: the same story on 127.0.0.1 (connect scan, -sV, SQL, pipe) against listeners it',
    'starts. Everything it built is removed at the end.',
    '',
    'OPTIONS:',
    '  --keep    keep the DuckDB database (its path is printed) to explore with prtip sql',
    '',
    'EXAMPLES:',
    '  sudo prtip demo',
    '  prtip demo --keep',
    '',
  ].join('\n');

  private dir = '';
  private db = '';
  private step = 0;
  private steps = 0;
  private wrap: string[] = [];

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'demo', ['--keep'], []);
    if (a.positional.length) throw new UserInputError(`prtip demo takes no arguments, got "${a.positional[0]}"; see prtip demo --help`);
    const keep = a.switches.has('--keep');
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-demo-'));
    this.db = path.join(this.dir, 'demo.duckdb');
    const started = Date.now();
    try {
      if (canBuildNamespaces()) await this.namespaceDemo();
      else await this.loopbackDemo();
    } finally {
      if (keep) {
        process.stdout.write(`\nprtip demo: database kept: ${this.db}\n  try: prtip sql ${this.db} ${sh('select * from services')}\n`);
      } else {
        fs.rmSync(this.dir, { recursive: true, force: true });
      }
    }
    process.stdout.write(`\nprtip demo: done in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
  }

  private async namespaceDemo(): Promise<void> {
    this.steps = 5;
    const ports = DEMO_PORTS.join(',');
    const sweepPorts = DEMO_SWEEP_PORTS.join(',');
    const probes = DEMO_SWEEP_PORTS.length * 65536;
    process.stdout.write(
      `prtip demo: a lab in two network namespaces (nothing leaves this machine). The target side owns\n` +
        `all of ${DEMO_SWEEP}: every address answers, ${Object.keys(DEMO_SERVICES).length} of them run services.\n` +
        `Each command runs inside the scanner namespace (ip netns exec NS …).\n`,
    );
    const lab = await buildNamespaceLab();
    this.wrap = ['ip', 'netns', 'exec', lab.scannerNs];
    try {
      this.heading(`SYN sweep of the /16 on ports ${sweepPorts} (${probes.toLocaleString('en')} probes), stored in DuckDB`);
      this.prtip(['scan', '-sS', '-n', '--open', '--rate', '100k', '-p', sweepPorts, DEMO_SWEEP, '--db', this.db]);
      const hosts = await this.openHosts();
      this.heading(`service detection (-sV) on ports ${ports} of the ${hosts.length} hosts the sweep found open`);
      this.prtip(['scan', '-sS', '-sV', '-n', '--open', '-p', ports, ...hosts, '--db', this.db]);
      this.sqlSteps();
      this.heading('the same -sV scan as a pipe of stages (msgpack records between processes)');
      this.pipe([
        ['targets', ...hosts, '-p', ports],
        ['send', '-sS'],
        ['detect'],
        ['format', '--open'],
      ]);
    } finally {
      lab.teardown();
      process.stdout.write('\nprtip demo: lab torn down.\n');
    }
  }

  private async loopbackDemo(): Promise<void> {
    this.steps = 5;
    const lab = await buildLoopbackLab();
    try {
      const ports = [...lab.open.map((o) => o.port), ...lab.closed].join(',');
      process.stdout.write(
        'prtip demo (not root: loopback only; as root it builds a /16 lab and SYN-scans it).\n' +
          `Listeners on 127.0.0.1 speak like ${lab.open.map((o) => `${{ 21: 'FTP', 22: 'SSH', 25: 'SMTP', 80: 'HTTP' }[o.speaks]} on ${o.port}`).join(', ')}; ` +
          `${lab.closed.join(' and ')} are closed.\n`,
      );
      this.heading('connect scan, stored in DuckDB');
      this.prtip(['scan', '-sT', '--reason', '-p', ports, '127.0.0.1', '--db', this.db]);
      const open = await this.openPorts();
      this.heading(`service detection (-sV) on the ${open.length} open ports`);
      this.prtip(['scan', '-sT', '-sV', '-p', open.join(','), '127.0.0.1', '--db', this.db]);
      this.sqlSteps();
      this.heading('the same -sV scan as a pipe of stages (msgpack records between processes)');
      this.pipe([['targets', '127.0.0.1', '-p', open.join(',')], ['send', '-sT'], ['detect'], ['format', '--open']]);
    } finally {
      lab.close();
    }
  }

  private sqlSteps(): void {
    this.heading('SQL over the database: port states and hosts');
    this.prtip(['sql', this.db, QUERIES.states]);
    this.heading('SQL: the services found');
    this.prtip(['sql', this.db, QUERIES.services]);
  }

  private heading(text: string): void {
    this.step++;
    process.stdout.write(`\n==> ${this.step}/${this.steps} ${text}\n`);
  }

  /** Prints the command, then runs it as a child (so a terminal gets the live status line). */
  private prtip(args: string[]): void {
    process.stdout.write(`$ prtip ${args.map(sh).join(' ')}\n`);
    const argv = [...this.wrap, process.execPath, process.argv[1]!, ...args];
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit', timeout: 60_000 });
    if (r.status !== 0) throw new UserInputError(`demo step failed: prtip ${args.join(' ')} (exit ${r.status ?? r.signal})`);
  }

  private pipe(stages: string[][]): void {
    process.stdout.write(`$ ${stages.map((s) => `prtip ${s.map(sh).join(' ')}`).join(' | ')}\n`);
    const bin = `${sh(process.execPath)} ${sh(process.argv[1]!)}`;
    const line = `set -o pipefail 2>/dev/null; ${stages.map((s) => `${bin} ${s.map(sh).join(' ')}`).join(' | ')}`;
    const argv = [...this.wrap, 'bash', '-c', line];
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit', timeout: 60_000 });
    if (r.status !== 0) throw new UserInputError(`demo step failed: the pipe (exit ${r.status ?? r.signal})`);
  }

  /** The hosts the sweep found open ports on, from the database it filled. */
  private async openHosts(): Promise<string[]> {
    const db = await openDatabase(this.db, { existing: true });
    try {
      const r = await query(db.conn, "select distinct ip from ports where state = 'open' order by ip");
      return r.rows.map((row) => String(row[0]));
    } finally {
      db.close();
    }
  }

  private async openPorts(): Promise<number[]> {
    const db = await openDatabase(this.db, { existing: true });
    try {
      const r = await query(db.conn, "select distinct port from ports where state = 'open' order by port");
      return r.rows.map((row) => Number(row[0]));
    } finally {
      db.close();
    }
  }
}
