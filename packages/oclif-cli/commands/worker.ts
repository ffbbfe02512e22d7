import { connectRedis } from '../../../pipelines/cluster/redis.js';
import { startClusterWorker } from '../../../pipelines/cluster/worker.js';
import { UserInputError } from '../../../stages/records/index.js';
import { commandHelp, PrtipCommand } from '../lib/base-command.js';
import { resultsRoot, runShardScan } from '../lib/cluster-scan.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';

const GROUPS: FlagGroup[] = ['cluster'];
const REFUSED = { '--shards': 'it is a cluster submit option', '--partial': 'it is a collect option' };

export default class WorkerCommand extends PrtipCommand {
  static override summary = 'Run cluster scan shards from BullMQ (Redis) until stopped';
  static override description = commandHelp(
    'prtip worker --redis URL [--concurrency K] [--results DIR] [--stall-timeout TIME]',
    'Takes shard jobs of cluster scans (prtip cluster submit) and runs each as prtip scan --shard i/N\n' +
      'would, checkpointed in DIR/ID/shard-I.duckdb; a finished shard is written as Parquet in\n' +
      'DIR/ID/shard-I/ and its manifest (paths, row counts, sha256) is the job\'s result. DIR must be\n' +
      'shared by the workers (NFS, a Kubernetes volume): a worker that dies mid-shard leaves its job\n' +
      'to another after --stall-timeout, which continues it from the checkpoint. Also runs the merge\n' +
      'jobs (DIR/ID/scan.duckdb). SIGINT/SIGTERM: running shards are checkpointed and handed back.',
    GROUPS,
    [
      'prtip worker --redis redis://10.0.0.5:6379 --results /mnt/prtip --concurrency 2',
      'prtip worker --redis unix:///run/prtip/redis.sock --results file:///srv/prtip',
    ],
    REFUSED,
  );

  protected readonly commandName = 'worker';
  protected readonly groups = GROUPS;
  protected override readonly refused = REFUSED;

  protected async main(o: CliOptions): Promise<void> {
    if (o.redis === undefined) throw new UserInputError('prtip worker needs --redis URL (redis://host:port or unix:///path)');
    const results = resultsRoot(o.results ?? 'prtip-results');
    const connection = await connectRedis(o.redis, { worker: true });
    const log = (m: string) => process.stderr.write(`prtip worker: ${m}\n`);
    const worker = await startClusterWorker({
      connection, concurrency: o.concurrency ?? 1, results, runShard: runShardScan, stallMs: o.stallMs ?? 30_000, log,
    });
    log(`${worker.name} ready (concurrency ${o.concurrency ?? 1}, results ${results})`);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = () => {
        if (stopping) process.exit(130);
        stopping = true;
        log('stopping: checkpointing running shards and handing them back');
        worker.stop().then(resolve, (err: Error) => { log(err.message); resolve(); });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    connection.disconnect();
  }
}
