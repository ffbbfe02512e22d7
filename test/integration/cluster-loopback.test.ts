// prtip cluster on a real redis-server (unix socket) with real workers as child processes,
// connect-scanning listeners this test starts on loopback (no root needed). The collected
// database must hold exactly what a single-machine `prtip scan` of the same targets finds — also
// after a worker is SIGKILLed mid-shard, when another worker continues that shard from its
// checkpoint instead of from zero (counted at the listeners: most of its open ports saw one
// connection, not two).
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { PRTIP_BIN, runCli } from '../helpers/cli.js';
import { startRedis } from '../helpers/redis.js';
import { openDatabase, query } from '../../stages/store/index.js';
import type { ClusterStatus } from '../../pipelines/cluster/control.js';
import { waitForCluster, watchWorker, type WatchedWorker } from '../helpers/cluster.js';

const redis = await startRedis();
t.teardown(() => redis.stop());
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-cluster-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

// 127.0.0.1 and 127.0.0.2: every port of the range has a listener; 127.0.0.3-4: none (refused).
const BASE = 20_000 + Math.floor(Math.random() * 20_000);
const SPAN = 60;
const PORTS = `${BASE}-${BASE + SPAN - 1}`;
const TARGETS = '127.0.0.1-4';
const accepts = new Map<string, number>();
const servers: net.Server[] = [];
for (const ip of ['127.0.0.1', '127.0.0.2']) {
  for (let p = BASE; p < BASE + SPAN; p++) {
    const s = net.createServer((sock) => {
      const k = `${ip} ${p}`;
      accepts.set(k, (accepts.get(k) ?? 0) + 1);
      sock.destroy();
    });
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(p, ip, () => resolve()); });
    servers.push(s);
  }
}
t.teardown(() => { for (const s of servers) s.close(); });

const workers: ChildProcess[] = [];
t.teardown(() => { for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL'); });

function startWorker(results: string, extra: string[] = []): WatchedWorker {
  const child = spawn(process.execPath, [PRTIP_BIN, 'worker', '--redis', redis.url, '--results', results, '--stall-timeout', '2s', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  workers.push(child);
  return watchWorker(child);
}

async function prtip(args: string[], timeoutMs = 60_000) {
  const r = await runCli(args, { timeoutMs });
  return r;
}

const waitFor = (id: string, done: (s: ClusterStatus) => boolean, ms?: number) => waitForCluster(redis.url, id, done, ms);

async function statusText(id: string): Promise<string> {
  const r = await prtip(['cluster', 'status', '--redis', redis.url, id]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}

async function rows(file: string, scanId?: string) {
  const db = await openDatabase(file, { readOnly: true });
  try {
    const id = scanId ?? String((await query(db.conn, 'SELECT scan_id FROM scans ORDER BY start_time DESC LIMIT 1')).rows[0]![0]);
    const ports = await query(db.conn, "SELECT ip || ' ' || port || '/' || proto || ' ' || state || ' ' || reason FROM ports WHERE scan_id = $1", [id]);
    const hosts = await query(db.conn, "SELECT ip || ' ' || state FROM hosts WHERE scan_id = $1", [id]);
    const scan = await query(db.conn, 'SELECT status, planned_probes FROM scans WHERE scan_id = $1', [id]);
    return {
      ports: ports.rows.map((r) => String(r[0])).sort(),
      hosts: hosts.rows.map((r) => String(r[0])).sort(),
      status: String(scan.rows[0]?.[0]),
      planned: Number(scan.rows[0]?.[1]),
    };
  } finally {
    db.close();
  }
}

const SCAN = ['-sT', '-p', PORTS, '--max-rtt-timeout', '500ms', '--batch-size', '10'];
const TOTAL = 4 * SPAN;

// The reference: one machine, one process, the same targets (its own seed: order does not matter).
let reference: Awaited<ReturnType<typeof rows>>;
t.before(async () => {
  const single = await prtip(['scan', ...SCAN, '--db', `${dir}/single.duckdb`, TARGETS]);
  if (single.code !== 0) throw new Error(single.stderr);
  reference = await rows(`${dir}/single.duckdb`);
  accepts.clear();
});

t.test('the single-machine reference', async (t) => {
  t.equal(reference.ports.length, TOTAL, 'the single-machine scan has a row per probe');
  t.equal(reference.ports.filter((p) => / open /.test(p)).length, 2 * SPAN, 'and finds every listener open');
});

t.test('4 shards over 2 workers: the collected scan equals the single-machine scan', async (t) => {
  const results = `${dir}/r1`;
  startWorker(results);
  startWorker(results);
  const sub = await prtip(['cluster', 'submit', '--redis', redis.url, '--shards', '4', ...SCAN, TARGETS]);
  t.equal(sub.code, 0, sub.stderr);
  const id = sub.stdout.trim();
  t.match(id, /^c[0-9a-f]{12}$/, 'submit prints the cluster scan id');
  await waitFor(id, (s) => s.state === 'completed');
  const status = await statusText(id);
  t.match(status, new RegExp(`total: ${TOTAL}/${TOTAL} probes \\(100\\.0%\\); open ${2 * SPAN} closed ${2 * SPAN} filtered 0; 4/4 shards done`), status);
  const c = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c1.duckdb`]);
  t.equal(c.code, 0, c.stderr);
  const got = await rows(`${dir}/c1.duckdb`, id);
  t.equal(got.status, 'complete');
  t.equal(got.planned, TOTAL, 'the shards\' plans add up to the whole plan');
  t.same(got.ports, reference.ports, 'port for port the single-machine scan');
  t.same(got.hosts, reference.hosts, 'host for host (each once)');
  // the merge job's own union on the results volume holds the same
  const merged = await rows(path.join(results, id, 'scan.duckdb'), id);
  t.same(merged.ports, reference.ports, 'the merge job\'s database too');
  const again = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c1.duckdb`]);
  t.equal(again.code, 1);
  t.match(again.stderr, /^prtip: scan c[0-9a-f]{12} is already in this database\n$/);
  // A changed Parquet file is caught by its manifest's sha256.
  const victim = path.join(results, id, 'shard-2', 'ports.parquet');
  fs.appendFileSync(victim, 'x');
  const bad = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c1b.duckdb`]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /shard 2\/4: .*ports\.parquet does not match its manifest's sha256/);
  for (const w of workers) w.kill('SIGTERM');
});

t.test('a worker SIGKILLed mid-shard: another resumes the shard from its checkpoint, the union is still exact', async (t) => {
  accepts.clear();
  const results = `${dir}/r2`;
  const a = startWorker(results);
  await a.waitFor(/ready/);
  // Slow enough to kill mid-shard: 20 probes/s per shard (the global --max-rate split over 2).
  const sub = await prtip(['cluster', 'submit', '--redis', redis.url, '--shards', '2', '--max-rate', '40', ...SCAN, TARGETS]);
  t.equal(sub.code, 0, sub.stderr);
  t.match(sub.stderr, /at most 20 probes\/s per shard/);
  const id = sub.stdout.trim();
  const started = await a.waitFor(/shard (\d)\/2 of c[0-9a-f]+: started/);
  const shard = Number(started[1]);
  const b = startWorker(results);
  // Kill once the shard has committed some finished batches (a third of its probes).
  await waitFor(id, (s) => (s.shards[shard - 1]!.progress?.done ?? 0) >= TOTAL / 8, 60_000);
  a.child.kill('SIGKILL');
  const resumed = await b.waitFor(new RegExp(`shard ${shard}/2 of ${id}: resuming from its checkpoint, (\\d+) probes already done`), 60_000);
  const already = Number(resumed[1]);
  t.ok(already > 0 && already < TOTAL / 2, `resumed with ${already} of ${TOTAL / 2} probes already done`);
  await waitFor(id, (s) => s.state === 'completed');
  const status = await statusText(id);
  t.match(status, new RegExp(`shard ${shard}/2  completed .*resumed at ${already}.*1 stall`), 'status shows the resume and the stall');
  const c = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c2.duckdb`]);
  t.equal(c.code, 0, c.stderr);
  const got = await rows(`${dir}/c2.duckdb`, id);
  t.same(got.ports, reference.ports, 'port for port the single-machine scan: nothing lost, nothing twice');
  t.same(got.hosts, reference.hosts, 'host for host');

  // At the listeners: every open port of the scan was connected to; of the killed shard's open
  // ports, those in batches finished before the kill were not connected to again.
  const shardDb = await openDatabase(path.join(results, id, `shard-${shard}.duckdb`), { readOnly: true });
  const mine = (await query(shardDb.conn, "SELECT ip || ' ' || port FROM ports WHERE state = 'open'")).rows.map((r) => String(r[0]));
  shardDb.close();
  t.ok(mine.length > 0, `the killed shard had open ports (${mine.length})`);
  const openAll = reference.ports.filter((p) => / open /.test(p)).map((p) => p.replace(/\/tcp.*/, ''));
  t.same(openAll.filter((k) => !accepts.has(k)), [], 'every open port was probed');
  const twice = mine.filter((k) => (accepts.get(k) ?? 0) > 1).length;
  t.ok(twice < mine.length, `not probed again from zero: ${twice} of the shard's ${mine.length} open ports saw a second connection`);
  for (const w of workers) w.kill('SIGTERM');
});

t.test('cancel: waiting shards are dropped, the running one stops; collect takes the finished one only with --partial', async (t) => {
  const results = `${dir}/r3`;
  const w = startWorker(results);
  await w.waitFor(/ready/);
  const sub = await prtip(['cluster', 'submit', '--redis', redis.url, '--shards', '3', '--max-rate', '60', ...SCAN, TARGETS]);
  t.equal(sub.code, 0, sub.stderr);
  const id = sub.stdout.trim();
  const first = await waitFor(id, (s) => s.shards.some((x) => x.state === 'completed'), 60_000);
  const doneShard = first.shards.find((x) => x.state === 'completed')!;
  const cancel = await prtip(['cluster', 'cancel', '--redis', redis.url, id]);
  t.equal(cancel.code, 0, cancel.stderr);
  t.match(cancel.stderr, /^prtip: cancelled c[0-9a-f]{12}: 1 waiting shards removed, 1 running shards stopping, 1 already done\n$/);
  const after = await waitFor(id, (s) => s.shards.every((x) => x.state !== 'active'), 30_000);
  t.same(after.shards.map((x) => x.state).sort(), ['completed', 'failed', 'removed']);
  t.match(after.shards.find((x) => x.state === 'failed')!.failedReason, /cancelled/);
  t.match(await statusText(id), new RegExp(`^cluster scan ${id}: cancelled`));
  const refused = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c3.duckdb`]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, new RegExp(`^prtip: cluster scan ${id}: 1 of 3 shards are done .*add --partial\n$`));
  const partial = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c3.duckdb`, '--partial']);
  t.equal(partial.code, 0, partial.stderr);
  const got = await rows(`${dir}/c3.duckdb`, id);
  t.equal(got.status, 'interrupted', 'a partial union is stored as interrupted');
  t.equal(got.ports.length, doneShard.manifest!.files.find((f) => f.table === 'ports')!.rows);
  t.equal(got.ports.length, TOTAL / 3, 'one shard\'s worth of ports');
  t.same(got.ports.filter((p) => !reference.ports.includes(p)), [], 'each of them as the single-machine scan has it');
  w.child.kill('SIGTERM');
});

t.test('SIGTERM: the worker checkpoints its shard and hands it back; the next worker continues it', async (t) => {
  const results = `${dir}/r4`;
  const a = startWorker(results);
  await a.waitFor(/ready/);
  const sub = await prtip(['cluster', 'submit', '--redis', redis.url, '--shards', '1', '--max-rate', '40', ...SCAN, TARGETS]);
  t.equal(sub.code, 0, sub.stderr);
  const id = sub.stdout.trim();
  await waitFor(id, (s) => (s.shards[0]!.progress?.done ?? 0) >= TOTAL / 4, 60_000);
  const exited = new Promise<number | null>((r) => a.child.once('exit', (code) => r(code)));
  a.child.kill('SIGTERM');
  t.equal(await exited, 0, `the worker exits cleanly: ${a.log().slice(-300)}`);
  const back = await waitFor(id, () => true);
  t.equal(back.shards[0]!.state, 'waiting', 'the shard is back in the queue (no stall timeout needed)');
  t.equal(back.shards[0]!.stalls, 0);
  const b = startWorker(results);
  const resumed = await b.waitFor(new RegExp(`shard 1/1 of ${id}: resuming from its checkpoint, (\\d+) probes already done`));
  t.ok(Number(resumed[1]) >= TOTAL / 4, `continued at ${resumed[1]} of ${TOTAL}`);
  await waitFor(id, (s) => s.state === 'completed');
  const c = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c4.duckdb`]);
  t.equal(c.code, 0, c.stderr);
  const got = await rows(`${dir}/c4.duckdb`, id);
  t.same(got.ports, reference.ports);
  t.same(got.hosts, reference.hosts);
  b.child.kill('SIGTERM');
});
