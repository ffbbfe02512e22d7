// The services table keeps the TLS tunnel and the certificate; commands that only read (sql,
// db diff, db export) work on a database the user may read but not write (root's, after
// `sudo prtip --db`); a database locked by a writer says so and what to do.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { DuckDBInstance } from '@duckdb/node-api';
import { newHeader, newTrailer, type AnyRecord } from '../../stages/records/index.js';
import { openDatabase, openForReading, query, storeRecords } from '../../stages/store/index.js';
import { PRTIP_BIN } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-store-ro-'));
fs.chmodSync(tmp, 0o755);
t.teardown(() => {
  fs.chmodSync(tmp, 0o755);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const cert = {
  subject: 'CN=lab.test', issuer: 'CN=lab.test', sans: ['DNS:lab.test', 'IP:198.18.0.2'], notBefore: '2026-11-01T00:00:00.000Z',
  notAfter: '2027-11-01T00:00:00.000Z', keyType: 'rsa', keyBits: 2048, serial: '01', sha256: 'ab'.repeat(32), selfSigned: true,
};

async function store(file: string, scanId: string): Promise<void> {
  const db = await openDatabase(file);
  const recs: AnyRecord[] = [
    { ...newHeader(['prtip scan -sV -p 443 198.18.0.2']), scanId },
    { type: 'port', ip: '198.18.0.2', port: 443, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: null, rtt: 0.3, time: 1_790_000_000_000 },
    { type: 'service', ip: '198.18.0.2', port: 443, proto: 'tcp', name: 'http', product: 'nginx', method: 'probed', conf: 10, tunnel: 'ssl', cert },
    newTrailer(),
  ];
  async function* src() { yield* recs; }
  for await (const _ of storeRecords({ path: '', db, source: 'prtip' })(src())) { /* drain */ }
  db.close();
}

t.test('services keep tunnel and certificate columns', async (t) => {
  const file = path.join(tmp, 'svc.duckdb');
  await store(file, 'scan-a');
  const db = await openForReading(file);
  t.teardown(() => db.close());
  const r = await query(db.conn, `SELECT tunnel, cert_subject, cert_issuer, cert_sans, strftime(cert_not_after, '%Y-%m-%d'), cert_sha256, json_extract_string(cert, '$.keyType') FROM services`);
  t.same(r.rows, [['ssl', 'CN=lab.test', 'CN=lab.test', ['DNS:lab.test', 'IP:198.18.0.2'], '2027-11-01', 'ab'.repeat(32), 'rsa']]);
});

t.test('a database from before these columns gets them when opened for writing', async (t) => {
  const file = path.join(tmp, 'old.duckdb');
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  await c.run(`CREATE TABLE services (scan_id VARCHAR NOT NULL, ip VARCHAR NOT NULL, port INTEGER NOT NULL, proto VARCHAR NOT NULL,
    name VARCHAR, product VARCHAR, version VARCHAR, extrainfo VARCHAR, cpe VARCHAR[], method VARCHAR, conf INTEGER, banner VARCHAR)`);
  c.closeSync();
  inst.closeSync();
  await store(file, 'scan-b');
  const db = await openForReading(file);
  t.teardown(() => db.close());
  t.same((await query(db.conn, 'SELECT tunnel, cert_subject FROM services')).rows, [['ssl', 'CN=lab.test']]);
});

/** Runs prtip as a user who may read the database but not write it (nobody, when we are root). */
function runAsReader(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = process.getuid?.() === 0;
  // `env -u NODE_OPTIONS`: the test runner's hooks (added to children's NODE_OPTIONS) would write
  // into the checkout as that user.
  const cli = ['env', '-u', 'NODE_OPTIONS', process.execPath, PRTIP_BIN, ...args];
  const argv = root ? ['runuser', '-u', 'nobody', '--', ...cli] : cli;
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: tmp } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('sql, db diff and db export read a database the user cannot write', async (t) => {
  const dir = path.join(tmp, 'ro');
  fs.mkdirSync(dir);
  const file = path.join(dir, 'scans.duckdb');
  await store(file, 'scan-1');
  await store(file, 'scan-2');
  fs.chmodSync(file, 0o444);
  fs.chmodSync(dir, 0o555);
  const out = path.join(tmp, 'parquet');
  fs.mkdirSync(out, { mode: 0o777 });
  fs.chmodSync(out, 0o777);
  const sql = await runAsReader(['sql', file, 'select count(*) as n, any_value(tunnel) as t from services', '--json']);
  t.equal(sql.code, 0, sql.stderr);
  t.same(JSON.parse(sql.stdout), [{ n: 2, t: 'ssl' }]);
  const diff = await runAsReader(['db', 'diff', file, 'scan-1', 'scan-2']);
  t.equal(diff.code, 0, `no change: ${diff.stderr}`);
  t.match(diff.stdout, /0 opened, 0 closed/);
  const exp = await runAsReader(['db', 'export', file, '--parquet', out]);
  t.equal(exp.code, 0, exp.stderr);
  t.match(exp.stdout, /services\.parquet: 2 rows/);
  const write = await runAsReader(['sql', file, "delete from services"]);
  t.equal(write.code, 1, 'a statement that writes still needs write access');
  t.match(write.stderr, /prtip: /);
  t.notMatch(write.stderr, /\n\s+at /, 'one line, no stack');
  fs.chmodSync(dir, 0o755);
});

t.test('a database held by a writer: one line saying it is locked and what to do', async (t) => {
  const file = path.join(tmp, 'locked.duckdb');
  await store(file, 'scan-l');
  const holder = spawn(process.execPath, ['--input-type=module', '-e', `
    import { DuckDBInstance } from '@duckdb/node-api';
    const i = await DuckDBInstance.create(${JSON.stringify(file)});
    await i.connect();
    process.stdout.write('held\\n');
    setTimeout(() => {}, 60000);
  `], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { holder.kill('SIGKILL'); });
  await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [PRTIP_BIN, 'sql', file, 'select 1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`locked by another process \\(PID ${holder.pid}\\).*wait for it to finish, or query a copy`));
  t.equal(r.stderr.trim().split('\n').length, 1);
});
