// prtip cluster on a real redis-server (unix socket) with real workers as child processes,
// connect-scanning listeners this test starts on loopback (no root needed). The collected
// database must hold exactly what a single-machine `prtip scan` of the same targets finds — also
// after a worker is SIGKILLed mid-shard, when another worker continues that shard from its
// checkpoint instead of from zero (counted at the listeners: most of its open ports saw one
// connection, not two), and after a worker stopped with SIGTERM handed its shard back. Cancel and
// collect --partial too. The subtests run in order and share workers (each start costs seconds):
// w1 and w2 serve the first two, w1 is then killed, w2 stopped, w3 (--concurrency 2) takes over.
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
  const child = spawn(process.execPath, [PRTIP_BIN, 'worker', '--redis', redis.url, '--results', results, '--stall-timeout', '5s', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
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
const results = `${dir}/results`;

// The reference: one machine, one process, the same targets (its own seed: order does not matter).
let reference: Awaited<ReturnType<typeof rows>>;
let w1: WatchedWorker;
let w2: WatchedWorker;
t.before(async () => {
  w1 = startWorker(results);
  w2 = startWorker(results);
  const single = await prtip(['scan', ...SCAN, '--db', `${dir}/single.duckdb`, TARGETS]);
  if (single.code !== 0) throw new Error(single.stderr);
  reference = await rows(`${dir}/single.duckdb`);
  await Promise.all([w1.waitFor(/ready/), w2.waitFor(/ready/)]);
  accepts.clear();
});

t.test('the single-machine reference', async (t) => {
  t.equal(reference.ports.length, TOTAL, 'the single-machine scan has a row per probe');
  t.equal(reference.ports.filter((p) => / open /.test(p)).length, 2 * SPAN, 'and finds every listener open');
});

t.test('4 shards over 2 workers: the collected scan equals the single-machine scan', async (t) => {
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
  const merged = await rows(path.join(results, id, 'scan.duckdb'), id);
  t.same(merged.ports, reference.ports, 'the merge job\'s database on the results volume too');
  // --results: the shared directory mounted elsewhere on the collecting machine.
  fs.cpSync(path.join(results, id), path.join(dir, 'elsewhere', id), { recursive: true });
  const moved = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c1m.duckdb`, '--results', `${dir}/elsewhere`]);
  t.equal(moved.code, 0, moved.stderr);
  t.same((await rows(`${dir}/c1m.duckdb`, id)).ports, reference.ports, 'collected from the other mount point');
  // A changed Parquet file is caught by its manifest's sha256.
  fs.appendFileSync(path.join(results, id, 'shard-2', 'ports.parquet'), 'x');
  const bad = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c1b.duckdb`]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^prtip: shard 2\/4: .*ports\.parquet does not match its manifest's sha256\n$/);
});

t.test('cancel: waiting shards are dropped, running ones stop; collect takes the finished ones only with --partial', async (t) => {
  // 6 shards of 40 probes at 8 probes/s each over 2 workers: three rounds of about 5 s.
  const sub = await prtip(['cluster', 'submit', '--redis', redis.url, '--shards', '6', '--max-rate', '48', ...SCAN, TARGETS]);
  t.equal(sub.code, 0, sub.stderr);
  const id = sub.stdout.trim();
  await waitFor(id, (s) => s.shards.some((x) => x.state === 'completed'), 60_000);
  const cancel = await prtip(['cluster', 'cancel', '--redis', redis.url, id]);
  t.equal(cancel.code, 0, cancel.stderr);
  const m = /^prtip: cancelled c[0-9a-f]{12}: (\d) waiting shards removed, (\d) running shards stopping, (\d) already done\n$/.exec(cancel.stderr);
  t.ok(m, cancel.stderr);
  const [removed, running, done] = m!.slice(1).map(Number) as [number, number, number];
  t.equal(removed + running + done, 6, `${cancel.stderr} ${w1.log()} ${w2.log()}`);
  t.ok(done >= 1 && removed >= 1, `one done before the cancel, one not yet started: ${cancel.stderr}`);
  const after = await waitFor(id, (s) => s.shards.every((x) => x.state !== 'active'), 30_000);
  const states = after.shards.map((x) => x.state);
  t.equal(states.filter((x) => x === 'removed').length, removed, 'the waiting ones are gone');
  t.equal(states.filter((x) => x === 'completed').length + states.filter((x) => x === 'failed').length, running + done, `the running ones stopped (or finished meanwhile): ${states.join(' ')}`);
  for (const f of after.shards.filter((x) => x.state === 'failed')) t.match(f.failedReason, /cancelled/);
  t.match(await statusText(id), new RegExp(`^cluster scan ${id}: cancelled`));
  const finished = after.shards.filter((x) => x.state === 'completed');
  const refused = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c3.duckdb`]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, new RegExp(`^prtip: cluster scan ${id}: ${finished.length} of 6 shards are done .*add --partial\\n$`));
  const partial = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c3.duckdb`, '--partial']);
  t.equal(partial.code, 0, partial.stderr);
  const got = await rows(`${dir}/c3.duckdb`, id);
  t.equal(got.status, 'interrupted', 'a partial union is stored as interrupted');
  t.equal(got.ports.length, finished.length * (TOTAL / 6), 'the finished shards\' ports');
  t.same(got.ports.filter((p) => !reference.ports.includes(p)), [], 'each of them as the single-machine scan has it');
});

t.test('a worker SIGKILLed mid-shard: another resumes the shard from its checkpoint, the union is still exact', async (t) => {
  accepts.clear();
  // Slow enough to kill mid-shard: 20 probes/s per shard (the global --max-rate split over 2).
  const sub = await prtip(['cluster', 'submit', '--redis', redis.url, '--shards', '2', '--max-rate', '40', ...SCAN, TARGETS]);
  t.equal(sub.code, 0, sub.stderr);
  t.match(sub.stderr, /at most 20 probes\/s per shard/);
  const id = sub.stdout.trim();
  const started = await w1.waitFor(new RegExp(`shard (\\d)/2 of ${id}: started`));
  const shard = Number(started[1]);
  await waitFor(id, (s) => (s.shards[shard - 1]!.progress?.done ?? 0) >= TOTAL / 8, 60_000);
  // The status counts probes sent; the checkpoint lags behind it (the middlebox stage's checks of
  // 127.0.0.1-2, which answer on every port and never send a byte, then the store's 1 s commits):
  // the kill comes 2 s later, still well inside the shard's 6 s.
  await new Promise((r) => setTimeout(r, 2000));
  w1.child.kill('SIGKILL');
  const resumed = await w2.waitFor(new RegExp(`shard ${shard}/2 of ${id}: resuming from its checkpoint, (\\d+) probes already done`), 60_000);
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
});

t.test('SIGTERM: the worker checkpoints its shard and hands it back; the next worker continues it', async (t) => {
  const sub = await prtip(['cluster', 'submit', '--redis', redis.url, '--shards', '1', '--max-rate', '40', ...SCAN, TARGETS]);
  t.equal(sub.code, 0, sub.stderr);
  const id = sub.stdout.trim();
  await waitFor(id, (s) => (s.shards[0]!.progress?.done ?? 0) >= TOTAL / 4, 60_000);
  const exited = new Promise<number | null>((r) => w2.child.once('exit', (code) => r(code)));
  w2.child.kill('SIGTERM');
  t.equal(await exited, 0, `the worker exits cleanly: ${w2.log().slice(-300)}`);
  const back = await waitFor(id, () => true);
  t.equal(back.shards[0]!.state, 'waiting', 'the shard is back in the queue (no stall timeout needed)');
  t.equal(back.shards[0]!.stalls, 0);
  const w3 = startWorker(results, ['--concurrency', '2']);
  const resumed = await w3.waitFor(new RegExp(`shard 1/1 of ${id}: resuming from its checkpoint, (\\d+) probes already done`));
  t.ok(Number(resumed[1]) >= TOTAL / 4, `continued at ${resumed[1]} of ${TOTAL}`);
  await waitFor(id, (s) => s.state === 'completed');
  const c = await prtip(['cluster', 'collect', '--redis', redis.url, id, '--db', `${dir}/c4.duckdb`]);
  t.equal(c.code, 0, c.stderr);
  const got = await rows(`${dir}/c4.duckdb`, id);
  t.same(got.ports, reference.ports);
  t.same(got.hosts, reference.hosts);

  // --concurrency 2: one worker runs two shards at once.
  const two = await prtip(['cluster', 'submit', '--redis', redis.url, '--shards', '2', '--max-rate', '40', ...SCAN, TARGETS]);
  t.equal(two.code, 0, two.stderr);
  const both = await waitFor(two.stdout.trim(), (s) => s.shards.every((x) => x.state === 'active') || s.shards.some((x) => x.state === 'completed'));
  t.same(both.shards.map((x) => x.state), ['active', 'active'], 'both shards run at once on w3');
  t.equal(new Set(both.shards.map((x) => x.progress?.worker)).size, 1, 'on the one worker');
  w3.child.kill('SIGTERM');
});
