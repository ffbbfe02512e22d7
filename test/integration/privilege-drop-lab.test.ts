// The privilege drop in the namespace lab (as root): during a raw scan /proc shows every thread of
// prtip as nobody with no capability, while the target still sees the probes and the scan finds the
// lab's open ports; -oA and --db written after the drop are complete; SIGKILL after the drop and
// --resume give every port once; a drop that cannot happen sends nothing.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import t from 'tap';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { PRTIP_BIN } from '../helpers/cli.js';

const PORTS = '1-400,8080,31337';
const PORT_COUNT = 402;

interface Status { uid: number[]; gid: number[]; groups: number[]; capEff: string; capPrm: string }

function statusOf(file: string): Status | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const f = (n: string) => new RegExp(`^${n}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const nums = (v: string) => v.split(/\s+/).filter(Boolean).map(Number);
  return { uid: nums(f('Uid')), gid: nums(f('Gid')), groups: nums(f('Groups')), capEff: f('CapEff'), capPrm: f('CapPrm') };
}

const NOBODY = { uid: 65534, gid: 65534 };

function start(lab: Lab, args: string[]): { child: ChildProcess; stderr: () => string; done: Promise<number | null> } {
  // `ip netns exec` execs prtip in place: the child's pid is prtip's own.
  // Without tap's hooks: they write process info into the repo as the (then unprivileged) process.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('TAP') && !k.startsWith('_TAP')));
  const child = spawn('ip', ['netns', 'exec', lab.scannerNs, process.execPath, PRTIP_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...env, PRTIP_DEBUG: '1' } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => { clearTimeout(timer); resolve(code); }));
  return { child, stderr: () => err, done };
}

/** Polls until the process runs as nobody (bounded): the drop has happened. */
async function waitDropped(pid: number): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    const s = statusOf(`/proc/${pid}/status`);
    if (!s) return false;
    if (s.uid[0] === NOBODY.uid) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function rows(file: string, sql: string): Promise<unknown[][]> {
  const inst = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowsJson().map((r) => r.map((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v)));
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: ['nginx', 'sshd'], filteredTcpPorts: [139] });
  t.teardown(() => lab.teardown());
  // A root-only directory, as a user's own: nobody cannot create anything in it.
  const dir = fs.mkdtempSync(path.join(lab.tmpDir, 'priv-'));
  fs.chmodSync(dir, 0o700);
  const inRange = (p: number) => p <= 400 || p === 8080 || p === 31337;
  const open = lab.tcpOpen.filter(inRange);

  t.test('during a raw scan every thread is nobody without capabilities; the outputs and the database are complete', async (t) => {
    const cap = await lab.capture(`tcp and src host ${lab.scannerV4} and dst host ${lab.targetV4}`, { snaplen: 128 });
    // 402 ports at 100 probes/s: about 4 s of scanning to look at.
    const base = path.join(dir, 'base');
    const db = path.join(dir, 'scan.duckdb');
    const run = start(lab, ['scan', '-sS', '-p', PORTS, '--max-rate', '100', '--max-retries', '1', '-oA', base, '--db', db, lab.targetV4]);
    const pid = run.child.pid!;
    t.ok(await waitDropped(pid), `prtip became nobody: ${run.stderr()}`);
    // Let the scan send for a while after the drop, then read every thread.
    await new Promise((r) => setTimeout(r, 1000));
    const tasks = fs.readdirSync(`/proc/${pid}/task`);
    t.ok(tasks.length > 4, `the native engine's, libuv's and DuckDB's threads are there (${tasks.length})`);
    const states = tasks.map((tid) => [tid, statusOf(`/proc/${pid}/task/${tid}/status`)] as const).filter(([, s]) => s);
    t.ok(states.length > 4);
    for (const [tid, s] of states) {
      t.same(s!.uid, [65534, 65534, 65534, 65534], `thread ${tid}: real, effective, saved, fs uid nobody`);
      t.same(s!.gid, [65534, 65534, 65534, 65534], `thread ${tid}: every gid nogroup`);
      t.notOk(s!.groups.includes(0), `thread ${tid}: no root group`);
      t.equal(s!.capEff, '0000000000000000', `thread ${tid}: CapEff 0`);
      t.equal(s!.capPrm, '0000000000000000', `thread ${tid}: CapPrm 0`);
    }
    const code = await run.done;
    t.equal(code, 0, run.stderr());
    const packets = await cap.stop();
    const syns = packets.filter((p) => p.flags === 'S');
    const probed = new Set(syns.map((p) => p.dport));
    t.equal(probed.size, PORT_COUNT, 'the target saw a SYN to every port');

    const normal = fs.readFileSync(`${base}.nmap`, 'utf8');
    for (const p of open) t.match(normal, new RegExp(`^${p}/tcp\\s+open`, 'm'), `-oN lists ${p} open`);
    t.match(normal, /# Nmap done|# prtip done|done at/i, '-oN is complete');
    const xml = fs.readFileSync(`${base}.xml`, 'utf8');
    t.match(xml, /<\/nmaprun>\s*$/, '-oX is complete');
    t.same([...xml.matchAll(/<port protocol="tcp" portid="(\d+)"><state state="open"/g)].map((m) => Number(m[1])).sort((a, b) => a - b), open, '-oX: the open ports');
    const gnmap = fs.readFileSync(`${base}.gnmap`, 'utf8');
    t.match(gnmap, /# .*done/i, '-oG is complete');
    for (const p of open) t.match(gnmap, new RegExp(`\\b${p}/open/tcp`), `-oG lists ${p} open`);

    t.notOk(fs.existsSync(`${db}.wal`), 'no WAL left beside the database');
    t.equal(fs.statSync(db).uid, 0, 'the database file is still root\'s');
    const dbOpen = (await rows(db, "select port from ports where state = 'open' order by port")).map((r) => Number(r[0]));
    t.same(dbOpen, open, 'the database holds the open ports');
    t.same(await rows(db, 'select count(*), count(distinct port) from ports'), [[PORT_COUNT, PORT_COUNT]], 'and every port once');
    t.same(await rows(db, 'select status from scans'), [['complete']], 'the scan row is finished');
  });

  t.test('SIGKILL after the drop, then --resume: every port once, the open ones found', async (t) => {
    const db = path.join(dir, 'killed.duckdb');
    // Small batches so some are finished (and committed) before the kill.
    const run = start(lab, ['scan', '-sS', '-Pn', '-p', PORTS, '--max-rate', '60', '--batch-size', '32', '--max-retries', '1', '--db', db, lab.targetV4]);
    t.ok(await waitDropped(run.child.pid!), `dropped: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 2500));
    run.child.kill('SIGKILL');
    await run.done;
    const before = await rows(db, 'select count(*) from progress');
    t.ok(Number(before[0]![0]) > 0, `batches were committed after the drop (${String(before[0]![0])})`);
    const resumed = start(lab, ['scan', '--resume', db]);
    t.equal(await resumed.done, 0, resumed.stderr());
    t.match(resumed.stderr(), /resuming scan/);
    const dbOpen = (await rows(db, "select port from ports where state = 'open' order by port")).map((r) => Number(r[0]));
    t.same(dbOpen, open, 'the open ports');
    t.same(await rows(db, 'select count(*), count(distinct port) from ports'), [[PORT_COUNT, PORT_COUNT]], 'every port once');
  });

  t.test('-O, --traceroute and discovery run on handles reserved before the drop', async (t) => {
    const cap = await lab.capture(`src host ${lab.scannerV4} and dst host ${lab.targetV4}`, { snaplen: 128 });
    const jsonl = path.join(dir, 'os.jsonl');
    const run = start(lab, ['scan', '-sS', '-O', '--traceroute', '-p', '22,80,1', '-oD', jsonl, lab.targetV4]);
    t.ok(await waitDropped(run.child.pid!), `dropped: ${run.stderr()}`);
    t.equal(await run.done, 0, run.stderr());
    const packets = await cap.stop();
    const recs = fs.readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    t.ok(recs.some((r) => r.type === 'host' && r.state === 'up'), 'discovery found the host up');
    t.ok(recs.some((r) => r.type === 'os'), 'an OS record');
    t.ok(recs.some((r) => r.type === 'trace'), 'a trace record');
    t.notMatch(run.stderr(), /warning|Operation not permitted/i, 'no raw handle was missing');
    // nmap's OS probes include ICMP echo with code 9 and a UDP probe to the closed port; discovery an echo request.
    t.ok(packets.some((p) => p.proto === 'icmp'), 'ICMP probes on the wire');
    t.ok(packets.some((p) => p.proto === 'udp'), 'the OS UDP probe on the wire');
  });

  t.test('a drop that cannot happen is refused in one line and nothing is sent', async (t) => {
    const cap = await lab.capture(`src host ${lab.scannerV4}`, { snaplen: 128 });
    const xml = path.join(dir, 'refused.xml');
    const run = start(lab, ['scan', '-sS', '-p', '22,80', '--unprivileged-user', 'no-such-user', '-oX', xml, lab.targetV4]);
    const code = await run.done;
    const packets = await cap.stop();
    t.equal(code, 1);
    t.match(run.stderr(), /^prtip: --unprivileged-user "no-such-user": no such user on this system[^\n]*\n$/);
    t.equal(packets.filter((p) => p.proto === 'tcp' || p.proto === 'icmp').length, 0, 'no probe on the wire');
    t.notOk(fs.existsSync(xml), 'no output file written');
  });
}
