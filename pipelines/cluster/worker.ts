/**
 * `prtip worker`: runs a cluster's shard jobs and merge jobs from BullMQ.
 *
 * A shard job is one `prtip scan --shard i/N` run (the runner the CLI passes in) whose
 * checkpoint database lives under the results root, ROOT/ID/shard-I.duckdb. When it finishes, its
 * tables are written as Parquet beside it and the job returns their manifest. A worker killed
 * mid-shard leaves the job's lock to expire: BullMQ's stalled-job check hands it to another
 * worker, whose runner finds the checkpoint and continues it (`--resume` semantics), so finished
 * batches are neither probed again nor stored twice. The merge job (the flow's parent) runs once
 * every shard is in and unions their Parquet into ROOT/ID/scan.duckdb.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AnyRecord, HostRecord, PortRecord, ProgressRecord, ScanHeader } from '../../stages/records/index.js';
import { openDatabase, query, unionShards, writeShardParquet, type ShardManifest } from '../../stages/store/index.js';
import { MERGE_QUEUE, SHARD_QUEUE, cancelKey, type ClusterScanData, type MergeResult, type ShardJobData, type ShardProgress } from './model.js';

/** What a shard run already had when it started (a resumed checkpoint), for the live counts. */
export interface ShardPrior {
  done: number;
  open: number;
  closed: number;
  filtered: number;
  hostsUp: number;
}

export interface ShardRunContext {
  /** The shard's checkpoint database: continue the scan in it if it holds one, else start it there. */
  dbPath: string;
  signal: AbortSignal;
  /** Every record of the run (the live counts come from these). */
  onRecord(rec: AnyRecord): void;
  /** Called before the run when it continues a checkpoint. */
  onResume(prior: ShardPrior): void;
  warn(message: string): void;
}

export interface ShardRun {
  scanId: string;
  /** The scan stopped before its end (signal): the checkpoint holds the rest to do. */
  interrupted: boolean;
  /** The checkpoint already held the finished scan (its earlier run died before returning). */
  alreadyComplete?: boolean;
}

/** Runs the scan of one shard: in the CLI, `prtip scan`'s own option mapping and resume. */
export type ShardRunner = (job: ShardJobData, ctx: ShardRunContext) => Promise<ShardRun>;

export interface ClusterWorkerOptions {
  connection: Redis;
  /** Shard jobs at once in this worker. */
  concurrency: number;
  /** Results root (a directory, shared between workers for resumes and with collect). */
  results: string;
  runShard: ShardRunner;
  /** How long a dead worker's job stays locked before another worker takes it over (ms). */
  stallMs: number;
  log(message: string): void;
}

export interface ClusterWorker {
  name: string;
  /** Stops taking jobs; running shards are checkpointed and handed back to the queue. */
  stop(): Promise<void>;
}

const SHUTDOWN = 'worker shutting down';
/** How long a shard whose checkpoint is held by another run waits before it is tried again. */
const BUSY_RETRY_MS = 2000;

/**
 * A job BullMQ handed out again while an earlier run of it still holds the checkpoint (its lock
 * was not renewed in time: a stalled event loop, a partition): DuckDB's file lock refuses the
 * second opener. The job waits and is tried again; by then the earlier run has finished (the
 * retry finds the checkpoint complete) or died (the retry continues it).
 */
function checkpointBusy(err: unknown): boolean {
  return /Could not set lock|Conflicting lock|is locked by another process/i.test((err as Error)?.message ?? '');
}
const CANCELLED = 'cancelled by prtip cluster cancel';

export function shardPaths(results: string, id: string, index: number): { dbPath: string; rel: string } {
  return { dbPath: path.join(results, id, `shard-${index}.duckdb`), rel: path.join(id, `shard-${index}`) };
}

export async function startClusterWorker(o: ClusterWorkerOptions): Promise<ClusterWorker> {
  const name = `${os.hostname()}:${process.pid}`;
  const running = new Set<AbortController>();
  /** Checkpoints this process has open: a job handed out twice must not open one twice here. */
  const busy = new Set<string>();
  const common = {
    connection: o.connection,
    name,
    lockDuration: o.stallMs,
    stalledInterval: o.stallMs,
    // Every stall is a worker that died; the next one resumes from the checkpoint, so keep going.
    maxStalledCount: 1000,
  };

  const shards = new Worker<ShardJobData, ShardManifest>(SHARD_QUEUE, async (job, token) => {
    const d = job.data;
    if (await o.connection.exists(cancelKey(d.id))) throw new UnrecoverableError(CANCELLED);
    const { dbPath, rel } = shardPaths(o.results, d.id, d.index);
    fs.mkdirSync(path.dirname(dbPath), { recursive: true });
    const later = async (why: string): Promise<never> => {
      o.log(`shard ${d.index}/${d.count} of ${d.id}: ${why}; trying again in ${BUSY_RETRY_MS / 1000} s`);
      await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
      throw new DelayedError();
    };
    if (busy.has(dbPath)) return later('already running in this worker');
    const controller = new AbortController();
    running.add(controller);
    busy.add(dbPath);
    const p: ShardProgress = {
      worker: name, done: 0, probes: 0, resumedFrom: 0, open: 0, closed: 0, filtered: 0, hostsUp: 0, startedAt: Date.now(), updatedAt: Date.now(),
    };
    const tick = async () => {
      p.updatedAt = Date.now();
      await job.updateProgress({ ...p });
      if (!controller.signal.aborted && (await o.connection.exists(cancelKey(d.id)))) controller.abort(CANCELLED);
    };
    const timer = setInterval(() => { tick().catch(() => {}); }, 1000);
    o.log(`shard ${d.index}/${d.count} of ${d.id}: started${job.attemptsStarted > 1 || job.stalledCounter > 0 ? ' (again, after a stall)' : ''}`);
    let run: ShardRun;
    try {
      run = await o.runShard(d, {
        dbPath,
        signal: controller.signal,
        warn: (m) => o.log(`shard ${d.index}/${d.count}: warning: ${m}`),
        onResume: (prior) => {
          Object.assign(p, prior, { resumedFrom: prior.done });
          o.log(`shard ${d.index}/${d.count} of ${d.id}: resuming from its checkpoint, ${prior.done} probes already done`);
        },
        onRecord: (rec) => countRecord(p, rec),
      });
    } catch (err) {
      if (checkpointBusy(err)) return later('its checkpoint is held by another run');
      // A stage may end on the abort itself (throwing the signal's reason): a cancel is still a cancel.
      if (controller.signal.reason === CANCELLED) throw new UnrecoverableError(CANCELLED);
      throw err;
    } finally {
      clearInterval(timer);
      running.delete(controller);
      busy.delete(dbPath);
    }
    if (run.alreadyComplete) o.log(`shard ${d.index}/${d.count} of ${d.id}: its checkpoint holds the finished scan (the earlier run died before reporting it)`);
    await tick().catch(() => {});
    if (controller.signal.aborted || run.interrupted) {
      if (controller.signal.reason === CANCELLED) throw new UnrecoverableError(CANCELLED);
      // Shutdown: the checkpoint is committed; hand the shard back for any worker to continue.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    let db;
    try {
      db = await openDatabase(dbPath);
    } catch (err) {
      if (checkpointBusy(err)) return later('its checkpoint is held by another run');
      throw err;
    }
    try {
      const files = await writeShardParquet(db, run.scanId, o.results, rel);
      const [[probes, resumed, status]] = (await query(db.conn, 'SELECT planned_probes, resumed, status FROM scans WHERE scan_id = $1', [run.scanId])).rows as Array<[number, number, string]>;
      o.log(`shard ${d.index}/${d.count} of ${d.id}: done, ${files.find((f) => f.table === 'ports')!.rows} port rows`);
      return { clusterId: d.id, shard: { index: d.index, count: d.count }, scanId: run.scanId, root: path.resolve(o.results), files, probes: Number(probes), resumed: Number(resumed), status };
    } finally {
      db.close();
    }
  }, { ...common, concurrency: o.concurrency, autorun: false });

  const merges = new Worker<ClusterScanData, MergeResult>(MERGE_QUEUE, async (job) => mergeShards(job, o), { ...common, concurrency: 1, autorun: false });

  for (const w of [shards, merges]) {
    w.on('failed', (job, err) => { if (job && err.message !== SHUTDOWN) o.log(`${job.name} ${job.id}: failed: ${err.message}`); });
    w.on('error', (err) => o.log(`redis: ${err.message}`));
  }
  void shards.run();
  void merges.run();
  await Promise.all([shards.waitUntilReady(), merges.waitUntilReady()]);
  return {
    name,
    async stop() {
      for (const c of running) c.abort(SHUTDOWN);
      await Promise.all([shards.close(), merges.close()]);
    },
  };
}

function countRecord(p: ShardProgress, rec: AnyRecord): void {
  switch (rec.type) {
    case 'scan': {
      const plan = (rec as ScanHeader).plan;
      if (plan) p.probes = plan.shardProbes;
      break;
    }
    case 'progress': p.done += (rec as ProgressRecord).count; break;
    case 'port': {
      const s = (rec as PortRecord).state;
      if (s === 'open') p.open++;
      else if (s === 'closed') p.closed++;
      else p.filtered++;
      break;
    }
    case 'host': if ((rec as HostRecord).state === 'up') p.hostsUp++; break;
    default: break;
  }
}

async function mergeShards(job: Job<ClusterScanData, MergeResult>, o: ClusterWorkerOptions): Promise<MergeResult> {
  const manifests = Object.values(await job.getChildrenValues<ShardManifest>()).sort((a, b) => a.shard.index - b.shard.index);
  const file = path.join(o.results, job.data.id, 'scan.duckdb');
  // A merge that died half way is redone from the shards' Parquet.
  for (const f of [file, `${file}.wal`]) fs.rmSync(f, { force: true });
  const db = await openDatabase(file);
  try {
    const rows = await unionShards(db, { scanId: job.data.id, args: job.data.commandLine, complete: manifests.length === job.data.shards }, manifests);
    o.log(`merge ${job.data.id}: ${manifests.length} shards, ${rows.ports} port rows → ${file}`);
    return { database: path.resolve(file), rows, shards: manifests.length };
  } finally {
    db.close();
  }
}
