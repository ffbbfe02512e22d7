// prtip cluster submit checks a scan exactly as prtip scan does: for each bad scan, both commands
// exit 1 with the same one line (computed by running prtip scan itself). Redis is never reached:
// the URL points nowhere, so a check that slipped through would fail on the connection instead.
// The targets are loopback: should a case stop being refused, prtip scan must not reach the network.
import t from 'tap';
import { runCli } from '../helpers/cli.js';

const NOWHERE = 'unix:///nonexistent/prtip-test/redis.sock';
const bad: string[][] = [
  ['-sT', '-p', '70000', '127.0.0.1'],
  ['-sT', '-p', '80', '198.18.0.300'],
  ['-sT', '-p', 'U:53', '127.0.0.1'],
  ['-sT', '-g', '53', '-p', '80', '127.0.0.1'],
  ['-sT', '--version-intensity', '5', '-p', '80', '127.0.0.1'],
  ['--min-rate', '10', '--max-rate', '5', '-sS', '-p', '80', '127.0.0.1'],
  ['-sR', '-p', '80', '127.0.0.1'],
  ['-p', '80'],
];

t.test('the same one-line errors as prtip scan', async (t) => {
  for (let i = 0; i < bad.length; i += 4) {
    await Promise.all(bad.slice(i, i + 4).map(async (args) => {
      const [scan, submit] = await Promise.all([
        runCli(['scan', ...args]),
        runCli(['cluster', 'submit', '--redis', NOWHERE, '--shards', '2', ...args]),
      ]);
      t.equal(scan.code, 1, `prtip scan ${args.join(' ')}: ${scan.stderr}`);
      t.equal(submit.code, 1, `cluster submit ${args.join(' ')}`);
      t.equal(scan.stderr.split('\n').length, 2, 'one line');
      t.equal(submit.stderr.replaceAll('prtip cluster submit', 'prtip scan'), scan.stderr, `same message for ${args.join(' ')}`);
    }));
  }
});

t.test('cluster-specific refusals and an unreachable Redis', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['cluster', 'submit', '--shards', '2', '-p', '80', '198.18.0.1'], /^prtip: prtip cluster submit needs --redis URL/],
    [['cluster', 'submit', '--redis', NOWHERE, '-p', '80', '198.18.0.1'], /^prtip: prtip cluster submit needs --shards N/],
    [['cluster', 'submit', '--redis', NOWHERE, '--shards', '2', '-oX', 'x.xml', '-p', '80', '198.18.0.1'], /^prtip: prtip cluster submit does not take -oX: shards write Parquet/],
    [['cluster', 'submit', '--redis', NOWHERE, '--shards', '2', '--shard', '1/2', '-p', '80', '198.18.0.1'], /^prtip: prtip cluster submit does not take --shard: --shards N makes the shards/],
    [['cluster', 'submit', '--redis', NOWHERE, '--shards', '2', '-T2', '-p', '80', '198.18.0.1'], /^prtip: -T2 paces one scanner; for a cluster give --max-rate PPS/],
    [['cluster', 'submit', '--redis', 'http://x:1', '--shards', '2', '-p', '80,81', '198.18.0.1'], /^prtip: bad --redis "http:\/\/x:1": http:\/\/ is not supported/],
    [['cluster', 'submit', '--redis', NOWHERE, '--shards', '2', '-p', '80,81', '198.18.0.1'], /^prtip: cannot reach Redis at unix:\/\/\/nonexistent\/prtip-test\/redis\.sock: .*ENOENT/],
    [['cluster', 'status', '--redis', NOWHERE], /^prtip: prtip cluster status takes one cluster scan id/],
    [['cluster', 'collect', '--redis', NOWHERE, 'c0123456789ab'], /^prtip: prtip cluster collect needs --db FILE/],
    [['worker', '--redis', NOWHERE, '--results', 's3://bucket/x'], /^prtip: --results "s3:\/\/bucket\/x": only a directory or a file:\/\/ URL/],
  ];
  for (let i = 0; i < cases.length; i += 4) {
    await Promise.all(cases.slice(i, i + 4).map(async ([args, re]) => {
      const r = await runCli(args);
      t.equal(r.code, 1, args.join(' '));
      t.match(r.stderr, re, args.join(' '));
      t.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    }));
  }
});
