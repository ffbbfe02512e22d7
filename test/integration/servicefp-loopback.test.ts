// The service fingerprint of services nmap cannot identify, against a live nmap -sV in the same
// run: hand-made daemons on loopback (one answering bytes no probe matches, one softmatching,
// one hard-matching); prtip's -oX servicefp and -oN block must carry nmap's %r(…) entries byte
// for byte, stay valid against nmap.dtd, and be read by ndiff and python3-libnmap; NSE's
// fingerprint-strings reads it as in nmap; the DuckDB services table keeps it.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { execFile, spawnSync } from 'node:child_process';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-servicefp-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function daemon(onConn: (s: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    onConn(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { port: (srv.address() as net.AddressInfo).port, close: () => srv.close() };
}

// A greeting no probe matches (quotes, backslashes, dots, NUL before a digit, high bytes), then an
// echo of what the probe sent: each probe's response differs.
const odd = Buffer.concat([Buffer.from('ZQ~odd "q" \\b\\ 1.5\r\n'), Buffer.alloc(12, 0x41), Buffer.from([0, 0x31, 1, 0x7f, 0x80, 0xff, 9, 0x25, 0x3b])]);
const oddDaemon = () => daemon((s) => {
  s.write(odd);
  const quiet = setTimeout(() => s.end(), 2000);
  s.once('data', (d: Buffer) => {
    clearTimeout(quiet);
    s.end(Buffer.concat([Buffer.from('ECHO<'), d.subarray(0, 20), Buffer.from('>')]));
  });
});

function fingerprints(xml: string): Map<number, string | undefined> {
  // nmap writes one <port> per line: its portid and the servicefp attribute (if any) of its <service>.
  const out = new Map<number, string | undefined>();
  for (const m of xml.matchAll(/<port protocol="tcp" portid="(\d+)">.*?<\/port>/gs)) {
    const fp = /servicefp="([^"]*)"/.exec(m[0])?.[1];
    out.set(Number(m[1]), fp?.replaceAll('&quot;', '"').replaceAll('&apos;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>')
      .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replaceAll('&amp;', '&'));
  }
  return out;
}

/** The fingerprints of an -oN file, unwrapped (first line, then the SF: lines without "SF:"). */
function normalFingerprints(text: string): { intro: string | undefined; fps: string[]; lines: string[] } {
  const lines = text.split('\n');
  const intro = lines.find((l) => l.includes('unrecognized despite returning data'));
  const fps: string[] = [];
  const fpLines: string[] = [];
  for (const l of lines) {
    if (l.startsWith('SF-Port')) fps.push(l);
    else if (l.startsWith('SF:')) fps[fps.length - 1] += l.slice(3);
    else continue;
    fpLines.push(l);
  }
  return { intro, fps, lines: fpLines };
}

const entries = (fp: string) => fp.slice(fp.indexOf('%r('));
const header = (fp: string) => Object.fromEntries(fp.slice(0, fp.indexOf('%r(')).split('%').map((kv) => kv.split('=')));

t.test('prtip -sV -oX/-oN fingerprints equal nmap -sV\'s for the same daemons', async (t) => {
  const a = await oddDaemon();
  const soft = await daemon((s) => {
    s.write('OK 9 1 2 3 4 5\r\n'); // nmap-service-probes' NULL softmatch "fhem"
    setTimeout(() => s.end(), 200);
  });
  const hard = await daemon((s) => s.end('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'));
  t.teardown(() => [a, soft, hard].forEach((d) => d.close()));
  const ports = [a.port, soft.port, hard.port].join(',');
  const nx = path.join(tmp, 'nmap.xml');
  const nn = path.join(tmp, 'nmap.txt');
  // Asynchronously: the daemons answer from this process's event loop.
  const nmap = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile('nmap', ['-sV', '--script', 'fingerprint-strings', '-Pn', '-n', '-p', ports, '-oX', nx, '-oN', nn, '127.0.0.1'], { timeout: 120_000 }, (err, _out, stderr) =>
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stderr }));
  });
  t.equal(nmap.code, 0, nmap.stderr);
  const px = path.join(tmp, 'prtip.xml');
  const pn = path.join(tmp, 'prtip.txt');
  const db = path.join(tmp, 'scan.duckdb');
  const prtip = await runCli(['scan', '-sT', '-sV', '--script', 'fingerprint-strings', '-Pn', '-n', '-p', ports, '-oX', px, '-oN', pn, '--db', db, '127.0.0.1'], { timeoutMs: 120_000 });
  t.equal(prtip.code, 0, prtip.stderr);

  const theirs = fingerprints(fs.readFileSync(nx, 'utf8'));
  const ours = fingerprints(fs.readFileSync(px, 'utf8'));
  t.ok(theirs.get(a.port) && theirs.get(soft.port), 'nmap fingerprinted the unrecognized and the softmatched service');
  t.equal(theirs.get(hard.port), undefined, 'nmap: no fingerprint for a hard match');
  t.equal(ours.get(hard.port), undefined, 'prtip: no fingerprint for a hard match');
  for (const port of [a.port, soft.port]) {
    const n = theirs.get(port)!;
    const p = ours.get(port);
    t.ok(p, `prtip fingerprinted port ${port}`);
    if (!p) continue;
    if (port === a.port) t.equal(entries(p), entries(n), `port ${port}: the same probes, lengths and escaped bytes`);
    else {
      // The softmatch narrows the probes once NULL's greeting is in; prtip starts the next probes
      // 250 ms into the NULL probe (engine.ts: its one departure from nmap, for speed), so on a
      // loaded machine one probe may go out before the narrowing. nmap's entries, in order, are
      // all there, byte for byte.
      const list = (fp: string) => fp.match(/%r\([^)]*?,[0-9A-F]+,"(?:[^"\\]|\\.)*"\)/g) ?? [];
      const ourEntries = list(p);
      let at = 0;
      for (const e of list(n)) at = ourEntries.indexOf(e, at) + 1 || Infinity;
      t.ok(at !== Infinity && list(n).length > 0, `port ${port}: nmap's entries in prtip's, in order:\n${entries(n)}\n${entries(p)}`);
    }
    t.ok(p.endsWith(';'));
    const hn = header(n);
    const hp = header(p);
    t.equal(Object.keys(hp).join(), Object.keys(hn).join(), 'the same header fields in the same order');
    t.equal(hp[`SF-Port${port}-TCP:V`], `prtip-0.1.0`, 'V= names prtip');
    t.equal(hp.I, hn.I);
    t.equal(hp.D, hn.D);
    t.equal(hp.P, hn.P);
    t.ok(Math.abs(parseInt(hp.Time!, 16) - parseInt(hn.Time!, 16)) < 600, 'Time= is the Unix time in hex');
  }

  // -oN: the same intro line, the same (unwrapped) fingerprints as -oX, nmap's line layout.
  const nN = normalFingerprints(fs.readFileSync(nn, 'utf8'));
  const pN = normalFingerprints(fs.readFileSync(pn, 'utf8'));
  t.equal(pN.intro, nN.intro);
  // NSE's fingerprint-strings reads port.version.service_fp: the same strings as nmap's (on the
  // port whose probes are not subject to the softmatch race above).
  const scriptLines = (f: string) => {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith(`${a.port}/tcp `));
    const out: string[] = [];
    for (let i = at + 1; at >= 0 && i < lines.length && lines[i]!.startsWith('|'); i++) out.push(lines[i]!);
    return out;
  };
  t.ok(scriptLines(nn).length > 3, 'nmap ran fingerprint-strings');
  t.same(scriptLines(pn), scriptLines(nn), 'fingerprint-strings output equal');
  t.match(pN.intro, /^2 services unrecognized/);
  t.same(pN.fps, [a.port, soft.port].sort((x, y) => x - y).map((p) => ours.get(p)), '-oN carries what -oX carries (ports in order)');
  const oddFp = (fps: string[]) => fps.find((f) => f.startsWith(`SF-Port${a.port}-`));
  t.equal(entries(oddFp(pN.fps) ?? ''), entries(oddFp(nN.fps) ?? '-'), '-oN: the same entries as nmap\'s');
  for (const N of [nN, pN]) {
    t.ok(N.lines.every((l, i) => l.length === 74 || (l.length <= 74 && (i === N.lines.length - 1 || N.lines[i + 1]!.startsWith('SF-Port')))), 'lines of 74 columns, shorter only at a fingerprint\'s end');
  }

  const dtd = spawnSync('xmllint', ['--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', px], { encoding: 'utf8' });
  t.equal(dtd.status, 0, dtd.stderr);
  // ndiff 7.93 itself crashes on any difference in script output (its script_result_diffs bug), so
  // it reads both files without their <script> elements: what is checked is that it reads servicefp.
  const noScripts = (f: string) => {
    const out = `${f}.noscripts.xml`;
    fs.writeFileSync(out, fs.readFileSync(f, 'utf8').replace(/<script [^>]*?(\/>|>[\s\S]*?<\/script>)/g, ''));
    return out;
  };
  const nd = spawnSync('ndiff', [noScripts(nx), noScripts(px)], { encoding: 'utf8' });
  t.ok(nd.status === 0 || nd.status === 1, `ndiff reads both (status ${nd.status}): ${nd.stderr}`);
  t.equal(nd.stderr, '');
  const py = spawnSync('/usr/bin/python3', ['-c', `
import sys, json
from libnmap.parser import NmapParser
r = NmapParser.parse_fromfile(sys.argv[1])
print(json.dumps({str(s.port): s.servicefp for h in r.hosts for s in h.services}))
`, px], { encoding: 'utf8' });
  t.equal(py.status, 0, py.stderr);
  const lib = JSON.parse(py.stdout || '{}') as Record<string, string>;
  t.equal(lib[String(a.port)], ours.get(a.port), 'python3-libnmap reads the servicefp');

  const sql = await runCli(['sql', db, 'select port, servicefp from services order by port', '--json']);
  t.equal(sql.code, 0, sql.stderr);
  const rows = JSON.parse(sql.stdout) as Array<{ port: number; servicefp: string | null }>;
  t.equal(rows.find((r) => r.port === a.port)?.servicefp, ours.get(a.port), 'the services table keeps it');
  t.equal(rows.find((r) => r.port === hard.port)?.servicefp, null);
});
