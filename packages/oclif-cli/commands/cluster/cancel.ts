import { cancelClusterScan } from '../../../../pipelines/cluster/control.js';
import { connectRedis } from '../../../../pipelines/cluster/redis.js';
import { commandHelp, PrtipCommand } from '../../lib/base-command.js';
import { clusterId } from '../../lib/cluster-scan.js';
import type { CliOptions, FlagGroup } from '../../lib/flags.js';

const GROUPS: FlagGroup[] = ['cluster'];
const ONLY_REDIS = { '--shards': 'cancel takes the cluster scan id and --redis', '--concurrency': 'it is a worker option', '--results': 'it is a worker option', '--stall-timeout': 'it is a worker option', '--partial': 'it is a collect option' };

export default class ClusterCancel extends PrtipCommand {
  static override summary = 'Stop a cluster scan: waiting shards are dropped, running ones stop within a second';
  static override description = commandHelp(
    'prtip cluster cancel --redis URL ID',
    'Marks the scan cancelled: shards not yet started are removed from the queue, running ones are\n' +
      'stopped by their workers within a second (their checkpoints flushed, the jobs failed as\n' +
      'cancelled). Shards already done stay; prtip cluster collect ID --partial still takes them.',
    GROUPS,
    ['prtip cluster cancel --redis redis://10.0.0.5:6379 c0123456789ab'],
    ONLY_REDIS,
  );

  protected readonly commandName = 'cluster cancel';
  protected readonly groups = GROUPS;
  protected override readonly takesTargets = true;
  protected override readonly refused = ONLY_REDIS;

  protected async main(o: CliOptions): Promise<void> {
    const id = clusterId(o, 'cancel');
    const connection = await connectRedis(o.redis!);
    try {
      const r = await cancelClusterScan(connection, id);
      process.stderr.write(`prtip: cancelled ${id}: ${r.removed} waiting shards removed, ${r.running} running shards stopping, ${r.done} already done\n`);
    } finally {
      connection.disconnect();
    }
  }
}
