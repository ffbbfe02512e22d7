// -sL -n from the CLI, no lab needed: it sends nothing at all (loopback targets all the same),
// so it runs anywhere. Targets come from the command line, -iL and --exclude; shards split the
// list without overlap; -6 lists IPv6. The lab test (names-lab.test.ts) covers names and the wire.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jsonLines, runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-sl-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const listed = (jsonl: string) => jsonLines(jsonl).filter((r) => r.type === 'host').map((r) => `${String(r.ip)} ${String(r.state)} ${String(r.reason)}`);

t.test('-iL, --exclude, shards and -6', async (t) => {
  const file = path.join(tmp, 'targets.txt');
  fs.writeFileSync(file, '127.0.0.8/30\n# comment\n127.0.0.20\n');
  const r = await runCli(['-sL', '-n', '-iL', file, '--exclude', '127.0.0.9', '-oD', '-', '127.0.0.1-2']);
  t.equal(r.code, 0, r.stderr);
  t.same(listed(r.stdout).sort(), ['127.0.0.1', '127.0.0.10', '127.0.0.11', '127.0.0.2', '127.0.0.20', '127.0.0.8'].map((ip) => `${ip} unknown user-set`));
  const trailer = jsonLines(r.stdout).at(-1) as { counters: Record<string, Record<string, number>> };
  t.same(trailer.counters.list, { hosts: 6 }, 'no DNS counters with -n');
  t.equal(trailer.counters.send, undefined, 'the send stage did not run');
  const shards = await Promise.all([1, 2].map((i) => runCli(['-sL', '-n', '--shard', `${i}/2`, '--seed', '7', '-oD', '-', '127.0.1.0/28'])));
  const all = shards.flatMap((s) => listed(s.stdout));
  t.equal(all.length, 16, 'the shards together list every address once');
  t.equal(new Set(all).size, 16);
  const six = await runCli(['-sL', '-n', '-6', '-oN', '-', '::1']);
  t.equal(six.code, 0, six.stderr);
  t.match(six.stdout, /^prtip scan report for ::1$/m);
  t.match(six.stdout, /1 IP address \(0 hosts up\)/);
});

t.test('refusals name what -sL cannot take', async (t) => {
  for (const [argv, re] of [
    [['-sV', '-O', '-Pn'], /cannot take -sV, -O, -Pn/], [['-p', '80', '--script', 'banner'], /cannot take -sC\/--script, -p/],
  ] as Array<[string[], RegExp]>) {
    const r = await runCli(['-sL', '-n', ...argv, '127.0.0.1']);
    t.equal(r.code, 1, argv.join(' '));
    t.match(r.stderr, re);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const both = await runCli(['-sL', '--system-dns', '--dns-servers', '127.0.0.1', '127.0.0.1']);
  t.equal(both.code, 1);
  t.match(both.stderr, /--system-dns and --dns-servers: give one/);
});
