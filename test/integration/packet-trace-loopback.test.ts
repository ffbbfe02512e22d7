// --packet-trace for the connect scan on loopback: nmap's CONN lines (the attempt, then what
// connect() said), the same lines as nmap -sT --packet-trace on the same ports in the same run,
// agreeing with the report; in a pipe (prtip send) on stderr, leaving the record stream intact.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { jsonLines, runCli } from '../helpers/cli.js';

const CONN = /^CONN \(\d+\.\d{4}s\) (TCP localhost > 127\.0\.0\.1:\d+ => .*)$/gm;
const conn = (text: string) => [...text.matchAll(CONN)].map((m) => m[1]!).sort();

t.test('-sT --packet-trace: nmap\'s CONN lines, equal to nmap\'s own', async (t) => {
  const srv = net.createServer((c) => c.on('error', () => {}).end());
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(() => srv.close());
  const open = (srv.address() as net.AddressInfo).port;
  // Port 1: nothing listens there on loopback (a privileged port, no daemon on this machine).
  const ports = `${open},1`;
  const ours = await runCli(['scan', '-sT', '--packet-trace', '-Pn', '-n', '-p', ports, '127.0.0.1']);
  t.equal(ours.code, 0, ours.stderr);
  t.same(conn(ours.stdout), [
    `TCP localhost > 127.0.0.1:${open} => Connected`, `TCP localhost > 127.0.0.1:${open} => Operation now in progress`,
    'TCP localhost > 127.0.0.1:1 => Connection refused', 'TCP localhost > 127.0.0.1:1 => Operation now in progress',
  ].sort(), 'on stdout: each attempt, then its outcome');
  t.match(ours.stdout, new RegExp(`^${open}/tcp +open `, 'm'));
  t.match(ours.stdout, /^1\/tcp +closed /m);
  const theirs = await new Promise<string>((resolve) => execFile('nmap', ['-sT', '--packet-trace', '-Pn', '-n', '-p', ports, '127.0.0.1'], { timeout: 60_000 }, (_e, out) => resolve(out)));
  t.same(conn(ours.stdout), conn(theirs), 'the lines nmap prints');
  const quiet = await runCli(['scan', '-sT', '-Pn', '-n', '-p', ports, '127.0.0.1']);
  t.same(conn(quiet.stdout), [], 'no trace without --packet-trace');
});

t.test('prtip send --packet-trace: the trace on stderr, records on stdout', async (t) => {
  const targets = await runCli(['targets', '127.0.0.1', '-p', '1']);
  const sent = await runCli(['send', '-sT', '--packet-trace'], { input: targets.stdoutBytes });
  t.equal(sent.code, 0, sent.stderr);
  t.same(conn(sent.stderr), ['TCP localhost > 127.0.0.1:1 => Connection refused', 'TCP localhost > 127.0.0.1:1 => Operation now in progress']);
  const text = await runCli(['format', '-oD', '-'], { input: sent.stdoutBytes });
  t.equal(text.code, 0, text.stderr);
  t.match(jsonLines(text.stdout).find((r) => r.type === 'port'), { port: 1, state: 'closed' });
});
