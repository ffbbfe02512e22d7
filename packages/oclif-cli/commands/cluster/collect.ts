import { collectClusterScan } from '../../../../pipelines/cluster/control.js';
import { connectRedis } from '../../../../pipelines/cluster/redis.js';
import { UserInputError } from '../../../../stages/records/index.js';
import { openDatabase } from '../../../../stages/store/index.js';
import { commandHelp, PrtipCommand } from '../../lib/base-command.js';
import { clusterId, resultsRoot } from '../../lib/cluster-scan.js';
import type { CliOptions, FlagGroup } from '../../lib/flags.js';

const GROUPS: FlagGroup[] = ['cluster', 'database'];
const REFUSED = { '--shards': 'collect takes the cluster scan id', '--concurrency': 'it is a worker option', '--stall-timeout': 'it is a worker option', '--resume': 'a collected scan is complete; nothing to resume' };

export default class ClusterCollect extends PrtipCommand {
  static override summary = 'Union a cluster scan\'s shards (Parquet) into a DuckDB database, checked against their manifests';
  static override description = commandHelp(
    'prtip cluster collect --redis URL ID --db FILE [--partial] [--results DIR]',
    'Reads each finished shard\'s manifest from Redis, checks its Parquet files (sha256, row counts),\n' +
      'refuses shards that overlap, and adds them to FILE as one scan whose scan_id is the cluster\n' +
      'scan id (hosts once each: up if any shard saw them up). Refuses while shards are missing unless\n' +
      '--partial (the scan is then stored as interrupted). --results DIR: where the workers\' shared\n' +
      'results directory is mounted on this machine, if not where the workers wrote it.',
    GROUPS,
    ['prtip cluster collect --redis redis://10.0.0.5:6379 c0123456789ab --db scans.duckdb'],
    REFUSED,
  );

  protected readonly commandName = 'cluster collect';
  protected readonly groups = GROUPS;
  protected override readonly takesTargets = true;
  protected override readonly refused = REFUSED;

  protected async main(o: CliOptions): Promise<void> {
    const id = clusterId(o, 'collect');
    if (o.db === undefined) throw new UserInputError('prtip cluster collect needs --db FILE (the DuckDB database to add the scan to)');
    const connection = await connectRedis(o.redis!);
    try {
      const db = await openDatabase(o.db);
      try {
        const r = await collectClusterScan(connection, id, db, { partial: o.partial, results: o.results === undefined ? undefined : resultsRoot(o.results) });
        process.stderr.write(
          `prtip: collected ${id} into ${o.db}: ${r.shards} shards${r.complete ? '' : ' (partial)'}, ` +
            `${r.rows.ports} ports, ${r.rows.hosts} hosts, ${r.rows.services} services\n`,
        );
      } finally {
        db.close();
      }
    } finally {
      connection.disconnect();
    }
  }
}
