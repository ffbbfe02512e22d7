// `prtip detect` and `prtip scan -sV` as a user runs them (built CLI), against loopback services.
import t from 'tap';
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLines, runCli } from '../helpers/cli.js';
import { createRecordPacker, decodeRecords, newHeader, newTrailer, type PortRecord } from '../../stages/records/index.js';
import { parseArgs } from '../../packages/oclif-cli/lib/flags.js';

const INSTALLED = existsSync('/usr/share/nmap/nmap-service-probes');

async function banner(text: string): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    s.write(text);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
}

t.test('--check-db reports the installed database', { skip: INSTALLED ? false : 'nmap-common not installed' }, async (t) => {
  const r = await runCli(['detect', '--check-db']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /probe database: \/usr\/share\/nmap\/nmap-service-probes/);
  t.match(r.stdout, /untranslatable: 0\n/);
  t.match(r.stdout, /loaded: (\d+) of \1\n/);
});

t.test('--check-db lists what cannot be used, with reasons; exit 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-checkdb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'nmap-service-probes'), 'Probe TCP NULL q||\nmatch a m|(?R)|\nmatch b m|^ok|\nbogus line\n');
  const r = await runCli(['detect', '--check-db', '--datadir', dir]);
  t.equal(r.code, 2);
  t.match(r.stdout, /untranslatable: 1\n/);
  t.match(r.stdout, /line 2 \(a\): recursion/);
  t.match(r.stdout, /line 4: unknown directive "bogus"/);
  t.match(r.stdout, /loaded: 1 of 2/);
});

t.test('without nmap data the built-in probes are used, and that is said once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-nodata-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The default data directory ($PRTIP_DATADIR here) lacking Nmap's files: built-in tables, announced.
  const env = { PRTIP_DATADIR: dir };
  const r = await runCli(['detect', '--check-db'], { env });
  t.equal(r.code, 0);
  t.match(r.stdout, /probe database: builtin/);
  const svc = await banner('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
  t.teardown(svc.close);
  const scan = await runCli(['scan', '-sV', '-Pn', '-p', String(svc.port), '-oD', '-', '127.0.0.1'], { timeoutMs: 60_000, env });
  t.equal(scan.code, 0, scan.stderr);
  const notices = scan.stderr.split('\n').filter((l) => l.startsWith('prtip: warning:'));
  t.equal(notices.filter((l) => l.includes('nmap-services')).length, 1, `services fallback said once: ${scan.stderr}`);
  t.equal(notices.filter((l) => l.includes('nmap-service-probes')).length, 1, 'probes fallback said once');
  const s = jsonLines(scan.stdout).find((x) => x['type'] === 'service');
  t.match(s, { name: 'ssh', product: 'OpenSSH', version: '9.2p1 Debian 2+deb12u3' });
});

t.test('an explicit --datadir lacking the files is an error; a corrupt probe file is refused with file, line and reason', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'prtip-typo-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const top = await runCli(['scan', '-sT', '--top-ports', '1000', '--datadir', join(empty, 'nmpa'), '127.0.0.1']);
  t.equal(top.code, 1);
  t.match(top.stderr, /^prtip: --datadir .*nmpa: cannot read nmap-services \(ENOENT\)/);
  t.equal(top.stderr.trim().split('\n').length, 1, 'one line');
  // A directory with nmap-services but no nmap-service-probes: -sV refuses rather than use the built-in set.
  writeFileSync(join(empty, 'nmap-services'), 'ssh\t22/tcp\t0.9\n');
  const sv = await runCli(['scan', '-sT', '-sV', '-p', '22', '--datadir', empty, '127.0.0.1']);
  t.equal(sv.code, 1);
  t.match(sv.stderr, /--datadir .*: no nmap-service-probes there \(ENOENT\)/);
  // A corrupt probe file: nmap refuses it at the first bad line; so does prtip.
  writeFileSync(join(empty, 'nmap-service-probes'), 'Probe TCP NULL q||\nmatch ssh m|^SSH-|\nmatch broken m|unterminated\n');
  const svc = await banner('SSH-2.0-x\r\n');
  t.teardown(svc.close);
  const bad = await runCli(['scan', '-sT', '-sV', '-p', String(svc.port), '--datadir', empty, '127.0.0.1']);
  t.equal(bad.code, 1, 'refused, not exit 0 with "unknown" everywhere');
  t.match(bad.stderr, new RegExp(`^prtip: ${join(empty, 'nmap-service-probes').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: unterminated field`));
  t.notMatch(bad.stderr, /\n\s+at /);
});

t.test('prtip detect in a pipe: msgpack in, msgpack out', async (t) => {
  const svc = await banner('220 (vsFTPd 3.0.3)\r\n');
  t.teardown(svc.close);
  const pack = createRecordPacker();
  const port: PortRecord = { type: 'port', ip: '127.0.0.1', port: svc.port, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: null, rtt: 0.1, time: Date.now() };
  const input = Buffer.concat([pack(newHeader(['prtip send'])), pack(port), pack(newTrailer())]);
  const r = await runCli(['detect'], { input, timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  const recs = [];
  for await (const rec of decodeRecords((async function* () { yield r.stdoutBytes; })())) recs.push(rec);
  t.same(recs.map((x) => x.type), ['scan', 'port', 'service', 'end']);
  t.match(recs[2], { type: 'service', ip: '127.0.0.1', port: svc.port, proto: 'tcp', name: 'ftp', product: 'vsftpd', version: '3.0.3' });
  t.match((recs[0] as { args: string[] }).args, ['prtip send', /^prtip detect/]);
});

t.test('prtip scan -sV: VERSION column in normal output, service records in JSON Lines', { skip: INSTALLED ? false : 'nmap-common not installed' }, async (t) => {
  const svc = await banner('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
  t.teardown(svc.close);
  const dir = mkdtempSync(join(tmpdir(), 'prtip-sv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const jsonl = join(dir, 'out.jsonl');
  const r = await runCli(['scan', '-sTV', '-Pn', '-p', String(svc.port), '-oD', jsonl, '127.0.0.1'], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /PORT\s+STATE\s+SERVICE\s+VERSION/);
  t.match(r.stdout, new RegExp(`${svc.port}/tcp\\s+open\\s+ssh\\s+OpenSSH 9\\.2p1 Debian 2\\+deb12u3 \\(protocol 2\\.0\\)`));
  t.match(r.stdout, /Service Info: OS: Linux; CPEs?: [^\n]*cpe:\/o:linux:linux_kernel/);
  const { readFileSync } = await import('node:fs');
  const s = jsonLines(readFileSync(jsonl, 'utf8')).find((x) => x['type'] === 'service');
  t.match(s, { type: 'service', ip: '127.0.0.1', port: svc.port, proto: 'tcp', name: 'ssh', product: 'OpenSSH', version: '9.2p1 Debian 2+deb12u3', extrainfo: 'protocol 2.0' });
  t.ok(Array.isArray(s!['cpe']) && (s!['cpe'] as string[]).includes('cpe:/a:openbsd:openssh:9.2p1'));
});

t.test('version flags', async (t) => {
  const p = (...a: string[]) => parseArgs(a, ['version', 'probedb', 'scan'], 'scan', true);
  t.equal(p('-sV').versionDetect, true);
  t.equal(p('-sTV').versionDetect, true, 'combined -sTV');
  t.equal(p('-sV', '--version-intensity', '3').versionIntensity, 3);
  t.equal(p('--version-light').versionIntensity, 2);
  t.equal(p('--version-all').versionIntensity, 9);
  t.throws(() => p('--version-intensity', '10'), /10/);
  const r = await runCli(['scan', '-sV', '--version-intensity', 'x', '127.0.0.1']);
  t.equal(r.code, 1);
  t.match(r.stderr, /"x"/);
  const s = await runCli(['send', '-sV'], { input: '' });
  t.equal(s.code, 1, '-sV belongs to scan and detect, not send');
});
