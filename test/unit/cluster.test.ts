// The cluster's pure parts: per-shard command lines, rate splitting, --redis URLs.
import t from 'tap';
import { parseArgs } from '../../packages/oclif-cli/lib/flags.js';
import { SCAN_GROUPS } from '../../packages/oclif-cli/lib/scan-checks.js';
import { scanArgvOf } from '../../packages/oclif-cli/lib/cluster-scan.js';
import { shardArgv, splitRate, withoutPerShardOptions } from '../../pipelines/cluster/submit.js';
import { parseRedisUrl } from '../../pipelines/cluster/redis.js';
import { UserInputError } from '../../stages/records/index.js';

t.test('each shard gets the scan with one seed, its slice and its share of the rates', async (t) => {
  const argv = ['-sS', '--seed=9', '-p', '80', '--rate', '1000', '--min-rate', '300', '198.18.0.0/24', '--', '-odd-host'];
  for (let i = 1; i <= 3; i++) {
    const o = parseArgs(shardArgv(argv, i, { seed: 42, shards: 3, maxRate: 1000, minRate: 300 }), SCAN_GROUPS, 'scan', true);
    t.same(o.shard, { index: i, count: 3 });
    t.equal(o.seed, 42, 'the cluster seed replaces the given one');
    t.equal(o.maxRate, 333.333333);
    t.equal(o.minRate, 100);
    t.same(o.targets, ['198.18.0.0/24', '-odd-host'], 'targets (also after --) stay');
    t.same(o.scanTypes, ['syn']);
    t.equal(o.ports, '80');
  }
  t.same(withoutPerShardOptions(['--seed', '1', '-p', '80', '--', '--seed']), ['-p', '80', '--', '--seed']);
  t.same(scanArgvOf(['--redis', 'unix:///x', '--shards=4', '-p', '80', 'h']), ['-p', '80', 'h']);
  t.equal(splitRate('--max-rate', undefined, 4), undefined);
  t.equal(splitRate('--max-rate', 100, 4), 25);
  t.throws(() => splitRate('--max-rate', 0.000001, 100), UserInputError);
});

t.test('--redis URLs', async (t) => {
  t.same(parseRedisUrl('redis://10.0.0.5:6380/2'), { host: '10.0.0.5', port: 6380, db: 2 });
  t.same(parseRedisUrl('redis://localhost'), { host: 'localhost', port: 6379 });
  t.same(parseRedisUrl('redis://:s3cret@[::1]:7000'), { host: '::1', port: 7000, password: 's3cret' });
  t.same(parseRedisUrl('unix:///run/prtip/redis.sock'), { path: '/run/prtip/redis.sock' });
  for (const bad of ['localhost:6379', 'http://x', 'redis://h:1/x', 'unix://']) {
    t.throws(() => parseRedisUrl(bad), UserInputError, bad);
  }
});
