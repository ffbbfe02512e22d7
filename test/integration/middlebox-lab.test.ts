// Middleboxes that lie, in the namespace lab: the real host (nginx, sshd, a node listener) next to
// address ranges where something answers SYN-ACK on every port — the kernel's nftables synproxy
// (which forwards the handshake to the real daemons, so 22/80/8080 work behind it), a LaBrea-style
// tarpit (window 10, never a byte) and a proxy that completes handshakes and never sends a byte
// (test/lab/middlebox.ts, test/lab/answer-all.c). prtip must keep the real ports at full
// confidence, mark the proxied ones in every output, and prove its verdicts on the wire: a full
// handshake to each port it says it checked, none to the others, none to the real host.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { addMiddleboxes } from '../lab/middlebox.js';
import { jsonLines } from '../helpers/cli.js';

const PRTIP = path.resolve('packages/oclif-cli/bin/run.js');
const DTD = '/usr/share/nmap/nmap.dtd';

interface Port { ip: string; port: number; state: string; reason: string; confidence?: number; proxied?: boolean; check?: string }

const skip = labSkipReason();
if (skip) {
  if (process.env.CI === 'true') t.fail(`lab needed under CI: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: ['nginx', 'sshd'], tcpListeners: [8080] });
  t.teardown(() => lab.teardown());
  const mb = await addMiddleboxes(lab, { synproxy: '198.19.2.0/30', tarpit: '198.19.3.0/30', silent: '198.19.4.0/30' });
  t.teardown(() => mb.teardown());
  const REAL = lab.targetV4;
  const SYNPROXY = '198.19.2.1';
  const TARPITS = ['198.19.3.1', '198.19.3.2'];
  const SILENT = ['198.19.4.1', '198.19.4.2'];
  const PORTS = '1-30,80,8080';
  const portCount = 32;
  const scanned = (p: number) => p <= 30 || p === 80 || p === 8080;
  const tmp = fs.mkdtempSync(path.join(lab.tmpDir, 'mbx-'));

  const scan = (args: string[]) =>
    lab.exec([process.execPath, PRTIP, 'scan', '-n', '-Pn', '--max-retries', '1', ...args], { timeoutMs: 120_000 });
  const portsOf = (file: string) => jsonLines(fs.readFileSync(file, 'utf8')).filter((r) => r.type === 'port') as unknown as Port[];
  /** Handshakes the scanner's kernel completed: (ip, port) of every ACK-bearing segment it sent. */
  const handshakes = (packets: CapturedPacket[]) =>
    new Set(packets.filter((p) => p.src === lab.scannerV4 && p.flags?.includes('A') && !p.flags.includes('R')).map((p) => `${p.dst}:${p.dport}`));

  t.test('-sS: real ports at full confidence, proxied ones marked in every output, checks on the wire', async (t) => {
    const cap = await lab.capture(`tcp and src host ${lab.scannerV4}`, { snaplen: 128 });
    const db = path.join(tmp, 'a.duckdb');
    const r = await scan(['-sS', '-p', PORTS, '--reason', REAL, SYNPROXY, ...TARPITS, ...SILENT,
      '-oD', path.join(tmp, 'a.jsonl'), '-oX', path.join(tmp, 'a.xml'), '-oG', path.join(tmp, 'a.gnmap'), '-oC', path.join(tmp, 'a.csv'), '--db', db]);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const ports = portsOf(path.join(tmp, 'a.jsonl'));
    const at = (ip: string) => ports.filter((p) => p.ip === ip);

    // The real host: its listeners open with full confidence, nothing proxied, never checked.
    const realOpen = at(REAL).filter((p) => p.state === 'open');
    t.same(realOpen.map((p) => p.port).sort((a, b) => a - b), lab.tcpOpen.filter(scanned), 'the real host: its listeners, open');
    t.ok(realOpen.every((p) => p.confidence === 10 && p.proxied === undefined && p.check === undefined), 'full confidence, not proxied, not checked');
    t.equal(at(REAL).filter((p) => p.state === 'closed').length, portCount - realOpen.length, 'every other port closed');

    // Tarpit and silent proxy: every port answered SYN-ACK; every one is marked proxied.
    for (const ip of [...TARPITS, ...SILENT]) {
      const ps = at(ip);
      t.equal(ps.filter((p) => p.state === 'open' && p.reason === 'syn-ack').length, portCount, `${ip}: SYN-ACK on all ${portCount} ports`);
      t.ok(ps.every((p) => p.proxied === true), `${ip}: every port marked proxied`);
      const checked = ps.filter((p) => p.check !== undefined);
      t.ok(checked.length >= 1, `${ip}: ${checked.length} ports checked`);
      t.ok(checked.every((p) => p.check !== 'data' && p.confidence === 1), `${ip}: no checked port sent a byte (${[...new Set(checked.map((p) => p.check))]})`);
      t.ok(ps.filter((p) => p.check === undefined).every((p) => p.confidence === 3), `${ip}: unchecked ports take the host's verdict`);
    }

    // The synproxy host: ports with a daemon behind the proxy spoke; the host is judged proxied.
    const sp = at(SYNPROXY);
    t.equal(sp.filter((p) => p.state === 'open').length, portCount, 'synproxy: SYN-ACK on every port');
    for (const p of sp.filter((x) => x.check === 'data')) {
      t.ok(lab.tcpOpen.includes(p.port) && p.confidence === 10 && p.proxied === false, `synproxy ${p.port}: a real daemon behind the proxy, kept at full confidence`);
    }
    t.ok(sp.filter((x) => x.check && x.check !== 'data').every((p) => p.proxied === true && !lab.tcpOpen.includes(p.port)), 'synproxy: checked ports without a daemon are proxied');

    // The wire: a completed handshake from the scanner to exactly the ports the records say were checked.
    const shook = handshakes(packets);
    const claimed = new Set(ports.filter((p) => p.check !== undefined).map((p) => `${p.ip}:${p.port}`));
    t.ok(claimed.size >= 5, `${claimed.size} checks claimed`);
    t.same([...shook].filter((k) => !claimed.has(k)).sort(), [], 'no handshake to a port the records do not say was checked (none to the real host)');
    t.same([...claimed].filter((k) => !shook.has(k)).sort(), [], 'every claimed check completed a handshake on the wire');
    // and the tiny probe went out on a check of the silent proxy (which lets it through and never answers)
    t.ok(packets.some((p) => SILENT.includes(p.dst) && p.payload && Buffer.from(p.payload).toString('latin1').startsWith('GET / HTTP/1.0')), 'the probe was sent to the silent proxy');

    // -oN (stdout): the marker on each row, the note per host, the real host's rows as ever.
    const normal = r.stdout.toString();
    t.match(normal, /22\/tcp +open +ssh +syn-ack ttl 64/, 'real port: plain open');
    // more than 25 proxied ports fold into one line (a tarpit's thousands would bury the real ones)
    t.match(normal, /prtip scan report for 198\.19\.3\.1\nHost is up.*\nNot shown: 32 proxied open tcp ports \(syn-ack\)\nNote: /, 'tarpit ports folded and counted');
    t.notOk(normal.includes('198.19.3.1 are in ignored states'), 'proxied ports are not called ignored');
    t.match(normal, /Note: SYN-ACK on 32 of 32 answered ports, all with ttl 64, window 10, no options/, 'the tarpit note names its fingerprint');
    t.equal((normal.match(/^Note: SYN-ACK on/gm) ?? []).length, 5, 'a note for each of the five answer-everything hosts, none for the real one');

    // -oX: valid against nmap.dtd; a prtip-proxied script under each proxied port; reason stays syn-ack.
    const xmlFile = path.join(tmp, 'a.xml');
    const lint = spawnSync('xmllint', ['--noout', '--dtdvalid', DTD, xmlFile], { encoding: 'utf8' });
    t.equal(lint.status, 0, `xmllint --dtdvalid: ${lint.stderr}`);
    const xml = fs.readFileSync(xmlFile, 'utf8');
    t.equal((xml.match(/<script id="prtip-proxied"/g) ?? []).length, ports.filter((p) => p.proxied).length, 'one prtip-proxied script per proxied port');
    t.notOk(/reason="proxied/.test(xml), 'the wire reason is kept');

    // -oG: a Proxied field listing every proxied port of the host.
    const gnmap = fs.readFileSync(path.join(tmp, 'a.gnmap'), 'utf8');
    const tarpitLine = gnmap.split('\n').find((l) => l.startsWith('Host: 198.19.3.1 ') && l.includes('Ports:'))!;
    t.equal(/\tProxied: ([^\t]*)/.exec(tarpitLine)?.[1]?.split(',').length, portCount, '-oG Proxied: lists all 32');
    t.notOk(gnmap.split('\n').find((l) => l.startsWith(`Host: ${REAL} `) && l.includes('Ports:'))!.includes('Proxied:'), 'none on the real host');

    // -oC: the confidence and proxied columns.
    const csv = fs.readFileSync(path.join(tmp, 'a.csv'), 'utf8').split('\r\n');
    t.ok(csv[0]!.endsWith(',confidence,proxied'));
    t.ok(csv.some((l) => l.startsWith('198.19.4.1,') && /,(1|3),true$/.test(l)), 'CSV: a silent-proxy row, proxied');
    t.ok(csv.some((l) => l.startsWith(`${REAL},`) && l.includes(',22,tcp,open,') && l.endsWith(',10,')), 'CSV: the real ssh row, confidence 10');

    // DuckDB: the same marks, queryable.
    const q = await lab.exec([process.execPath, PRTIP, 'sql', db, 'select count(*) filter (where proxied) as p, count(*) filter (where confidence = 10) as c, count(*) filter (where proxy_check is not null) as k from ports', '--json']);
    t.equal(q.code, 0, q.stderr);
    const row = (JSON.parse(q.stdout.toString()) as Array<Record<string, number>>)[0]!;
    t.same([Number(row.p), Number(row.c), Number(row.k)], [
      ports.filter((p) => p.proxied).length, ports.filter((p) => p.confidence === 10).length, ports.filter((p) => p.check).length,
    ], 'the ports table holds the marks');
  });

  t.test('--open hides proxied ports (and hosts with nothing else); --show-proxied lists them', async (t) => {
    const r = await scan(['-sS', '-p', PORTS, '--open', REAL, ...TARPITS, '-oD', path.join(tmp, 'b.jsonl')]);
    t.equal(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    t.match(text, new RegExp(`prtip scan report for ${REAL.replace(/\./g, '\\.')}`));
    t.match(text, /22\/tcp +open +ssh/);
    t.notOk(text.includes('proxied?'), 'no proxied row');
    t.notOk(text.includes('report for 198.19.3.'), 'tarpit hosts left out');
    t.match(text, /Not shown: 2 hosts whose every open port is marked proxied/);
    t.ok(portsOf(path.join(tmp, 'b.jsonl')).every((p) => p.proxied !== true && p.state === 'open'), '-oD --open: no proxied record');

    const s = await scan(['-sS', '-p', PORTS, '--open', '--show-proxied', REAL, TARPITS[0]!]);
    t.equal(s.code, 0, s.stderr);
    const shown = s.stdout.toString();
    t.match(shown, /prtip scan report for 198\.19\.3\.1/);
    t.equal((shown.match(/open \(proxied\?\)/g) ?? []).length, portCount, 'all 32 proxied rows listed');
    t.match(shown, /22\/tcp +open +ssh/);
  });

  t.test('behind the kernel synproxy: every daemon checked speaks (full confidence), the rest is proxied', async (t) => {
    // Eight ports: a host answering all of them is suspect at the eighth, and all eight are checked.
    const cap = await lab.capture(`tcp and host ${SYNPROXY}`, { snaplen: 128 });
    const r = await scan(['-sS', '-p', '20-25,80,8080', '-oD', path.join(tmp, 'c.jsonl'), SYNPROXY]);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const ps = portsOf(path.join(tmp, 'c.jsonl'));
    const marks = Object.fromEntries(ps.map((p) => [p.port, `${p.confidence} ${p.proxied} ${p.check}`]));
    t.same(marks, {
      20: '1 true reset', 21: '1 true reset', 22: '10 false data', 23: '1 true reset', 24: '1 true reset', 25: '1 true reset',
      80: '10 false data', 8080: '10 false data',
    });
    t.match(r.stdout.toString(), /20\/tcp +open \(proxied\?\) +ftp-data/, '-oN: a proxied row says so');
    // The same stages as a pipe: prtip middlebox between send and format gives the same marks.
    const node = process.execPath;
    const pipe = await lab.exec(['bash', '-o', 'pipefail', '-c',
      `${node} ${PRTIP} targets -p 20-25,80,8080 ${SYNPROXY} | ${node} ${PRTIP} send -sS --max-retries 1 | ${node} ${PRTIP} middlebox | ${node} ${PRTIP} format -oD -`], { timeoutMs: 120_000 });
    t.equal(pipe.code, 0, pipe.stderr);
    const piped = jsonLines(pipe.stdout.toString()).filter((x) => x.type === 'port') as unknown as Port[];
    t.same(Object.fromEntries(piped.map((p) => [p.port, `${p.confidence} ${p.proxied} ${p.check}`])), marks, 'the pipe marks as the single command does');
    t.match(r.stdout.toString(), /22\/tcp +open +ssh/, '-oN: the daemon behind the proxy is plain open');
    // On the wire: the synproxy reset the handshakes to ports without a listener.
    for (const port of [20, 21, 23, 24, 25]) {
      t.ok(packets.some((p) => p.src === SYNPROXY && p.sport === port && p.flags?.includes('R')), `RST from the proxy after the handshake to ${port}`);
    }
  });

  t.test('-sT: the connect scan sees the tarpit as open too; the same marks', async (t) => {
    const r = await scan(['-sT', '-p', PORTS, '-oD', path.join(tmp, 'd.jsonl'), REAL, TARPITS[0]!]);
    t.equal(r.code, 0, r.stderr);
    const ps = portsOf(path.join(tmp, 'd.jsonl'));
    const tarpit = ps.filter((p) => p.ip === TARPITS[0]);
    t.equal(tarpit.filter((p) => p.state === 'open').length, portCount, 'every tarpit port open to a connect scan');
    t.ok(tarpit.every((p) => p.proxied === true), 'all marked proxied');
    const real = ps.filter((p) => p.ip === REAL && p.state === 'open');
    t.same(real.map((p) => p.port).sort((a, b) => a - b), lab.tcpOpen.filter(scanned));
    t.ok(real.every((p) => p.confidence === 10 && p.proxied === undefined), 'real ports: full confidence');
  });
}
