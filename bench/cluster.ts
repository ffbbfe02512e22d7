/**
 * prtip cluster overhead (root; run after `npm run build`): the same SYN scan plan, one process
 * (`prtip scan --db`) vs 1, 2 and 4 workers on BullMQ (Redis on a unix socket started here,
 * workers in the lab's scanner namespace), timed from submit to a collected database. On a
 * 2-core machine this measures correctness and overhead, not speed-up. Also one unpaced worker's
 * probe rate, for the README's estimate of 100 vantage points × the IPv4 space × 1 port.
 *
 *   node dist/bench/cluster.js [--range CIDR] [--ports LIST] [--rate PPS] [--workers 1,2,4] [--json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createLab, labSkipReason, type Lab } from '../test/lab/lab.js';
import { startRedis, type TestRedis } from '../test/helpers/redis.js';
import { connectRedis } from '../pipelines/cluster/redis.js';
import { clusterStatus } from '../pipelines/cluster/control.js';
import { openDatabase, scalar } from '../stages/store/index.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PRTIP = path.join(root, 'packages/oclif-cli/bin/run.js');
const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
const RANGE = arg('--range') ?? '198.19.0.0/18';
const PORTS = arg('--ports') ?? '80,443';
const RATE = Number(arg('--rate') ?? 20_000);
const WORKERS = (arg('--workers') ?? '1,2,4').split(',').map(Number);
const json = process.argv.includes('--json');
const log = (m: string) => { if (!json) process.stdout.write(`${m}\n`); };
const SCAN = ['-sS', '-p', PORTS, '--max-retries', '1', '--wait', '500ms'];

async function exec(lab: Lab, argv: string[], ns: 'scanner' | 'target' = 'scanner') {
  const t0 = performance.now();
  const r = await lab.exec(argv, { ns, timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`bench: ${argv.slice(1, 6).join(' ')} exited ${r.code}: ${r.stderr.slice(-400)}`);
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout.toString(), stderr: r.stderr };
}

async function portRows(file: string): Promise<number> {
  const db = await openDatabase(file, { readOnly: true });
  try { return Number(await scalar(db.conn, 'SELECT count(*) FROM ports')); } finally { db.close(); }
}

async function clusterRun(lab: Lab, redis: TestRedis, workers: number, scan: string[], dir: string) {
  const results = path.join(dir, `r${workers}`);
  const procs: ChildProcess[] = [];
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    const p = lab.spawn([process.execPath, PRTIP, 'worker', '--redis', redis.url, '--results', results], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', (c: Buffer) => { if (/ready/.test(c.toString())) ready++; });
    procs.push(p);
  }
  while (ready < workers) await new Promise((r) => setTimeout(r, 50));
  const conn = await connectRedis(redis.url);
  try {
    const t0 = performance.now();
    const sub = await exec(lab, [process.execPath, PRTIP, 'cluster', 'submit', '--redis', redis.url, '--shards', String(workers), ...scan, RANGE]);
    const id = sub.stdout.trim();
    for (;;) {
      const s = await clusterStatus(conn, id);
      if (s.state === 'completed') break;
      if (s.state === 'failed') throw new Error(`bench: cluster scan failed: ${s.failedReason}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const file = path.join(dir, `cluster-${workers}.duckdb`);
    await exec(lab, [process.execPath, PRTIP, 'cluster', 'collect', '--redis', redis.url, id, '--db', file]);
    const seconds = (performance.now() - t0) / 1000;
    const s = await clusterStatus(conn, id);
    // A shard's own rate: its probes over its time from start to last report.
    const shardRates = s.shards.map((x) => x.progress!.probes / Math.max(0.001, (x.progress!.updatedAt - x.progress!.startedAt) / 1000));
    return { seconds, rows: await portRows(file), shardRates };
  } finally {
    conn.disconnect();
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)))));
  }
}

const skip = labSkipReason();
if (skip) {
  console.error(`bench cluster: needs the lab (${skip})`);
  process.exit(1);
}
const lab = await createLab({ anyIpV4: RANGE, tcpListeners: [80] });
const redis = await startRedis();
try {
  const dir = fs.mkdtempSync(path.join(lab.tmpDir, 'bench-'));
  const paced = [...SCAN, '--max-rate', String(RATE)];
  const single = await exec(lab, [process.execPath, PRTIP, 'scan', ...paced, '--db', path.join(dir, 'single.duckdb'), RANGE]);
  const probes = await portRows(path.join(dir, 'single.duckdb'));
  log(`plan: ${RANGE} × ${PORTS} = ${probes} probes at --max-rate ${RATE} (global)`);
  log(`single process (prtip scan --db): ${single.seconds.toFixed(2)} s`);
  const out: Record<string, unknown> = { range: RANGE, ports: PORTS, rate: RATE, probes, single: single.seconds, workers: {} as Record<string, unknown> };
  for (const w of WORKERS) {
    const r = await clusterRun(lab, redis, w, paced, dir);
    (out.workers as Record<string, unknown>)[w] = { seconds: r.seconds, overhead: r.seconds / single.seconds, rows: r.rows };
    log(`${w} worker${w > 1 ? 's' : ''}, ${w} shard${w > 1 ? 's' : ''}: ${r.seconds.toFixed(2)} s to a collected database = ${(r.seconds / single.seconds).toFixed(2)}× the single process; ${r.rows} port rows ${r.rows === probes ? '(= single)' : `(single has ${probes}!)`}`);
  }
  const unpaced = await clusterRun(lab, redis, 1, SCAN, dir);
  const perWorker = unpaced.shardRates[0]!;
  out.unpacedWorkerPps = perWorker;
  const ipv4 = 2 ** 32;
  out.estimate100 = ipv4 / (100 * perWorker);
  log(`one unpaced worker: ${Math.round(perWorker).toLocaleString('en-US')} probes/s (shard start to last report)`);
  log(`estimate: 100 vantage points × ${Math.round(perWorker).toLocaleString('en-US')} probes/s over 2^32 addresses × 1 port ≈ ${(ipv4 / (100 * perWorker) / 60).toFixed(1)} min`);
  if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await redis.stop();
  await lab.teardown();
}
