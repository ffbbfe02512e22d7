/**
 * Reading and steering a cluster scan from anywhere that reaches its Redis: status (per-shard
 * progress as the workers report it), cancel, and collect (the finished shards' Parquet unioned
 * into a database, checked against their manifests).
 */
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { UserInputError } from '../../stages/records/index.js';
import { unionShards, type Database, type TableName } from '../../stages/store/index.js';
import {
  MERGE_QUEUE, SHARD_QUEUE, cancelKey, isClusterId, shardJobId,
  type ClusterScanData, type MergeResult, type ShardJobData, type ShardManifest, type ShardProgress,
} from './model.js';

export interface ShardStatus {
  index: number;
  /** BullMQ's state (waiting, active, completed, failed, …), or removed (cancelled before it ran). */
  state: string;
  progress?: ShardProgress;
  manifest?: ShardManifest;
  failedReason?: string;
  /** Times a worker died holding it (each time another continued it from its checkpoint). */
  stalls: number;
}

export interface ClusterStatus {
  scan: ClusterScanData;
  /** The merge job's state: waiting-children until every shard is in, then completed (or failed). */
  state: string;
  cancelled: boolean;
  merge?: MergeResult;
  failedReason?: string;
  shards: ShardStatus[];
}

async function withQueues<T>(connection: Redis, fn: (merge: Queue, shards: Queue) => Promise<T>): Promise<T> {
  const merge = new Queue(MERGE_QUEUE, { connection });
  const shards = new Queue(SHARD_QUEUE, { connection });
  try {
    return await fn(merge, shards);
  } finally {
    await Promise.all([merge.close(), shards.close()]);
  }
}

async function parentJob(merge: Queue, id: string): Promise<Job<ClusterScanData, MergeResult>> {
  if (!isClusterId(id)) throw new UserInputError(`"${id}" is not a cluster scan id (prtip cluster submit prints one, like c0123456789ab)`);
  const job = (await merge.getJob(id)) as Job<ClusterScanData, MergeResult> | undefined;
  if (!job) throw new UserInputError(`no cluster scan ${id} in this Redis`);
  return job;
}

export async function clusterStatus(connection: Redis, id: string): Promise<ClusterStatus> {
  return withQueues(connection, async (merge, shardQueue) => {
    const parent = await parentJob(merge, id);
    const scan = parent.data;
    const shards: ShardStatus[] = [];
    for (let i = 1; i <= scan.shards; i++) {
      const job = (await shardQueue.getJob(shardJobId(id, i))) as Job<ShardJobData, ShardManifest> | undefined;
      if (!job) {
        shards.push({ index: i, state: 'removed', stalls: 0 });
        continue;
      }
      const state = await job.getState();
      const progress = typeof job.progress === 'object' && job.progress !== null ? (job.progress as unknown as ShardProgress) : undefined;
      shards.push({
        index: i, state, stalls: job.stalledCounter ?? 0,
        ...(progress ? { progress } : {}),
        ...(state === 'completed' && job.returnvalue ? { manifest: job.returnvalue } : {}),
        ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      });
    }
    const state = await parent.getState();
    return {
      scan, state, cancelled: (await connection.exists(cancelKey(id))) === 1, shards,
      ...(state === 'completed' && parent.returnvalue ? { merge: parent.returnvalue } : {}),
      ...(parent.failedReason ? { failedReason: parent.failedReason } : {}),
    };
  });
}

/** Stops a cluster scan: waiting shards are removed; running ones stop within a second on their workers (checkpointed). */
export async function cancelClusterScan(connection: Redis, id: string): Promise<{ removed: number; running: number; done: number }> {
  return withQueues(connection, async (merge, shardQueue) => {
    const parent = await parentJob(merge, id);
    // States before the flag is set: once it is, workers fail their running shards within a second.
    const jobs: Array<[Job, string]> = [];
    for (let i = 1; i <= parent.data.shards; i++) {
      const job = await shardQueue.getJob(shardJobId(id, i));
      if (job) jobs.push([job, await job.getState()]);
    }
    await connection.set(cancelKey(id), String(Date.now()), 'EX', 30 * 24 * 3600);
    let removed = 0;
    let running = 0;
    let done = 0;
    for (const [job, state] of jobs) {
      if (state === 'active') running++;
      else if (state === 'completed') done++;
      else if (state !== 'failed') {
        try {
          await job.remove();
          removed++;
        } catch {
          running++; // taken by a worker meanwhile: it sees the cancel within a second
        }
      }
    }
    return { removed, running, done };
  });
}

export interface CollectResult {
  rows: Record<TableName, number>;
  shards: number;
  complete: boolean;
}

/**
 * Unions the finished shards of a cluster scan into `db` as one scan (id = the cluster scan id).
 * Refuses while shards are missing unless `partial`; `results` relocates the shards' files when
 * the shared results directory is mounted elsewhere here.
 */
export async function collectClusterScan(connection: Redis, id: string, db: Database, opts: { partial: boolean; results?: string }): Promise<CollectResult> {
  const status = await clusterStatus(connection, id);
  const done = status.shards.filter((s) => s.manifest);
  const complete = done.length === status.scan.shards;
  if (!complete && !opts.partial) {
    const waiting = status.shards.filter((s) => !s.manifest).map((s) => `${s.index} ${s.state}`);
    throw new UserInputError(
      `cluster scan ${id}: ${done.length} of ${status.scan.shards} shards are done (not: ${waiting.slice(0, 8).join(', ')}${waiting.length > 8 ? ', …' : ''}); wait (prtip cluster status ${id}) or add --partial`,
    );
  }
  const rows = await unionShards(db, { scanId: id, args: status.scan.commandLine, complete }, done.map((s) => s.manifest!), opts.results);
  return { rows, shards: done.length, complete };
}
