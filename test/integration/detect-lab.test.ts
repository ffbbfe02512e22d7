// prtip -sV against nmap -sV on real Debian daemons in the namespace lab: every field nmap reports
// (service name, product, version) must agree, and the wire must show prtip probing each port
// (TCP connections, a TLS ClientHello on 443, a DNS query over UDP 53).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { combine, report, runNmapSv, runPrtipSv, SV_DAEMONS, SV_TCP_PORTS } from '../../bench/sv-compare.js';

/** <service> attributes per "port/proto" of an -oX document; cpe joined with spaces. */
function xmlServices(xml: string): Map<string, Record<string, string | undefined>> {
  const out = new Map<string, Record<string, string | undefined>>();
  const unescape = (v: string) => v.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const m of xml.matchAll(/<port protocol="(\w+)" portid="(\d+)">([\s\S]*?)<\/port>/g)) {
    const svc = /<service ([^>]*?)\/?>([\s\S]*?)(?:<\/service>|$)/.exec(m[3]!);
    if (!svc) continue;
    const attrs: Record<string, string | undefined> = {};
    for (const a of svc[1]!.matchAll(/(\w+)="([^"]*)"/g)) attrs[a[1]!] = unescape(a[2]!);
    const cpes = [...(svc[2] ?? '').matchAll(/<cpe>([^<]*)<\/cpe>/g)].map((x) => unescape(x[1]!));
    attrs['cpe'] = cpes.length ? cpes.join(' ') : undefined;
    out.set(`${m[2]}/${m[1]}`, attrs);
  }
  return out;
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: SV_DAEMONS, tcpListeners: [], startTimeoutMs: 60_000 });
  t.teardown(() => lab.teardown());

  const cap = await lab.capture(`dst host ${lab.targetV4} and (tcp or udp port 53)`);
  const prtip = await runPrtipSv(lab);
  const packets = await cap.stop();
  const nmap = await runNmapSv(lab);
  const c = combine(nmap, prtip);
  t.comment(report(c));

  t.test('nmap identified the lab daemons (the reference is sound)', async (t) => {
    t.ok(c.nmap.length >= SV_TCP_PORTS.length, `nmap reported ${c.nmap.length} services: ${c.nmapStderr.slice(0, 500)}`);
    t.ok(c.reported >= 25, `nmap reported ${c.reported} fields`);
  });

  t.test('prtip agrees with nmap on every field nmap reported', async (t) => {
    for (const f of c.fields) t.equal(f.prtip, f.nmap, `${f.port} ${f.field}`);
    t.equal(c.agreeing, c.reported, `agreement ${c.agreeing}/${c.reported}`);
  });

  t.test('the TLS service carries the lab certificate', async (t) => {
    const s = c.prtipRecords.find((r) => r['port'] === 443) as { tunnel?: string; cert?: { subject: string; sans: string[]; keyType: string; keyBits?: number; selfSigned: boolean } } | undefined;
    t.equal(s?.tunnel, 'ssl');
    t.match(s?.cert?.subject, /CN=prtip-lab/);
    t.ok(s?.cert?.sans.includes(`IP:${lab.targetV4}`), `SANs ${JSON.stringify(s?.cert?.sans)}`);
    t.equal(s?.cert?.keyType, 'rsa');
    t.equal(s?.cert?.keyBits, 2048);
    t.equal(s?.cert?.selfSigned, true);
  });

  t.test('on the wire: prtip connected to every port, spoke TLS on 443, asked DNS over UDP', async (t) => {
    const fromScanner = (p: CapturedPacket) => p.src === lab.scannerV4;
    for (const port of SV_TCP_PORTS) {
      t.ok(packets.some((p) => fromScanner(p) && p.proto === 'tcp' && p.dport === port && p.flags === 'S'), `SYN to ${port}`);
    }
    const hello = packets.some((p) => fromScanner(p) && p.dport === 443 && p.payload !== undefined && p.payload[0] === 0x16 && p.payload[1] === 0x03 && p.payload[5] === 0x01);
    t.ok(hello, 'a TLS ClientHello to 443');
    const httpInTls = packets.filter((p) => fromScanner(p) && p.dport === 443 && p.payload?.[0] === 0x17);
    t.ok(httpInTls.length > 0, 'application data inside TLS on 443 (the HTTP probe)');
    const dns = packets.find((p) => fromScanner(p) && p.proto === 'udp' && p.dport === 53 && p.payload?.includes(Buffer.from('\x07version\x04bind', 'latin1')));
    t.ok(dns, 'a version.bind query over UDP 53');
    t.notOk(packets.some((p) => fromScanner(p) && p.proto === 'tcp' && p.dport !== undefined && !SV_TCP_PORTS.includes(p.dport)), 'no other TCP port touched');
  });

  t.test('the pipe gives what the single command gives', async (t) => {
    const node = process.execPath;
    const bin = new URL('../../packages/oclif-cli/bin/run.js', import.meta.url).pathname;
    const ports = '21,22,80,443,6379';
    const cmd = `${node} ${bin} targets ${lab.targetV4} -p ${ports} | ${node} ${bin} send -sT | ${node} ${bin} detect | ${node} ${bin} format -oD -`;
    const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs: 120_000 });
    t.equal(r.code, 0, r.stderr);
    const piped = r.stdout.toString().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((x) => x['type'] === 'service');
    const strip = (x: Record<string, unknown>) => ({ port: x['port'], name: x['name'], product: x['product'], version: x['version'], extrainfo: x['extrainfo'], tunnel: x['tunnel'], cpe: x['cpe'] });
    const want = c.prtipRecords.filter((x) => ports.split(',').map(Number).includes(x['port'] as number) && x['proto'] === 'tcp');
    const byPort = (a: Record<string, unknown>, b: Record<string, unknown>) => (a['port'] as number) - (b['port'] as number);
    t.same(piped.sort(byPort).map(strip), want.sort(byPort).map(strip));
    t.equal(piped.length, 5);
  });

  // -oX as nmap writes it: every <service> attribute nmap gave, attribute by attribute, and the
  // CPEs, on the plain and the TLS services alike.
  t.test('-oX <service> elements equal nmap\'s (name, product, version, extrainfo, tunnel, ostype, devicetype, cpe)', async (t) => {
    const nmapSvc = xmlServices(c.nmapXml);
    const prtipSvc = xmlServices(c.prtipXml);
    t.ok(prtipSvc.size > 0, `prtip wrote -oX services: ${c.prtipStderr.slice(0, 300)}`);
    let compared = 0;
    for (const port of SV_TCP_PORTS) {
      const n = nmapSvc.get(`${port}/tcp`);
      const p = prtipSvc.get(`${port}/tcp`);
      t.ok(n, `nmap reported ${port}/tcp`);
      if (!n) continue;
      for (const a of ['name', 'product', 'version', 'extrainfo', 'tunnel', 'ostype', 'devicetype', 'cpe'] as const) {
        // memcached's extrainfo is its uptime ("uptime 12 seconds"), which moves between the two runs.
        const norm = (v: string | undefined) => (a === 'extrainfo' ? v?.replace(/uptime \d+ seconds/, 'uptime N seconds') : v);
        t.equal(norm(p?.[a]), norm(n[a]), `${port}/tcp ${a}`);
        compared++;
      }
    }
    t.ok(nmapSvc.get('443/tcp')?.tunnel === 'ssl', 'the TLS service is among them (nmap: tunnel="ssl")');
    // servicefp: on the same services (those that answered but matched no hard match line).
    const fp = (m: typeof nmapSvc) => SV_TCP_PORTS.filter((port) => m.get(`${port}/tcp`)?.servicefp !== undefined);
    t.same(fp(prtipSvc), fp(nmapSvc), 'a service fingerprint where nmap writes one');
    t.ok(fp(nmapSvc).includes(5432), 'PostgreSQL (a softmatch) is one of them');
    t.comment(`${compared} attributes compared`);
  });

  // The same scans as other tools read them: ndiff compares the two XML files without failing,
  // and db diff of the imported nmap file against prtip's finds no service change on any port.
  t.test('ndiff and db diff see no false service change between nmap\'s and prtip\'s -oX', async (t) => {
    const nx = `${lab.tmpDir}/nmap-sv.xml`;
    const px = `${lab.tmpDir}/prtip-sv.xml`;
    writeFileSync(nx, c.nmapXml);
    const nd = spawnSync('ndiff', [nx, px], { encoding: 'utf8' });
    t.ok(nd.status === 0 || nd.status === 1, `ndiff ran (exit ${nd.status}): ${nd.stderr.slice(0, 500)}`);
    t.notMatch(nd.stderr, /Traceback/);
    // memcached's version line carries its uptime, which moves between the two runs.
    for (const port of SV_TCP_PORTS.filter((p) => p !== 11211)) t.notMatch(nd.stdout, new RegExp(`^[-+]${port}/tcp\\b`, 'm'), `ndiff: ${port}/tcp unchanged`);
    const db = `${lab.tmpDir}/sv.duckdb`;
    const bin = new URL('../../packages/oclif-cli/bin/run.js', import.meta.url).pathname;
    const imp = spawnSync(process.execPath, [bin, 'db', 'import', db, nx, px], { encoding: 'utf8' });
    t.equal(imp.status, 0, imp.stderr);
    const ids = [...imp.stdout.matchAll(/imported as scan (\S+)/g)].map((m) => m[1]!);
    const diff = spawnSync(process.execPath, [bin, 'db', 'diff', db, ids[0]!, ids[1]!, '--json'], { encoding: 'utf8' });
    const d = JSON.parse(diff.stdout) as { ports: Array<{ change: string; port: number; proto: string; before: string; after: string }> };
    t.same(d.ports.filter((p) => p.change === 'service'), [], 'no service changed');
    t.same(d.ports.filter((p) => p.proto === 'tcp'), [], 'no TCP port changed');
  });

  t.test('timing (informational, not asserted)', async (t) => {
    t.comment(`nmap ${c.nmapMs} ms, prtip ${c.prtipMs} ms, ratio prtip/nmap ${(c.prtipMs / c.nmapMs).toFixed(3)}`);
    t.pass('measured');
  });
}
