// prtip demo as a newcomer runs it: as root the /16 lab story (SYN sweep, -sV, DuckDB + SQL, the
// pipe), without root (uid 65534) the loopback one; each step prints the command it runs, and
// nothing is left behind (namespaces, temp files) unless --keep asks for the database.
import t from 'tap';
import fs from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { PRTIP_BIN, runCli } from '../helpers/cli.js';

const root = process.getuid?.() === 0;

t.test('as root: the /16 lab, sweep, -sV, SQL and the pipe; --keep keeps the database', { skip: root ? false : 'needs root' }, async (t) => {
  const r = await runCli(['demo', '--keep'], { timeoutMs: 120_000 });
  t.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  const commands = [...out.matchAll(/^\$ (prtip .*)$/gm)].map((m) => m[1]!);
  t.equal(commands.length, 5, 'five steps, each with its command');
  t.match(commands[0]!, /^prtip scan -sS -n --open --rate 100k -p 22,80,8080 198\.19\.0\.0\/16 --db \S+demo\.duckdb$/);
  t.match(commands[1]!, /^prtip scan -sS -sV -n --open -p 21,22,25,80,8080 198\.19\.0\.10 198\.19\.1\.20 198\.19\.200\.3 198\.19\.7\.7 --db /, 'the hosts the sweep found, read back from the database');
  t.match(commands[4]!, /^prtip targets 198\.19\.0\.10 198\.19\.1\.20 198\.19\.200\.3 198\.19\.7\.7 -p 21,22,25,80,8080 \| prtip send -sS \| prtip detect \| prtip format --open$/);
  // The sweep: every address of the /16 answered; the four service hosts have their ports open.
  t.match(out, /prtip done: 65536 IP addresses \(65536 hosts up\)/);
  // The SQL: 3 ports on 65536 hosts, then 5 ports on the 4 hosts: 14 open (6 in the sweep, 8 in -sV).
  t.match(out, /^closed \| 196614 \| 65536$/m);
  t.match(out, /^open\s+\| 14\s+\| 4$/m);
  for (const [ip, port, name] of [['198.19.7.7', 21, 'ftp'], ['198.19.7.7', 22, 'ssh'], ['198.19.7.7', 25, 'smtp'], ['198.19.0.10', 80, 'http']] as const) {
    t.match(out, new RegExp(`^${ip.replaceAll('.', '\\.')}\\s+\\| ${port}\\s+\\| ${name}\\s`, 'm'), `service ${name} on ${ip}:${port}`);
  }
  // The pipe printed the same four hosts.
  const pipe = out.slice(out.indexOf('==> 5/5'));
  t.equal([...pipe.matchAll(/^prtip scan report for (198\.19\.\S+)$/gm)].length, 4);
  t.match(pipe, /^25\/tcp open\s+smtp/m);
  t.match(out, /lab torn down/);
  t.notMatch(execFileSync('ip', ['netns', 'list']).toString(), /prtip-demo-/, 'no demo namespace left');
  const kept = /database kept: (\S+)/.exec(out)?.[1];
  t.ok(kept && fs.existsSync(kept), 'the database was kept');
  const q = await runCli(['sql', kept!, "select count(*) from services where name = 'ssh'", '--csv']);
  t.equal(q.stdout.trim().split(/\r?\n/)[1], '2', 'two ssh services in the kept database');
  fs.rmSync(kept!.replace(/\/demo\.duckdb$/, ''), { recursive: true, force: true });
});

t.test('without root: the loopback story, and nothing left behind', async (t) => {
  const asUser = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const before = fs.readdirSync('/tmp').filter((f) => f.startsWith('prtip-demo-'));
  const r = spawnSync(asUser[0] ?? process.execPath, [...asUser.slice(1), ...(root ? [process.execPath] : []), PRTIP_BIN, 'demo'], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stderr);
  const commands = [...r.stdout.matchAll(/^\$ (prtip .*)$/gm)].map((m) => m[1]!);
  t.equal(commands.length, 5);
  const listen = /speak like FTP on (\d+), SSH on (\d+), SMTP on (\d+), HTTP on (\d+); (\d+) and (\d+) are closed/.exec(r.stdout);
  t.ok(listen, 'says what it set up');
  const [ftp, ssh, smtp, http, c1, c2] = listen!.slice(1).map(Number) as [number, number, number, number, number, number];
  t.match(commands[0]!, new RegExp(`^prtip scan -sT --reason -p ${ftp},${ssh},${smtp},${http},${c1},${c2} 127\\.0\\.0\\.1 --db `));
  t.match(commands[1]!, new RegExp(`^prtip scan -sT -sV -p ${[ftp, ssh, smtp, http].sort((a, b) => a - b).join(',')} 127\\.0\\.0\\.1 --db `), '-sV on the open ports from the database');
  t.match(r.stdout, new RegExp(`^${c1}/tcp\\s+closed\\s+\\S+\\s+conn-refused`, 'm'));
  t.match(r.stdout, new RegExp(`^${ssh}/tcp\\s+open\\s+ssh\\b`, 'm'));
  t.match(r.stdout, new RegExp(`^${ftp}/tcp\\s+open\\s+ftp\\b`, 'm'));
  t.match(r.stdout, /^open\s+\| 8\s+\| 1$/m, 'SQL: 4 open ports in each of the two scans');
  t.match(commands[4]!, /^prtip targets 127\.0\.0\.1 -p [\d,]+ \| prtip send -sT \| prtip detect \| prtip format --open$/);
  const after = fs.readdirSync('/tmp').filter((f) => f.startsWith('prtip-demo-'));
  t.same(after.filter((f) => !before.includes(f)), [], 'temp directory removed');
});

t.test('prtip demo refuses what it does not take', async (t) => {
  const r = await runCli(['demo', '--fast']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^prtip: unknown option "--fast" for prtip demo/);
});
