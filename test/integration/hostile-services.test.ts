// Hostile services against `prtip scan -sT -sV` (loopback, services written here): endless data,
// 10 MB of binary, one byte per second, NUL / "]]>" / invalid UTF-8 banners, an immediate RST, a
// pattern-bait banner, and TLS with an absurd certificate (hundreds of SANs, control bytes in the
// subject). The scan finishes (the test's own timeout is the bound), its peak RSS stays far from
// what keeping the data would take, and every output is valid: XML against nmap.dtd, JSON, CSV.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { spawn, spawnSync } from 'node:child_process';
import { PRTIP_BIN } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-hostile-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const sockets = new Set<net.Socket>();
const servers: net.Server[] = [];
const timers = new Set<NodeJS.Timeout>();
t.teardown(() => {
  for (const x of timers) clearInterval(x);
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

async function listen(srv: net.Server): Promise<number> {
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}
function tcp(onConn: (s: net.Socket) => void): Promise<number> {
  return listen(net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onConn(s);
  }));
}

const chunk = Buffer.alloc(64 * 1024, 0x41);
const ports: Record<string, number> = {
  endless: await tcp((s) => {
    const pump = () => { while (!s.destroyed && s.write(chunk)); };
    s.on('drain', pump);
    pump();
  }),
  tenMegabytes: await tcp((s) => {
    const data = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 255;
    s.end(data);
  }),
  slowloris: await tcp((s) => {
    const x = setInterval(() => { if (!s.destroyed) s.write('a'); }, 1000);
    timers.add(x);
    s.on('close', () => { clearInterval(x); timers.delete(x); });
  }),
  nul: await tcp((s) => s.end(Buffer.from('220 \x00\x00 NUL\x00 banner ]]> <!-- & "\r\n', 'latin1'))),
  badUtf8: await tcp((s) => s.end(Buffer.from([0x53, 0x53, 0x48, 0x2d, 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x0d, 0x0a]))),
  rst: await tcp((s) => s.resetAndDestroy()),
  bait: await tcp((s) => s.end(`${'a'.repeat(40)}!\r\n`)),
};

// TLS with an absurd certificate: 400 SANs, control bytes and markup in the subject.
const key = path.join(dir, 'k.pem');
const cert = path.join(dir, 'c.pem');
const cnf = path.join(dir, 'x.cnf');
const sans = Array.from({ length: 400 }, (_, i) => `DNS.${i + 1} = h${i}-]]>.example`).join('\n');
fs.writeFileSync(cnf, `[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=evil\\x07]]><x>&amp;\nO=\\x1b[31mRed\n[ext]\nsubjectAltName=@alt\n[alt]\n${sans}\n`);
const ossl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-config', cnf], { encoding: 'utf8' });
if (ossl.status !== 0) throw new Error(`openssl: ${ossl.stderr}`);
ports.tls = await listen(tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (s) => { s.on('error', () => {}); sockets.add(s); }));

// The bait pattern backtracks exponentially on the bait banner; the rest is the built-in set.
const datadir = path.join(dir, 'data');
fs.mkdirSync(datadir);
// An explicit --datadir must hold nmap-services too (a few lines of our own: the ports are given with -p).
fs.writeFileSync(path.join(datadir, 'nmap-services'), 'ftp\t21/tcp\t0.2\nhttp\t80/tcp\t0.4\n');
fs.writeFileSync(path.join(datadir, 'nmap-service-probes'), 'Probe TCP NULL q||\ntotalwaitms 3000\nmatch bait m=^(a|aa)+$=i p/Bait/\nmatch ftp m|^220 | p/Some FTP/\n\nProbe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|\nrarity 1\nports 1-65535\nsslports 1-65535\nmatch http m|^HTTP/1| p/web/\n');

t.test('prtip scan -sV against hostile services: finishes, bounded, every output valid', async (t) => {
  const list = Object.values(ports).join(',');
  const base = path.join(dir, 'out');
  // Asynchronous: the services live in this process and must keep serving while prtip runs.
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', 'maxrss %M', process.execPath, PRTIP_BIN, 'scan', '-sT', '-sV', '--datadir', datadir, '-p', list,
      '-oA', base, '-oJ', `${base}.json`, '-oC', `${base}.csv`, '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('latin1')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (status) => { clearTimeout(guard); resolve({ status, stdout, stderr }); });
  });
  t.equal(r.status, 0, r.stderr.slice(-600));
  t.notMatch(r.stderr, /MaxListenersExceededWarning|internal error/);
  const rssMiB = Number(/maxrss (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  t.ok(rssMiB < 400, `peak RSS ${rssMiB.toFixed(0)} MiB: the 10 MB and endless replies are not kept`);
  t.notMatch(r.stdout, /[\x00\x07\x1b]/, 'no raw control bytes on the terminal');

  const dtd = '/usr/share/nmap/nmap.dtd';
  const lint = spawnSync('xmllint', ['--noout', '--dtdvalid', dtd, `${base}.xml`], { encoding: 'utf8' });
  t.equal(lint.status, 0, `XML valid against nmap.dtd: ${lint.stderr.slice(0, 400)}`);
  const doc = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as { hosts: Array<{ ports: Array<{ port: number; state: string; service: { name?: string; product?: string; cert?: { sans?: string[] } } | null }> }> };
  const byPort = new Map(doc.hosts.flatMap((h) => h.ports).map((p) => [p.port, p]));
  t.equal(byPort.size, Object.keys(ports).length, 'every port in the JSON document');
  t.not(byPort.get(ports.bait!)?.service?.product, 'Bait', 'the runaway pattern was cut, not matched');
  t.equal(byPort.get(ports.nul!)?.service?.product, 'Some FTP', 'the NUL/]]> banner still matched');
  t.ok(byPort.get(ports.tls!)?.service, 'the TLS port has its service record');
  const trailer = (JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as { trailer: { counters: { detect: Record<string, number> } } }).trailer;
  t.ok(trailer.counters.detect.matchesCut! >= 1, `the runaway search is counted (${JSON.stringify(trailer.counters.detect)})`);
  t.ok(trailer.counters.detect.bytes! > 0, 'replies were read');
  for (const [name, port] of Object.entries(ports)) t.ok(byPort.get(port)?.service || byPort.get(port)?.state !== 'open', `${name}: a service record or not open`);
  const csv = fs.readFileSync(`${base}.csv`, 'utf8').split('\r\n').filter(Boolean);
  t.equal(csv.length, 1 + Object.keys(ports).length, 'CSV: a header and a row per port');
  const gnmap = fs.readFileSync(`${base}.gnmap`, 'utf8');
  t.notMatch(gnmap, /[\x00\x07\x1b]/, 'grepable: control bytes escaped');
  t.match(fs.readFileSync(`${base}.nmap`, 'utf8'), /prtip done at/);
});
