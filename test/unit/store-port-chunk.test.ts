// The store's port-row hot path (stages/store/port-chunk.ts writes DuckDB's column buffers itself):
// every value comes back from DuckDB as it went in — short and long strings, NULLs, times beyond
// 32 bits — across chunk boundaries and commits that overlap the next rows; and a SIGKILL never
// leaves a batch's progress row committed without that batch's port rows.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newHeader, newTrailer, type AnyRecord, type PortRecord } from '../../stages/records/index.js';
import { openDatabase, query, storeRecords } from '../../stages/store/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-port-chunk-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Hand-picked values at every edge of the encoding: inline strings (≤ 12 bytes) and longer ones,
// non-ASCII, NULLs, times needing the high 32-bit word, negative and fractional times.
const IPS = ['198.18.0.1', '198.19.255.255', '2001:2::1', '2001:2:0:0:0:0:0:ffff', '1.2.3.4', '123.123.123.1'];
const STATES: PortRecord['state'][] = ['open', 'closed', 'filtered', 'open|filtered', 'closed|filtered', 'unfiltered'];
const REASONS = ['syn-ack', 'reset', 'no-response', 'port-unreach', 'raison-café', 'a-reason-longer-than-twelve'];
const TIMES = [0, -1, 1_790_000_000_123, 2 ** 32 + 5, 4_102_444_800_000, 1.6];
const CHECKS: Array<PortRecord['check']> = ['data', undefined, 'silent', 'timeout', undefined, 'refused'];

function record(i: number): PortRecord {
  const r: PortRecord = {
    type: 'port', ip: IPS[i % 6]!, port: i % 65536, proto: (['tcp', 'udp', 'sctp'] as const)[i % 3]!,
    state: STATES[Math.floor(i / 6) % 6]!, reason: REASONS[Math.floor(i / 36) % 6]!,
    ttl: i % 4 === 0 ? null : i % 256, rtt: i % 5 === 0 ? null : i / 8, time: TIMES[i % 6]! + (i % 6 === 1 ? 0 : i),
  };
  if (i % 7 === 0) r.confidence = i % 11;
  if (i % 3 === 1) r.proxied = i % 2 === 0;
  const check = CHECKS[i % 6];
  if (check) r.check = check;
  return r;
}

t.test('port rows come back value for value over chunk boundaries and overlapping commits', async (t) => {
  const file = path.join(tmp, 'values.duckdb');
  const N = 2048 * 3 + 77;
  const ports = Array.from({ length: N }, (_, i) => record(i));
  const header = newHeader(['port chunk test']);
  async function* src(): AsyncGenerator<AnyRecord> {
    yield header;
    for (const p of ports) yield p;
    yield newTrailer(false);
  }
  // A commit every 1000 rows: chunks fill while commits run and wait for the next transaction.
  for await (const _ of storeRecords({ path: file, checkpointRows: 1000 })(src())) { /* drain */ }
  const db = await openDatabase(file);
  t.teardown(() => db.close());
  const got = await query(db.conn, `SELECT scan_id, ip, port, proto, state, reason, ttl, rtt_ms, epoch_ms(time)::DOUBLE, confidence, proxied, proxy_check
    FROM ports ORDER BY rowid`);
  t.equal(got.rows.length, N, 'every row');
  const want = ports.map((p) => [header.scanId, p.ip, p.port, p.proto, p.state, p.reason, p.ttl, p.rtt, Math.round(p.time),
    p.confidence ?? null, p.proxied ?? null, p.check ?? null]);
  let bad = 0;
  for (let i = 0; i < N; i++) {
    if (JSON.stringify(got.rows[i]) !== JSON.stringify(want[i]) && bad++ < 5) t.equal(JSON.stringify(got.rows[i]), JSON.stringify(want[i]), `row ${i}`);
  }
  t.equal(bad, 0, 'rows equal the records, in order');
  // Inline strings must compare and group like strings DuckDB made itself.
  const byState = await query(db.conn, `SELECT state, count(*) FROM ports WHERE state IN ('open', 'closed|filtered') GROUP BY state ORDER BY state`);
  const count = (s: string) => ports.filter((p) => p.state === s).length;
  t.same(byState.rows, [['closed|filtered', count('closed|filtered')], ['open', count('open')]]);
  t.same((await query(db.conn, `SELECT count(*) FROM ports WHERE ip = '198.18.0.1' AND length(ip) = 10`)).rows, [[ports.filter((p) => p.ip === '198.18.0.1').length]]);
  t.same((await query(db.conn, `SELECT count(*) FROM ports WHERE reason = 'raison-café'`)).rows, [[ports.filter((p) => p.reason === 'raison-café').length]]);
});

t.test('SIGKILL while port rows and progress records stream: no progress row without its ports', async (t) => {
  const file = path.join(tmp, 'killed.duckdb');
  const script = path.join(tmp, 'writer.mjs');
  const storeUrl = new URL('../../stages/store/index.ts', import.meta.url).href;
  const recUrl = new URL('../../stages/records/index.ts', import.meta.url).href;
  // Batch k: ports 100k … 100k+99 of one host, then its progress record; commits every 1000 rows
  // overlap the next batches. The child reports each batch it handed over.
  fs.writeFileSync(script, `
    import { storeRecords } from '${storeUrl}';
    import { newHeader } from '${recUrl}';
    async function* src() {
      yield newHeader(['kill test']);
      for (let k = 0; ; k++) {
        for (let j = 0; j < 100; j++) {
          yield { type: 'port', ip: '198.18.' + (k >> 8 & 255) + '.' + (k & 255), port: j, proto: 'tcp', state: 'closed', reason: 'reset', ttl: 64, rtt: 0.1, time: Date.now() };
        }
        yield { type: 'progress', start: k * 100, count: 100 };
        if (k % 20 === 19) { process.stdout.write(k + 1 + '\\n'); await new Promise((r) => setImmediate(r)); }
      }
    }
    for await (const _ of storeRecords({ path: '${file}', checkpointMs: 1e9, checkpointRows: 1000 })(src())) {}
  `);
  const tsImport = fileURLToPath(new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url));
  const child = spawn(process.execPath, ['--import', tsImport, script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let batches = 0;
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      batches = Number(c.toString().trim().split('\n').pop());
      if (batches >= 400 && !child.killed) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => resolve());
  });
  await new Promise((r) => child.once('close', r));
  t.ok(batches >= 400, `the child stored batches before it was killed (${batches}) ${stderr.slice(0, 500)}`);
  const db = await openDatabase(file);
  t.teardown(() => db.close());
  const progress = Number((await query(db.conn, 'SELECT count(*) FROM progress')).rows[0]![0]);
  t.ok(progress >= 300, `progress rows committed before the kill: ${progress}`);
  const orphans = await query(db.conn, `SELECT g.start FROM progress g
    WHERE (SELECT count(*) FROM ports p WHERE p.ip = '198.18.' || ((g.start // 100) >> 8 & 255) || '.' || ((g.start // 100) & 255)) <> g.count`);
  t.same(orphans.rows, [], 'every committed batch has all its port rows');
});
