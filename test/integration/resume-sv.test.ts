// Nothing lost with -sV: a `prtip scan -sT -sV --db` killed with SIGKILL at a random point, then
// `--resume`, holds exactly the port AND service rows of an uninterrupted scan, with nothing
// duplicated — over a dozen kill points. Before the progress gate, a batch was marked done while
// its open ports were still being probed, and the resumed scan never probed them again.
// Loopback only (connect scan), services written here; a probe file written here (--datadir).
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { PRTIP_BIN, runCli } from '../helpers/cli.js';
import { openDatabase, query } from '../../stages/store/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-resume-sv-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

// Each service answers "HELLO" after its own delay (0.15-0.7 s: detection spans store checkpoints)
// with "LAB-SVC-k 1.k"; the probe file written here matches it.
// An explicit --datadir must hold nmap-services too (a few lines of our own: the ports are given with -p).
fs.writeFileSync(path.join(dir, 'nmap-services'), 'ftp\t21/tcp\t0.2\nhttp\t80/tcp\t0.4\n');
fs.writeFileSync(path.join(dir, 'nmap-service-probes'), [
  'Probe TCP NULL q||',
  'totalwaitms 1000',
  'Probe TCP Hello q|HELLO\\r\\n|',
  'rarity 1',
  'totalwaitms 5000',
  'match labsvc m|^LAB-SVC-(\\d+) ([\\d.]+)\\r\\n| p/Lab service $1/ v/$2/',
  '',
].join('\n'));

const SERVICES = 8;
const SPAN = 160;
const sockets = new Set<net.Socket>();
const servers: net.Server[] = [];
async function listenAll(base: number): Promise<boolean> {
  for (let k = 0; k < SERVICES; k++) {
    const srv = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
      s.once('data', () => setTimeout(() => { if (!s.destroyed) s.end(`LAB-SVC-${k} 1.${k}\r\n`); }, 150 + 80 * k));
    });
    const ok = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(base + k * 20, '127.0.0.1', () => resolve(true));
    });
    if (!ok) return false;
    servers.push(srv);
  }
  return true;
}
let base = 0;
for (let attempt = 0; attempt < 20 && base === 0; attempt++) {
  const b = 20000 + Math.floor(Math.random() * 30000);
  if (await listenAll(b)) base = b;
  else for (const s of servers.splice(0)) s.close();
}
if (base === 0) throw new Error('no free port range on 127.0.0.1');
t.teardown(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

const args = ['scan', '-sT', '-sV', '--datadir', dir, '-p', `${base}-${base + SPAN - 1}`, '--batch-size', '8', '--max-rate', '50', '-v', '127.0.0.1'];

async function rows(file: string) {
  const db = await openDatabase(file, { readOnly: true });
  try {
    const q = async (sql: string) => (await query(db.conn, sql)).rows.map((r) => String(r[0])).sort();
    return {
      ports: await q("SELECT ip || ' ' || port || '/' || proto || ' ' || state || ' ' || reason FROM ports"),
      services: await q("SELECT ip || ' ' || port || '/' || proto || ' ' || name || ' ' || coalesce(product, '-') || ' ' || coalesce(version, '-') FROM services"),
      // A host's reason is its first answer, which depends on where a run started: compare states.
      hosts: await q("SELECT ip || ' ' || state FROM hosts"),
      status: await q('SELECT status FROM scans'),
      progress: Number((await query(db.conn, 'SELECT count(*) FROM progress')).rows[0]![0]),
    };
  } finally {
    db.close();
  }
}

/** Runs prtip; `delayMs` after its first "Discovered open port" line, SIGKILL. */
function killAfterFirstFind(a: string[], delayMs: number) {
  return new Promise<{ sig: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [PRTIP_BIN, ...a], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let armed = false;
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (!armed && /Discovered open port/.test(stderr)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('close', (_code, sig) => {
      clearTimeout(guard);
      resolve({ sig, stderr });
    });
  });
}

t.test('SIGKILL at a dozen points during -sT -sV --db, then --resume: the union equals an uninterrupted scan', async (t) => {
  const full = path.join(dir, 'full.duckdb');
  const whole = await runCli([...args, '--seed', '7', '--db', full], { timeoutMs: 60_000 });
  t.equal(whole.code, 0, whole.stderr);
  const want = await rows(full);
  t.equal(want.ports.length, SPAN, 'uninterrupted: a port row per probe');
  t.equal(want.services.length, SERVICES, 'and a service row per open port');
  t.ok(want.services.every((s) => / labsvc Lab service \d+ 1\.\d+$/.test(s)), 'every service matched');

  // Twelve kill points spread over the scan (about 3 s of sending at 50/s, checkpoints every
  // second), six scans at a time (they mostly wait).
  let killedMid = 0;
  let withProgress = 0;
  const one = async (seed: number) => {
    const file = path.join(dir, `part-${seed}.duckdb`);
    const delay = 200 + ((seed * 5) % 12) * 250; // 200 … 2950 ms, each once
    const killed = await killAfterFirstFind([...args, '--seed', '7', '--db', file], delay);
    t.equal(killed.sig, 'SIGKILL', `seed ${seed}: killed ${delay} ms after the first find`);
    const part = await rows(file);
    if (part.status[0] === 'running') killedMid++;
    if (part.progress > 0) withProgress++;
    const resumed = await runCli(['scan', '--resume', file], { timeoutMs: 60_000 });
    if (part.status[0] === 'complete') {
      t.equal(resumed.code, 1, `seed ${seed}: finished before the kill; nothing to resume`);
    } else {
      t.equal(resumed.code, 0, `seed ${seed}: resumed (${resumed.stderr.split('\n').find((l) => /resuming/.test(l)) ?? resumed.stderr})`);
    }
    const got = await rows(file);
    t.same(got.status, ['complete'], `seed ${seed}: complete after resume`);
    t.same(got.ports, want.ports, `seed ${seed}: ports equal the uninterrupted scan, none twice`);
    t.same(got.services, want.services, `seed ${seed}: services equal the uninterrupted scan, none twice (${part.services.length} before resume)`);
    t.same(got.hosts, want.hosts, `seed ${seed}: hosts too`);
  };
  for (let seed = 1; seed <= 12; seed += 6) await Promise.all([0, 1, 2, 3, 4, 5].map((k) => one(seed + k)));
  t.ok(withProgress >= 4, `kills after checkpointed progress (${withProgress} of 12)`);
  t.ok(killedMid >= 6, `most kills landed mid-scan (${killedMid} of 12)`);
});
