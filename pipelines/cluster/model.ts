/**
 * The cluster's vocabulary: queue names, job ids and the data each job carries. A cluster scan is
 * one BullMQ flow: a parent `merge` job (id = the cluster scan id) over one `shard` job per
 * `--shard i/N` slice. Jobs carry command lines and small manifests only; results stay in files.
 */
import crypto from 'node:crypto';
import type { ScanPlan } from '../../stages/records/index.js';
import type { ShardManifest } from '../../stages/store/index.js';

export const SHARD_QUEUE = 'prtip-shards';
export const MERGE_QUEUE = 'prtip-merge';

/** What `prtip cluster submit` stores on the parent job. */
export interface ClusterScanData {
  id: string;
  /** The scan's own options and targets, as given (without --redis/--shards). */
  argv: string[];
  /** The submit command line, for the collected scans row. */
  commandLine: string;
  shards: number;
  seed: number;
  /** The whole plan (every shard's probes together). */
  plan: ScanPlan;
  /** --max-rate given to submit (global), and what each shard got. */
  maxRate?: number;
  shardMaxRate?: number;
  submittedAt: number;
}

/** What one shard job carries: the exact argv `prtip scan` would run for this slice. */
export interface ShardJobData {
  id: string;
  index: number;
  count: number;
  argv: string[];
}

/** Live progress a worker reports on its shard job (job.updateProgress), read by cluster status. */
export interface ShardProgress {
  worker: string;
  /** Probes of this shard with their answer (finished batches), and the shard's total. */
  done: number;
  probes: number;
  /** Probes already done when this attempt started (from the checkpoint: resumed, not redone). */
  resumedFrom: number;
  /** Port records so far by state, and hosts seen up. */
  open: number;
  closed: number;
  filtered: number;
  hostsUp: number;
  startedAt: number;
  updatedAt: number;
}

/** What the merge job returns when every shard is in. */
export interface MergeResult {
  database: string;
  rows: Record<string, number>;
  shards: number;
}

export type { ShardManifest };

export function newClusterId(): string {
  return `c${crypto.randomBytes(6).toString('hex')}`;
}

export function shardJobId(id: string, index: number): string {
  return `${id}-${index}`;
}

/** Redis key whose presence tells workers to stop a scan's shards. */
export function cancelKey(id: string): string {
  return `prtip:cluster:${id}:cancelled`;
}

export function isClusterId(s: string): boolean {
  return /^c[0-9a-f]{12}$/.test(s);
}
