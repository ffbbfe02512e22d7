// The store's side of --resume: a plan fingerprint checked before anything is probed, cleanup
// that leaves one service per port and one OS list per host, rebuilt hosts that honour -Pn/-R,
// and commits on a timer during quiet stretches (a killed scan keeps what arrived before them).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openDatabase, query, storeRecords } from '../../stages/store/index.js';
import { targetRecords } from '../../stages/targets/index.js';
import { newTrailer, type AnyRecord, type ScanHeader } from '../../stages/records/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-store-resume-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

async function headerOf(specs: string[], ports: string): Promise<ScanHeader> {
  for await (const r of targetRecords({ specs, ports, seed: 5, args: ['t'] })) if (r.type === 'scan') return r as ScanHeader;
  throw new Error('no header');
}

async function drive(file: string, records: AnyRecord[], opts: Partial<Parameters<typeof storeRecords>[0]> = {}) {
  async function* src() { yield* records; }
  for await (const _ of storeRecords({ path: file, argv: ['x'], ...opts })(src())) { /* drain */ }
}

const port = (ip: string, p: number, state: string, reason: string): AnyRecord => ({ type: 'port', ip, port: p, proto: 'tcp', state, reason, ttl: 64, rtt: 1, time: Date.now() });

t.test('plan fingerprint: same plan resumes; other targets, ports or hosts are refused with the reason', async (t) => {
  const a = await headerOf(['198.18.0.0/30'], '1-10');
  const b = await headerOf(['198.18.0.0/30'], '1-10');
  t.equal(a.plan!.fingerprint, b.plan!.fingerprint, 'the same plan twice: the same fingerprint');
  t.match(a.plan!.fingerprint, /^[0-9a-f]{32}$/);
  const movedHost = await headerOf(['198.18.0.4/30'], '1-10');
  t.not(movedHost.plan!.fingerprint, a.plan!.fingerprint, 'same counts, other addresses: another fingerprint');
  const other = await headerOf(['198.18.0.0/30'], '1-9,11');
  t.not(other.plan!.fingerprint, a.plan!.fingerprint);

  const file = path.join(dir, 'fp.duckdb');
  await drive(file, [a, port('198.18.0.1', 1, 'open', 'syn-ack')]); // killed: no trailer
  const id = a.scanId;
  await t.rejects(drive(file, [{ ...movedHost, scanId: 'new' }], { resumeScanId: id }), /cannot resume scan .*the expanded target list differs/);
  await t.rejects(drive(file, [{ ...other, scanId: 'new' }], { resumeScanId: id }), /cannot resume scan .*the port list changed/);
  const fewer = await headerOf(['198.18.0.0/31'], '1-10');
  await t.rejects(drive(file, [{ ...fewer, scanId: 'new' }], { resumeScanId: id }), /4 hosts then, 2 now/);
  const db = await openDatabase(file, { readOnly: true });
  const r = await query(db.conn, 'SELECT status, resumed FROM scans');
  db.close();
  t.same(r.rows, [['interrupted', 0]], 'a refused resume leaves the stored scan untouched');
  await drive(file, [{ ...b, scanId: 'new' }, newTrailer()], { resumeScanId: id });
  const db2 = await openDatabase(file, { readOnly: true });
  const r2 = await query(db2.conn, 'SELECT status, resumed FROM scans');
  db2.close();
  t.same(r2.rows, [['complete', 1]], 'the same plan resumes');
});

t.test('resume cleanup: one service per port, one OS list per host; rebuilt hosts honour -Pn and -R', async (t) => {
  const h = await headerOf(['198.18.0.0/30'], '1-10');
  const file = path.join(dir, 'dedup.duckdb');
  const svc = (p: number, name: string, conf: number, method: 'probed' | 'table'): AnyRecord => ({ type: 'service', ip: '198.18.0.1', port: p, proto: 'tcp', name, method, conf });
  const osr = (names: string[]): AnyRecord => ({ type: 'os', ip: '198.18.0.1', matches: names.map((name, i) => ({ name, accuracy: 100 - i })) });
  // The killed run: ports and services of a batch that had no progress yet, an OS guess.
  await drive(file, [h, port('198.18.0.1', 1, 'open', 'syn-ack'), port('198.18.0.2', 2, 'filtered', 'no-response'),
    svc(1, 'ssh', 10, 'probed'), svc(2, 'unknown', 3, 'table'), osr(['Linux 5.X', 'Linux 4.X'])]);
  // The resumed run probes them again.
  await drive(file, [{ ...h, scanId: 'x' }, port('198.18.0.1', 1, 'open', 'syn-ack'), port('198.18.0.2', 2, 'filtered', 'no-response'),
    svc(1, 'unknown', 3, 'table'), svc(2, 'http', 10, 'probed'), osr(['Linux 6.X']), newTrailer()],
  { resumeScanId: h.scanId, rebuiltHosts: { assumeUp: true, hostname: async (ip) => (ip === '198.18.0.1' ? 'one.lab' : undefined) } });
  const db = await openDatabase(file, { readOnly: true });
  const q = async (sql: string) => (await query(db.conn, sql)).rows;
  t.same(await q('SELECT port, name FROM services ORDER BY port'), [[1, 'ssh'], [2, 'http']], 'one service per port: the probed match wins');
  t.same(await q('SELECT rank, name FROM os_matches ORDER BY rank'), [[0, 'Linux 6.X']], 'the newest OS list, whole and alone');
  t.same(await q('SELECT count(*) FROM ports'), [[2]]);
  t.same(await q('SELECT ip, state, reason, hostname FROM hosts ORDER BY ip'), [
    ['198.18.0.1', 'up', 'user-set', 'one.lab'],
    ['198.18.0.2', 'up', 'user-set', null],
  ], '-Pn: rebuilt hosts are up (user-set), even the silent one; -R names them');
  db.close();
});

t.test('commits on a timer: a SIGKILL after a quiet stretch keeps what came before it', async (t) => {
  const file = path.join(dir, 'timer.duckdb');
  const script = path.join(dir, 'quiet.mjs');
  const storeIndex = fileURLToPath(new URL('../../dist/stages/store/index.js', import.meta.url));
  const records = fileURLToPath(new URL('../../dist/stages/records/index.js', import.meta.url));
  fs.writeFileSync(script, `
import { storeRecords } from ${JSON.stringify(storeIndex)};
import { newHeader } from ${JSON.stringify(records)};
async function* src() {
  yield newHeader(['t']);
  yield { type: 'port', ip: '198.18.0.9', port: 9, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 1, time: Date.now() };
  yield { type: 'progress', start: 0, count: 1 };
  process.stdout.write('quiet\\n');
  await new Promise((r) => setTimeout(r, 60_000)); // a quiet stretch: no record for a minute
}
for await (const _ of storeRecords({ path: ${JSON.stringify(file)}, argv: ['x'], checkpointMs: 200 })(src())) { /* drain */ }
`);
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => { if (c.toString().includes('quiet')) resolve(); }));
  // Killed well after its commit interval but with no record since: only a timer commit saves the rows.
  await new Promise((r) => setTimeout(r, 1500));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  const db = await openDatabase(file, { readOnly: true });
  t.same((await query(db.conn, 'SELECT port FROM ports')).rows, [[9]], 'the port row was committed during the quiet stretch');
  t.same((await query(db.conn, 'SELECT start, count FROM progress')).rows, [[0, 1]], 'and its progress row');
  db.close();
});

