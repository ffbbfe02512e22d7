// The CLI end to end on loopback listeners (no privileges needed): the pipe and the single
// command agree, and the nmap-style call works without a command (the demo: demo.test.ts).
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { jsonLines, PRTIP_BIN, runCli } from '../helpers/cli.js';

async function listeners(n: number) {
  const servers = await Promise.all(Array.from({ length: n }, async () => {
    const s = net.createServer((c) => c.on('error', () => {}).end());
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  }));
  return { ports: servers.map((s) => (s.address() as net.AddressInfo).port), close: () => servers.forEach((s) => s.close()) };
}

/** Runs a shell pipeline of prtip commands, bounded in time. */
function pipe(cmd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const full = cmd.replaceAll('prtip ', `${process.execPath} ${PRTIP_BIN} `);
  return new Promise((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', full], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const rows = (text: string) =>
  jsonLines(text).filter((r) => r.type === 'port').map((r) => `${r.ip} ${r.port} ${r.state} ${r.reason}`).sort();

t.test('pipe and single command agree on loopback, state for state', async (t) => {
  const open = await listeners(3);
  t.teardown(open.close);
  // Ports 1-3: nothing listens there on loopback (privileged ports, no daemon on this machine).
  const ports = [...open.ports, 1, 2, 3].join(',');
  const a = await pipe(`prtip targets 127.0.0.1 -p ${ports} | prtip send -sT | prtip format -oD -`);
  const b = await runCli(['scan', '-sT', '-p', ports, '-oD', '-', '127.0.0.1']);
  const c = await runCli(['-sT', '-p', ports, '-oD', '-', '127.0.0.1']);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.code, 0, b.stderr);
  t.equal(c.code, 0, c.stderr);
  const expected = [...open.ports.map((p) => `127.0.0.1 ${p} open syn-ack`), ...[1, 2, 3].map((p) => `127.0.0.1 ${p} closed conn-refused`)].sort();
  t.same(rows(a.stdout), expected);
  t.same(rows(b.stdout), expected);
  t.same(rows(c.stdout), expected);
  const trailer = jsonLines(a.stdout).at(-1)!;
  t.match(trailer, { type: 'end', interrupted: false, counters: { targets: { probes: 6 }, send: { open: 3, closed: 3 } } });
});

t.test('a stage reading a cut-off stream keeps what arrived and says the trailer is missing', async (t) => {
  const r = await pipe(`prtip targets 127.0.0.1 -p 1-3 | head -c 60 | prtip format -oD -`);
  t.equal(r.code, 1);
  t.match(r.stderr, /stream ended inside a record|not a prtip record stream/);
});

t.test('-R names hosts that are up from the system resolver; -n (the default) does not', async (t) => {
  const open = await listeners(1);
  t.teardown(open.close);
  const hostOf = (text: string) => jsonLines(text).find((r) => r.type === 'host');
  const named = await runCli(['scan', '-sT', '-R', '-p', String(open.ports[0]), '-oD', '-', '127.0.0.1']);
  t.equal(named.code, 0, named.stderr);
  t.match(hostOf(named.stdout), { ip: '127.0.0.1', state: 'up', hostname: 'localhost' });
  const plain = await runCli(['scan', '-sT', '-R', '-n', '-p', String(open.ports[0]), '-oD', '-', '127.0.0.1']);
  t.equal(hostOf(plain.stdout)?.hostname, undefined);
});

t.test('loopback without a scan type is connect-scanned correctly, privileged or not', async (t) => {
  const open = await listeners(1);
  t.teardown(open.close);
  const r = await runCli(['scan', '-p', `${open.ports[0]},1`, '-oD', '-', 'localhost']);
  t.equal(r.code, 0, r.stderr);
  t.same(rows(r.stdout), [`127.0.0.1 1 closed conn-refused`, `127.0.0.1 ${open.ports[0]} open syn-ack`]);
  t.match(jsonLines(r.stdout)[0], { type: 'scan', scanTypes: ['connect'] });
  if (process.getuid?.() === 0) {
    // Asked explicitly, -sS on this machine's own address is refused with the reason, not misreported.
    const syn = await runCli(['scan', '-sS', '-p', String(open.ports[0]), '127.0.0.1']);
    t.equal(syn.code, 1);
    t.match(syn.stderr, /-sS cannot probe 127\.0\.0\.1: it is an address of this machine/);
  }
});
