// prtip scan --tui on a real terminal (tmux): the dashboard shows open ports as they are found,
// q stops cleanly (trailer written: the report says interrupted, --resume finishes the scan), and
// without a terminal it falls back to the status line with a notice.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { PRTIP_BIN, runCli } from '../helpers/cli.js';
import { hasTmux, TmuxSession } from '../helpers/tmux.js';

async function listen(port = 0): Promise<net.Server> {
  const s = net.createServer((c) => { c.on('error', () => {}); c.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'); });
  s.listen(port, '127.0.0.1');
  await once(s, 'listening');
  return s;
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

t.test('--tui: open ports appear live; q stops cleanly and --resume completes the scan', { skip: hasTmux() ? false : 'tmux not installed' }, async (t) => {
  const first = await listen();
  const p1 = portOf(first);
  // A second listener 1200 ports further on (8 s at 150 probes/s): found only by the resumed scan.
  let second: net.Server | undefined;
  for (const p of [p1 + 1200, p1 + 1201, p1 + 1202]) {
    try { second = await listen(p); break; } catch { /* taken */ }
  }
  t.teardown(() => { first.close(); second?.close(); });
  t.ok(second, 'second listener');
  const p2 = portOf(second!);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-tui-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = path.join(dir, 'scan.duckdb');
  const tmux = new TmuxSession([process.execPath, PRTIP_BIN, 'scan', '-sT', '-sV', '--tui', '-r', '-p', `${p1}-${p2}`, '--max-rate', '150', '--db', db, '127.0.0.1'], { width: 120, height: 32 });
  t.teardown(() => tmux.kill());
  await tmux.waitFor(new RegExp(`127\\.0\\.0\\.1\\s+${p1}/tcp\\s+ssh\\s+OpenSSH 9\\.2p1`), 60_000);
  // The send stage's first status may come a moment after the port.
  const screen = await tmux.waitFor(new RegExp(`Connect Scan\\s+[█░]+ \\d+\\.\\d% \\d+/${p2 - p1 + 1}`), 30_000);
  t.match(screen, /Open ports \(1\)/, 'the live table');
  t.match(screen, new RegExp(`${p1}/tcp\\s+ssh\\s+OpenSSH 9\\.2p1`), 'the open port with its service');
  t.match(screen, /Rate [▁▂▃▄▅▆▇█]+\s+\d+ pps \(avg \d+\)/, 'the rate graph');
  t.match(screen, /Top services\s*│?[\s\S]*ssh\s+1/, 'top services');
  t.match(screen, /Hosts up: 1/);
  t.notMatch(screen, new RegExp(`${p2}/tcp`), 'the far port is not reached yet');
  tmux.keys('Enter');
  await tmux.waitFor(/Stats: \d+:\d\d:\d\d elapsed/);
  tmux.keys('q');
  const end = await tmux.waitFor(/\[exit \d+\]/, 60_000);
  t.match(end, /\[exit 0\]/);
  t.match(end, /Scan interrupted: results above are partial\./, 'the trailer says interrupted');
  t.match(end, new RegExp(`^${p1}/tcp\\s+open\\s+ssh\\s+OpenSSH 9\\.2p1`, 'm'), 'the report, on the normal screen');
  t.notMatch(end, /Open ports \(/, 'the dashboard is gone from the screen');
  const resumed = await runCli(['scan', '--resume', db], { timeoutMs: 120_000 });
  t.equal(resumed.code, 0, resumed.stderr);
  t.match(resumed.stderr, /^prtip: resuming scan [0-9a-f]+: \d+ probes already done/m);
  t.match(resumed.stdout, new RegExp(`^${p2}/tcp\\s+open`, 'm'), 'the resumed scan reaches the far port');
  t.match(resumed.stdout, new RegExp(`^${p1}/tcp\\s+open`, 'm'), 'and keeps what the first run found');
});

t.test('--tui without a terminal: the status line instead, with a notice', async (t) => {
  const l = await listen();
  t.teardown(() => l.close());
  const r = await runCli(['scan', '-sT', '--tui', '-p', String(portOf(l)), '127.0.0.1']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /^prtip: --tui: stderr is not a terminal; showing the status line instead$/m);
  t.match(r.stdout, new RegExp(`^${portOf(l)}/tcp\\s+open`, 'm'));
});

t.test('--tui on a terminal too small for it: the status line', { skip: hasTmux() ? false : 'tmux not installed' }, async (t) => {
  const tmux = new TmuxSession([process.execPath, PRTIP_BIN, 'scan', '-sT', '--tui', '-p', '1-300', '--max-rate', '150', '127.0.0.1'], { width: 70, height: 15 });
  t.teardown(() => tmux.kill());
  const screen = await tmux.waitFor(/\[exit \d+\]/, 60_000);
  t.match(screen, /prtip: --tui: the terminal is 70×1\d, smaller than 80×20; showing the status line instead/);
  t.match(screen, /\[exit 0\]/);
});
