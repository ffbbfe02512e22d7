/**
 * `prtip cluster submit`'s policy once the CLI has validated the scan as `prtip scan` would: one
 * seed for every shard, a global --max-rate split over the shards (each may run at the same time,
 * so each gets 1/N and the sum never exceeds what was asked), and one flow — shard jobs under a
 * parent merge job — enqueued on BullMQ.
 */
import { FlowProducer } from 'bullmq';
import type { Redis } from 'ioredis';
import { UserInputError, type ScanPlan } from '../../stages/records/index.js';
import { MERGE_QUEUE, SHARD_QUEUE, newClusterId, shardJobId, type ClusterScanData, type ShardJobData } from './model.js';

/** Options submit rewrites per shard: they are set from the cluster's own (seed, shard, split rates). */
const PER_SHARD = new Set(['--seed', '--max-rate', '--rate', '--min-rate']);

/** `argv` without the options PER_SHARD names (values too), up to a `--` (after it everything is a target). */
export function withoutPerShardOptions(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = tok.includes('=') ? tok.slice(0, tok.indexOf('=')) : tok;
    if (PER_SHARD.has(name)) {
      if (!tok.includes('=')) i++;
      continue;
    }
    out.push(tok);
  }
  return out;
}

/** A rate as the CLI parses it back (at most 6 decimals). */
function rateText(r: number): string {
  return String(Math.round(r * 1e6) / 1e6);
}

export interface ShardArgvOptions {
  seed: number;
  shards: number;
  maxRate?: number;
  minRate?: number;
}

/** The per-shard rate ceiling (and floor) when `shards` may all run at once; refuses a split below what the CLI accepts. */
export function splitRate(flag: string, rate: number | undefined, shards: number): number | undefined {
  if (rate === undefined) return undefined;
  const each = Math.round((rate / shards) * 1e6) / 1e6;
  if (each <= 0) throw new UserInputError(`${flag} ${rate} over ${shards} shards is below 0.000001 probes/s per shard`);
  return each;
}

/** The exact `prtip scan` argv of shard `index` (1-based). */
export function shardArgv(argv: string[], index: number, o: ShardArgvOptions): string[] {
  const maxRate = splitRate('--max-rate', o.maxRate, o.shards);
  const minRate = splitRate('--min-rate', o.minRate, o.shards);
  return [
    '--seed', String(o.seed), '--shard', `${index}/${o.shards}`,
    ...(maxRate !== undefined ? ['--max-rate', rateText(maxRate)] : []),
    ...(minRate !== undefined ? ['--min-rate', rateText(minRate)] : []),
    ...withoutPerShardOptions(argv),
  ];
}

export interface SubmitOptions extends ShardArgvOptions {
  connection: Redis;
  argv: string[];
  commandLine: string;
  plan: ScanPlan;
}

export async function submitClusterScan(o: SubmitOptions): Promise<ClusterScanData> {
  const id = newClusterId();
  const data: ClusterScanData = {
    id, argv: o.argv, commandLine: o.commandLine, shards: o.shards, seed: o.seed, plan: o.plan, maxRate: o.maxRate,
    shardMaxRate: splitRate('--max-rate', o.maxRate, o.shards), submittedAt: Date.now(),
  };
  const children = Array.from({ length: o.shards }, (_, k) => {
    const shard: ShardJobData = { id, index: k + 1, count: o.shards, argv: shardArgv(o.argv, k + 1, o) };
    return {
      name: 'shard', queueName: SHARD_QUEUE, data: shard,
      // A failed shard fails the merge (cluster status shows why); collect --partial still takes the others.
      opts: { jobId: shardJobId(id, k + 1), failParentOnFailure: true, removeOnComplete: false, removeOnFail: false },
    };
  });
  const flow = new FlowProducer({ connection: o.connection });
  try {
    await flow.add({ name: 'merge', queueName: MERGE_QUEUE, data, opts: { jobId: id, removeOnComplete: false, removeOnFail: false }, children });
  } finally {
    await flow.close();
  }
  return data;
}
