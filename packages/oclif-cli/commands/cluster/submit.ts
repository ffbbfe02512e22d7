import crypto from 'node:crypto';
import { connectRedis } from '../../../../pipelines/cluster/redis.js';
import { submitClusterScan } from '../../../../pipelines/cluster/submit.js';
import { UserInputError } from '../../../../stages/records/index.js';
import { commandHelp, PrtipCommand } from '../../lib/base-command.js';
import { checkClusterScan, NOT_FOR_CLUSTER, scanArgvOf } from '../../lib/cluster-scan.js';
import type { CliOptions, FlagGroup } from '../../lib/flags.js';
import { SCAN_GROUPS } from '../../lib/scan-checks.js';

const GROUPS: FlagGroup[] = ['cluster', ...SCAN_GROUPS];

export default class ClusterSubmit extends PrtipCommand {
  static override summary = 'Split a scan into shard jobs on BullMQ (Redis) for prtip workers; prints the cluster scan id';
  static override description = commandHelp(
    'prtip cluster submit --redis URL --shards N [scan options] TARGET...',
    'Checks the scan exactly as prtip scan would (same messages), then enqueues one BullMQ flow:\n' +
      'N shard jobs (prtip scan --shard i/N, all with one --seed) under a merge job that unions\n' +
      'them when every shard is in. Prints the cluster scan id on stdout. --max-rate/--min-rate are\n' +
      'for the whole cluster: each shard gets 1/N of them, so the sum holds even when all run at\n' +
      'once. Workers (prtip worker) run the shards; see prtip cluster status/collect/cancel.',
    GROUPS,
    [
      'prtip cluster submit --redis redis://10.0.0.5:6379 --shards 16 -sS -p 80,443 --max-rate 1m 198.18.0.0/15',
      'prtip cluster submit --redis unix:///run/prtip/redis.sock --shards 4 -sT -sV -p 22,80 198.18.0.0/24',
    ],
    NOT_FOR_CLUSTER,
  );

  protected readonly commandName = 'cluster submit';
  protected readonly groups = GROUPS;
  protected override readonly takesTargets = true;
  protected override readonly refused = NOT_FOR_CLUSTER;

  protected async main(o: CliOptions): Promise<void> {
    if (o.redis === undefined) throw new UserInputError('prtip cluster submit needs --redis URL (redis://host:port or unix:///path)');
    if (o.shards === undefined) throw new UserInputError('prtip cluster submit needs --shards N (how many shard jobs)');
    if (o.verbose > 0) throw new UserInputError(`prtip cluster submit does not take -v: ${NOT_FOR_CLUSTER['-v']}`);
    const argv = scanArgvOf(this.argv);
    const plan = await checkClusterScan(o, argv, new AbortController().signal);
    if (o.shards > plan.probes) throw new UserInputError(`--shards ${o.shards} is more than the scan's ${plan.probes} probes`);
    const seed = o.seed ?? crypto.randomBytes(4).readUInt32BE(0);
    const connection = await connectRedis(o.redis);
    try {
      const scan = await submitClusterScan({
        connection, argv, commandLine: this.commandLine(), shards: o.shards, seed, plan, maxRate: o.maxRate, minRate: o.minRate,
      });
      process.stdout.write(`${scan.id}\n`);
      process.stderr.write(
        `prtip: cluster scan ${scan.id}: ${plan.probes} probes (${plan.hosts} hosts × ${plan.portsPerHost} ports) in ${o.shards} shards, seed ${seed}` +
          `${scan.shardMaxRate !== undefined ? `, at most ${scan.shardMaxRate} probes/s per shard` : ''}\n`,
      );
    } finally {
      connection.disconnect();
    }
  }
}
