// Live progress of prtip scan: nmap-style status lines without a terminal (--stats-every), and on
// a real terminal (tmux) the one-line live status and nmap's runtime keys. Loopback connect scans,
// paced by --max-rate so they last a few seconds.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { PRTIP_BIN, runCli } from '../helpers/cli.js';
import { hasTmux, TmuxSession } from '../helpers/tmux.js';

async function listener(): Promise<{ port: number; close(): void }> {
  const s = net.createServer((c) => { c.on('error', () => {}); c.end(); });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return { port: (s.address() as net.AddressInfo).port, close: () => s.close() };
}

t.test('without a terminal: Stats lines every --stats-every, counting up to the plan', async (t) => {
  const r = await runCli(['scan', '-sT', '-p', '1-900', '--max-rate', '300', '--stats-every', '1s', '127.0.0.1'], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  const stats = [...r.stderr.matchAll(/^Stats: \d+:\d\d:\d\d elapsed; (\d+)\/(\d+) probes done; (\d+) replies; (\d+) open ports; \d+ pps$/gm)];
  t.ok(stats.length >= 1, `status lines printed:\n${r.stderr}`);
  const done = stats.map((m) => Number(m[1]));
  t.ok(stats.every((m) => m[2] === '900'), 'total is the plan: 900 probes');
  t.same(done, [...done].sort((a, b) => a - b), 'done only grows');
  t.ok(done.every((d) => d > 0 && d < 900), 'lines come while the scan runs');
  t.match(r.stderr, /^Connect Scan Timing: About \d+\.\d\d% done; ETC: \d\d:\d\d \(\d+:\d\d:\d\d remaining\)$/m);
  t.notMatch(r.stderr, /\r|\x1b\[/, 'no terminal control codes in a file');
  t.match(r.stdout, /^prtip scan report for 127\.0\.0\.1$/m, 'the report is on stdout');
  t.notMatch(r.stdout, /Stats:/, 'status lines stay off stdout');
});

t.test('without a terminal and without -v or --stats-every: no status lines', async (t) => {
  const r = await runCli(['scan', '-sT', '-p', '1-400', '--max-rate', '300', '127.0.0.1'], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /Stats:/);
  t.equal(r.stderr, '');
});

t.test('--stats-every checks its value', async (t) => {
  const bad = await runCli(['scan', '-sT', '--stats-every', 'soon', '127.0.0.1']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^prtip: bad time "soon" for --stats-every/);
});

t.test('on a terminal: the live line, keys v d Enter p P as nmap, Ctrl-C stops cleanly', { skip: hasTmux() ? false : 'tmux not installed' }, async (t) => {
  const open = await listener();
  t.teardown(open.close);
  const tmux = new TmuxSession([process.execPath, PRTIP_BIN, 'scan', '-sT', '-p', `1-3000,${open.port}`, '-r', '--max-rate', '300', '127.0.0.1'], { width: 180 });
  t.teardown(() => tmux.kill());
  const first = await tmux.waitFor(/connect scan \d+\/3001 \d+\.\d% \| \d+ pps \(avg \d+\) \| \d+ replies, \d+ open \| \d+ retries, \d+ drops \| 0:00:\d\d elapsed, ETA/);
  t.match(first, /Starting prtip/);
  tmux.keys('v');
  await tmux.waitFor(/Verbosity Increased to 1\./);
  tmux.keys('d');
  await tmux.waitFor(/Debugging Increased to 1\./);
  tmux.keys('Enter');
  const stats = await tmux.waitFor(/send counters: sent=\d+/);
  t.match(stats, /Stats: 0:00:\d\d elapsed; \d+\/3001 probes done/);
  t.match(stats, /Connect Scan Timing: About \d+\.\d\d% done/);
  // p: nmap's packet trace from now on (CONN lines of the connects that follow), P: off again.
  tmux.keys('p');
  await tmux.waitFor(/Packet Tracing enabled\./);
  await tmux.waitFor(/CONN \(\d+\.\d{4}s\) TCP localhost > 127\.0\.0\.1:\d+ => Connection refused/);
  tmux.keys('P');
  await tmux.waitFor(/Packet Tracing disabled\./);
  tmux.keys('D');
  await tmux.waitFor(/Debugging Decreased to 0\./);
  tmux.keys('C-c');
  const end = await tmux.waitFor(/\[exit \d+\]/);
  t.match(end, /prtip: interrupted; flushing results/);
  t.match(end, /Scan interrupted: results above are partial\./);
  t.match(end, /\[exit 130\]/, "exit 130 after Ctrl-C, as nmap");
  // The live line was erased before the report: no status text inside it.
  const report = end.slice(end.indexOf('prtip scan report for'));
  t.notMatch(report, /connect scan \d+\//);
});

t.test('on a terminal with -v: open ports as they are found, not garbled by the live line', { skip: hasTmux() ? false : 'tmux not installed' }, async (t) => {
  const open = await listener();
  t.teardown(open.close);
  const tmux = new TmuxSession([process.execPath, PRTIP_BIN, 'scan', '-sT', '-v', '-r', '-p', `${open.port},1-600`, '--max-rate', '300', '127.0.0.1'], { width: 180 });
  t.teardown(() => tmux.kill());
  const end = await tmux.waitFor(/\[exit \d+\]/, 60_000);
  t.match(end, new RegExp(`^Discovered open port ${open.port}/tcp on 127\\.0\\.0\\.1$`, 'm'));
  t.match(end, new RegExp(`^${open.port}/tcp\\s+open`, 'm'));
  t.match(end, /\[exit 0\]/);
});

t.test('in a pipe: send --stats-every adds status records; detect passes them on; format shows them and -oD keeps them', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const p = (args: string) => `${process.execPath} ${PRTIP_BIN} ${args}`;
  const r = spawnSync('bash', ['-c', `set -o pipefail; ${p('targets 127.0.0.1 -p 1-700')} | ${p('send -sT --max-rate 300 --stats-every 1s')} | ${p('detect --stats-every 1s')} | ${p('format -oD -')}`], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; stage?: string; done?: number; total?: number; counters?: Record<string, number> });
  const status = records.filter((x) => x.type === 'status');
  t.ok(status.length >= 1, `status records in the stream (${status.length})`);
  t.ok(status.every((s) => s.stage === 'send' && s.total === 700 && s.done! < 700 && typeof s.counters!.sent === 'number'));
  t.ok(records.indexOf(status[0]!) < records.findIndex((x) => x.type === 'end'), 'before the trailer');
  t.match(r.stderr, /^Stats: \d+:\d\d:\d\d elapsed; \d+\/700 probes done/m, 'format prints them on stderr');
  for (const stage of ['send', 'detect']) {
    const plain = await runCli([stage, '--tui']);
    t.equal(plain.code, 1);
    t.match(plain.stderr, new RegExp(`^prtip: prtip ${stage} does not take --tui: the dashboard is prtip scan --tui`));
  }
});
