import { clusterStatus, type ClusterStatus } from '../../../../pipelines/cluster/control.js';
import { connectRedis } from '../../../../pipelines/cluster/redis.js';
import { commandHelp, PrtipCommand } from '../../lib/base-command.js';
import { clusterId } from '../../lib/cluster-scan.js';
import type { CliOptions, FlagGroup } from '../../lib/flags.js';

const GROUPS: FlagGroup[] = ['cluster'];
const ONLY_REDIS = { '--shards': 'status takes the cluster scan id and --redis', '--concurrency': 'it is a worker option', '--results': 'it is a worker option', '--stall-timeout': 'it is a worker option', '--partial': 'it is a collect option' };

/** One line per shard and a total, with the workers' live counts. */
export function statusText(s: ClusterStatus, now = Date.now()): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-');
  const lines = [`cluster scan ${s.scan.id}: ${s.cancelled ? 'cancelled' : s.state === 'waiting-children' ? 'running' : s.state}` +
    `${s.failedReason ? ` (${s.failedReason})` : ''}; ${n(s.scan.plan.probes)} probes in ${s.scan.shards} shards, seed ${s.scan.seed}`];
  let done = 0;
  let open = 0;
  let closed = 0;
  let filtered = 0;
  for (const sh of s.shards) {
    const p = sh.progress;
    const probes = sh.manifest?.probes ?? p?.probes ?? 0;
    const d = sh.state === 'completed' ? probes : (p?.done ?? 0);
    done += d;
    open += p?.open ?? 0;
    closed += p?.closed ?? 0;
    filtered += p?.filtered ?? 0;
    const parts = [`shard ${sh.index}/${s.scan.shards}`, sh.state];
    if (p || sh.manifest) parts.push(`${n(d)}/${n(probes)} probes (${pct(d, probes)})`, `open ${n(p?.open ?? 0)} closed ${n(p?.closed ?? 0)} filtered ${n(p?.filtered ?? 0)}`, `hosts up ${n(p?.hostsUp ?? 0)}`);
    if (p && sh.state === 'active') {
      const secs = Math.max(0.001, (p.updatedAt - p.startedAt) / 1000);
      parts.push(`${n(Math.round((d - p.resumedFrom) / secs))} probes/s`, `worker ${p.worker}`, `seen ${Math.round((now - p.updatedAt) / 1000)}s ago`);
    }
    if (p && p.resumedFrom > 0) parts.push(`resumed at ${n(p.resumedFrom)}`);
    if (sh.stalls > 0) parts.push(`${sh.stalls} stall${sh.stalls > 1 ? 's' : ''}`);
    if (sh.failedReason) parts.push(`failed: ${sh.failedReason}`);
    lines.push(`  ${parts.join('  ')}`);
  }
  const complete = s.shards.filter((x) => x.state === 'completed').length;
  lines.push(`total: ${n(done)}/${n(s.scan.plan.probes)} probes (${pct(done, s.scan.plan.probes)}); open ${n(open)} closed ${n(closed)} filtered ${n(filtered)}; ${complete}/${s.scan.shards} shards done` +
    `${s.merge ? `; merged into ${s.merge.database}` : ''}`);
  return `${lines.join('\n')}\n`;
}

export default class ClusterStatusCommand extends PrtipCommand {
  static override summary = 'Per-shard progress of a cluster scan, as its workers report it';
  static override description = commandHelp(
    'prtip cluster status --redis URL ID',
    'Prints one line per shard (state, probes done of its total, open/closed/filtered ports found,\n' +
      'hosts up, rate, worker, resumes after a worker died) and a total line.',
    GROUPS,
    ['prtip cluster status --redis redis://10.0.0.5:6379 c0123456789ab'],
    ONLY_REDIS,
  );

  protected readonly commandName = 'cluster status';
  protected readonly groups = GROUPS;
  protected override readonly takesTargets = true;
  protected override readonly refused = ONLY_REDIS;

  protected async main(o: CliOptions): Promise<void> {
    const id = clusterId(o, 'status');
    const connection = await connectRedis(o.redis!);
    try {
      process.stdout.write(statusText(await clusterStatus(connection, id)));
    } finally {
      connection.disconnect();
    }
  }
}
