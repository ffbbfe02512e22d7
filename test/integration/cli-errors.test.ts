// Bad input through the real CLI: exit 1, one line on stderr quoting the bad token, no stack.
import t from 'tap';
import { runCli } from '../helpers/cli.js';

const cases: Array<[string[], RegExp, string?]> = [
  [['targets', '198.18.0.0/33', '-p', '80'], /198\.18\.0\.0\/33/],
  [['targets', '198.18.0.300', '-p', '80'], /198\.18\.0\.300/],
  [['targets', '198.18.5-2.1', '-p', '80'], /198\.18\.5-2\.1/],
  [['targets', 'bad_host!', '-p', '80'], /bad_host!/],
  [['targets', '2001:2::/48', '-p', '80'], /2001:2::\/48/],
  [['targets', '-6', '198.18.0.1', '-p', '80'], /198\.18\.0\.1/],
  [['targets', '198.18.0.1', '-p', '70000'], /"70000"/],
  [['targets', '198.18.0.1', '-p', '90-80'], /"90-80"/],
  [['targets', '198.18.0.1', '-p', '80,,81'], /80,,81/],
  [['targets', '198.18.0.1', '-p', 'no-such-service-name'], /no-such-service-name/],
  [['targets', '198.18.0.1', '-p', '22', '-F'], /-F|top/],
  [['targets', '198.18.0.1', '-iL', '/nonexistent/targets.txt'], /\/nonexistent\/targets\.txt/],
  [['targets', '198.18.0.1', '--exclude', '198.18.0.1'], /no targets left/],
  [['targets', '-p', '80'], /no targets given/],
  [['scan', '-sR', '127.0.0.1'], /-sR/],
  [['scan', '--bogus', '127.0.0.1'], /"--bogus"/],
  [['scan', '-T7', '127.0.0.1'], /-T7/],
  [['scan', '-sT', '-p', 'U:53', '127.0.0.1'], /U:53/],
  [['scan', '-sT', '--version-intensity', '5', '-p', '80', '127.0.0.1'], /--version-intensity.*add -sV/],
  [['-sT', '--max-retries', 'x', '127.0.0.1'], /"x"/],
  [['scan', '-oN', '/nonexistent/dir/out.txt', '-p', '80', '127.0.0.1'], /\/nonexistent\/dir\/out\.txt/],
  [['send', 'stray'], /"stray"/],
  [['send', '--open'], /--open shapes the report prtip send prints on a terminal; in a pipe give it to prtip format/],
  [['detect', '--reason'], /--reason shapes the report prtip detect prints/],
  [['detect', '--max-retries', '3'], /prtip detect does not take --max-retries: it sets how prtip send probes/],
  [['detect', '-v'], /prtip detect does not take -v/],
  [['format', '-oX', '/nonexistent/dir/x.xml'], /-oX output "\/nonexistent\/dir\/x\.xml"/],
  [['scan', '-oA', '-', '-p', '80', '127.0.0.1'], /-oA takes a file name base/],
  [['scan', '--resume', '/nonexistent/dir/x.duckdb'], /\/nonexistent\/dir\/x\.duckdb/],
  [['scan', '--resume', 'x.duckdb', '-p', '80'], /--resume FILE takes no other options/],
  [['scan', '--db', '/nonexistent/dir/x.duckdb', '-p', '80', '127.0.0.1'], /cannot open DuckDB database "\/nonexistent\/dir\/x\.duckdb"/],
  [['scan', '--batch-size', '0', '127.0.0.1'], /"0"/],
  [['merge', '--memory', 'lots'], /"lots"/],
];

for (const [args, re] of cases) {
  t.test(`prtip ${args.join(' ')}`, async (t) => {
    const r = await runCli(args, { input: '', timeoutMs: 30_000 });
    t.equal(r.code, 1, 'exit 1');
    const lines = r.stderr.trimEnd().split('\n');
    t.equal(lines.length, 1, `one line: ${r.stderr}`);
    t.match(lines[0], /^prtip: /);
    t.match(lines[0], re, 'quotes the bad token');
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    t.equal(r.stdout, '', 'nothing on stdout');
  });
}

t.test('garbage on a stage\'s stdin: exit 1, names what arrived', async (t) => {
  for (const cmd of ['send', 'format']) {
    const r = await runCli([cmd], { input: '198.18.0.1\n' });
    t.equal(r.code, 1, `${cmd}: exit 1`);
    t.match(r.stderr, /^prtip: stdin: not a prtip record stream at byte 0: got the number 49/);
    t.notMatch(r.stderr, /\n\s+at /);
  }
});

t.test('records before garbage are still formatted', async (t) => {
  const good = await runCli(['targets', '198.18.0.1', '-p', '1']);
  const r = await runCli(['format', '-oD', '-'], { input: Buffer.concat([good.stdoutBytes, Buffer.from('junk')]) });
  t.equal(r.code, 1);
  t.match(r.stdout, /"type":"scan"/, 'the header before the junk was written');
  t.match(r.stderr, /not a prtip record stream at byte \d+|bytes that are not a record after the stream's trailer \(at byte \d+\)/);
});

t.test('help: every command documents itself', async (t) => {
  const root = await runCli(['--help']);
  t.equal(root.code, 0);
  for (const c of ['targets', 'send', 'format', 'scan', 'demo']) t.match(root.stdout, new RegExp(`\\n  ${c}\\s`));
  for (const c of ['targets', 'send', 'format', 'scan']) {
    const h = await runCli([c, '--help']);
    t.equal(h.code, 0, `${c} --help`);
    t.match(h.stdout, /^USAGE: prtip/);
  }
  t.match((await runCli(['scan', '--help'])).stdout, /-sT\s+TCP connect scan/);
});
