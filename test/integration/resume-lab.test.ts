// Nothing lost: a scan with --db killed with SIGKILL mid-scan, then `prtip scan --resume FILE`,
// holds exactly what an uninterrupted scan of the same plan finds (port for port, host for host),
// the resumed run sends no probe of a batch the killed run had finished (checked on the wire),
// and SIGINT leaves a cleanly finished, resumable database.
import t from 'tap';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { PRTIP_BIN } from '../helpers/cli.js';
import { openDatabase, query } from '../../stages/store/index.js';

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab: Lab = await createLab({ daemons: ['nginx', 'sshd'], filteredTcpPorts: [9999], anyIpV4: '198.19.0.0/24' });
  t.teardown(() => lab.teardown());
  const dir = fs.mkdtempSync(`${lab.tmpDir}/resume-`);
  const TARGETS = '198.19.0.0/28';
  const PORTS = '1-200,8080,9999';
  const TOTAL = 16 * 202;
  // -Pn: the wire checks count the port scan's own SYNs (discovery's -PS443 would add to them).
  const common = ['scan', '-sT', '-Pn', '-p', PORTS, '--max-rtt-timeout', '300ms', '--max-retries', '1', '--batch-size', '100', '-v'];

  async function rows(file: string, scanId?: string) {
    const db = await openDatabase(file, { readOnly: true });
    try {
      const id = scanId ?? String((await query(db.conn, 'SELECT scan_id FROM scans ORDER BY start_time DESC LIMIT 1')).rows[0]![0]);
      const ports = await query(db.conn, "SELECT ip || ' ' || port || '/' || proto || ' ' || state || ' ' || reason FROM ports WHERE scan_id = $1", [id]);
      const hosts = await query(db.conn, "SELECT ip || ' ' || state FROM hosts WHERE scan_id = $1", [id]);
      const scan = await query(db.conn, 'SELECT status, resumed FROM scans WHERE scan_id = $1', [id]);
      const done = await query(db.conn, 'SELECT coalesce(sum(count), 0) FROM progress WHERE scan_id = $1', [id]);
      return {
        id,
        ports: ports.rows.map((r) => String(r[0])).sort(),
        hosts: hosts.rows.map((r) => String(r[0])).sort(),
        status: String(scan.rows[0]![0]),
        resumed: Number(scan.rows[0]![1]),
        done: Number(done.rows[0]![0]),
      };
    } finally {
      db.close();
    }
  }

  /** Starts prtip in the scanner namespace; resolves once `ready(stderr)` holds, then sends `signal`. */
  function runUntil(args: string[], ready: (stderr: string) => boolean, signal: NodeJS.Signals) {
    return new Promise<{ code: number | null; sig: NodeJS.Signals | null; stderr: string }>((resolve) => {
      const child = spawn('ip', ['netns', 'exec', lab.scannerNs, process.execPath, PRTIP_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      let sent = false;
      const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (!sent && ready(stderr)) {
          sent = true;
          child.kill(signal);
        }
      });
      child.on('close', (code, sig) => {
        clearTimeout(guard);
        resolve({ code, sig, stderr });
      });
    });
  }

  const discovered = (s: string) => (s.match(/^Discovered open port/gm) ?? []).length;

  t.test('uninterrupted vs SIGKILL + --resume: identical results, finished batches not re-probed', async (t) => {
    const full = `${dir}/full.duckdb`;
    const whole = await lab.exec([process.execPath, PRTIP_BIN, ...common, '--seed', '4242', '--db', full, '-oX', `${dir}/full.xml`, '-oJ', `${dir}/full.json`, TARGETS], { timeoutMs: 120_000 });
    t.equal(whole.code, 0, whole.stderr);
    const a = await rows(full);
    t.equal(a.ports.length, TOTAL, 'uninterrupted: every probe has its port row');
    t.equal(a.status, 'complete');

    const part = `${dir}/part.duckdb`;
    // Slow enough to be killed mid-scan: 48 open ports in all; kill at the 16th found.
    const killed = await runUntil([...common, '--max-rate', '600', '--seed', '4242', '--db', part, '-oX', `${dir}/part.xml`, '-oJ', `${dir}/part.json`, TARGETS], (s) => discovered(s) >= 16, 'SIGKILL');
    t.equal(killed.sig, 'SIGKILL', `killed mid-scan (${killed.stderr.slice(-300)})`);
    const b = await rows(part);
    t.equal(b.status, 'running', 'the killed scan is stored as unfinished');
    t.ok(b.ports.length > 0 && b.ports.length < TOTAL, `the database opens and holds the checkpointed part (${b.ports.length} of ${TOTAL})`);
    t.ok(b.done > 0, `some batches were checkpointed as finished (${b.done} probes)`);
    t.equal(b.done % 100, 0, 'progress is counted in whole batches');

    const cap = await lab.capture(`tcp and dst net 198.19.0.0/28 and tcp[tcpflags] == tcp-syn`);
    const resumed = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '--resume', part], { timeoutMs: 120_000 });
    const packets = await cap.stop();
    t.equal(resumed.code, 0, resumed.stderr);
    t.match(resumed.stderr, new RegExp(`resuming scan ${b.id}: ${b.done} probes already done`));
    const probed = new Set(packets.map((p) => `${p.dst} ${p.dport}`));
    t.equal(probed.size, TOTAL - b.done, `the resumed run probed exactly the probes of unfinished batches (${packets.length} SYNs, dropped ${String(cap.dropped)})`);

    const c = await rows(part, b.id);
    t.equal(c.status, 'complete');
    t.equal(c.resumed, 1);
    t.equal(c.ports.length, TOTAL, 'one row per probe: no duplicates from batches probed twice');
    t.same(c.ports, a.ports, 'the union equals the uninterrupted scan, port for port');
    t.same(c.hosts, a.hosts, 'and host for host');
    t.equal(c.done, TOTAL, 'every batch is marked finished');

    // The resumed run rewrote the -oX/-oJ files named in the stored command line: with the part
    // the killed run stored, merged with its own, they show the whole scan.
    const portsOf = (f: string) => (JSON.parse(fs.readFileSync(f, 'utf8')) as { hosts: Array<{ ip: string; ports: Array<{ port: number; state: string; reason: string }> }> })
      .hosts.flatMap((h) => h.ports.map((p) => `${h.ip} ${p.port}/tcp ${p.state} ${p.reason}`)).sort();
    t.same(portsOf(`${dir}/part.json`), a.ports, '-oJ after resume: every port of the scan, once');
    const nd = spawnSync('ndiff', [`${dir}/full.xml`, `${dir}/part.xml`], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const changes = nd.stdout.split('\n').filter((l) => /^[-+]/.test(l) && !/^[-+]Nmap /.test(l));
    t.same(changes, [], `ndiff full.xml part.xml: no host or port differs (${nd.stderr})`);

    const again = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '--resume', part], { timeoutMs: 30_000 });
    t.equal(again.code, 1);
    t.match(again.stderr, /is complete; nothing to resume/);
  });

  t.test('SIGINT with --db: flushed, trailer written, status interrupted, then resumable', async (t) => {
    const file = `${dir}/int.duckdb`;
    const xml = `${dir}/int.xml`;
    const r = await runUntil([...common, '--max-rate', '600', '--seed', '77', '--db', file, '-oX', xml, TARGETS], (s) => discovered(s) >= 16, 'SIGINT');
    t.equal(r.code, 130, `exits 130 on SIGINT, after flushing: ${r.stderr.slice(-300)}`);
    const b = await rows(file);
    t.equal(b.status, 'interrupted');
    t.ok(b.ports.length > 0 && b.ports.length < TOTAL);
    t.match(fs.readFileSync(xml, 'utf8'), /<finished [^>]*exit="error" errormsg="scan interrupted: results are partial"\/>.*\n<\/runstats>\n<\/nmaprun>\n$/s, 'XML complete with its runstats');
    const resumed = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '--resume', file], { timeoutMs: 120_000 });
    t.equal(resumed.code, 0, resumed.stderr);
    const c = await rows(file, b.id);
    t.equal(c.status, 'complete');
    t.equal(c.ports.length, TOTAL);
  });

  t.test('-sS (the default as root) checkpoints progress too: SIGKILL + --resume equals an uninterrupted -sS scan', async (t) => {
    const syn = ['scan', '-sS', '-Pn', '-p', PORTS, '--max-retries', '1', '--batch-size', '100', '-v'];
    const full = `${dir}/syn-full.duckdb`;
    const whole = await lab.exec([process.execPath, PRTIP_BIN, ...syn, '--seed', '99', '--db', full, TARGETS], { timeoutMs: 120_000 });
    t.equal(whole.code, 0, whole.stderr);
    const a = await rows(full);
    t.equal(a.ports.length, TOTAL);
    t.equal(a.done, TOTAL, 'every probe is covered by a progress record');

    const part = `${dir}/syn-part.duckdb`;
    const killed = await runUntil([...syn, '--max-rate', '400', '--seed', '99', '--db', part, TARGETS], (s) => discovered(s) >= 16, 'SIGKILL');
    t.equal(killed.sig, 'SIGKILL', `killed mid-scan (${killed.stderr.slice(-300)})`);
    const b = await rows(part);
    t.equal(b.status, 'running');
    t.ok(b.done > 0 && b.done < TOTAL, `some SYN batches were checkpointed as finished (${b.done} of ${TOTAL})`);

    const cap = await lab.capture(`tcp and dst net 198.19.0.0/28 and tcp[tcpflags] == tcp-syn`);
    const resumed = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '--resume', part], { timeoutMs: 120_000 });
    const packets = await cap.stop();
    t.equal(resumed.code, 0, resumed.stderr);
    const probed = new Set(packets.map((p) => `${p.dst} ${p.dport}`));
    t.equal(probed.size, TOTAL - b.done, `the resumed run probed only unfinished batches (dropped ${String(cap.dropped)})`);
    const c = await rows(part, b.id);
    t.equal(c.status, 'complete');
    t.same(c.ports, a.ports, 'the union equals the uninterrupted -sS scan, port for port');
    t.same(c.hosts, a.hosts, 'and host for host');
  });
}
