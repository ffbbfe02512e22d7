// -sV as nmap's service scan does it (service_scan.cc): which match line wins, which probes are
// sent after a softmatch, tcpwrapped by the file's tcpwrappedms, "match ssl/NAME" lines, and how
// templates fill (group 0 refused, trailing commas, field bounds, CPE escaping, one CPE per part).
import t from 'tap';
import net from 'node:net';
import { detectRecords, parseServiceProbes, checkProbeFile, regexOf, versionFields, testResponse, type DetectOptions } from '../../stages/detect/index.js';
import { probeSequence, probeWanted, serviceIsPossible } from '../../stages/detect/engine.js';
import { cpeEscape } from '../../stages/detect/version-info.js';
import { newHeader, newTrailer, type AnyRecord, type PortRecord, type ServiceRecord } from '../../stages/records/index.js';

// Hand-written for these tests.
const FILE = String.raw`
Probe TCP NULL q||
totalwaitms 3000
tcpwrappedms 2000
match ssh m|^SSH-2\.0-Lab\r\n| p/LabSSH/

Probe TCP Hello q|HELLO\r\n|
rarity 1
softmatch lab m|^LAB| i/first line: soft/
match lab m|^LAB (\S+)| p/LabD/ v/$1/
match other m|^OTHER (\S+)| p/Other/ v/$1/

Probe TCP Get q|GET / HTTP/1.0\r\n\r\n|
rarity 1
fallback Hello
match ssl/http m|^HTTP/1\.1 400 Bad Request\r\n.*plain HTTP.*HTTPS port|s p/LabTLSd/
match http m|^HTTP/1\.0 200 OK| p/LabHTTP/

Probe TCP RareLab q|RARE\r\n|
rarity 9
fallback Hello
match lab m|^LABRARE (\S+)| p/LabRare/ v/$1/

Probe TCP RareSoftOnly q|SOFTONLY\r\n|
rarity 8
softmatch lab m|^LAB-S|

Probe TCP Unrelated q|UNREL\r\n|
rarity 9
match unrelated m|^U|
`;

const file = () => parseServiceProbes(FILE, 'fixture');

t.test('the first matching line of a list wins, soft or hard', async (t) => {
  const f = file();
  const hello = f.byName.get('tcp:Hello')!;
  const hit = testResponse(f, hello, 'LAB 2.0\r\n')!;
  t.equal(hit.soft, true, 'the softmatch line comes first in the file: it wins over the hard line after it');
  t.equal(hit.fields.extrainfo, 'first line: soft');
  const get = f.byName.get('tcp:Get')!;
  t.match(testResponse(f, get, 'OTHER 3\r\n'), { soft: false, service: 'other' }, 'a fallback list is tried after the probe\'s own');
});

t.test('after a softmatch: only probes that can match the service, regardless of rarity; --version-all keeps all', async (t) => {
  const f = file();
  const steps = probeSequence(f, 'tcp', 4000, false);
  const wanted = (intensity: number, soft?: string) => steps.filter((s) => probeWanted(s, intensity, soft)).map((s) => s.probe.name);
  t.same(wanted(7), ['Hello', 'Get'], 'no softmatch: rarity ≤ 7');
  t.same(wanted(7, 'lab'), ['Hello', 'RareLab', 'RareSoftOnly'], 'softmatch lab: rarity no longer limits probes with a lab line (soft lines count)');
  t.same(wanted(9, 'lab'), ['Hello', 'Get', 'RareLab', 'RareSoftOnly', 'Unrelated'], '--version-all: no narrowing');
  const get = f.byName.get('tcp:Get')!;
  t.equal(serviceIsPossible(get, 'lab'), false, 'a fallback\'s (Hello\'s) lines do not count for the probe');
  t.equal(serviceIsPossible(get, 'ssh'), false, 'nor do the NULL probe\'s');
});

t.test('templates: $0 refused, trailing commas stripped, over-long fields dropped, CPE escaped, one CPE per part', async (t) => {
  const f = parseServiceProbes(String.raw`Probe TCP NULL q||
match zero m|^Z(.)| p/$0/
match tail m|^T (\S*) (\S*)| p/Tail $1, $2,  / i/x, / v/$2/
match long m|^L(.*)|s p/$1/ o/$1/
match cpe m|^C ([^;]+);(.+)\r\n| cpe:/a:v:prod:$1/ cpe:/a:v:second:$1/ cpe:/o:Vendor:$2/a cpe:/h:v:box/
`, 'x');
  const [zero, tail, long, cpe] = f.probes[0]!.matches;
  t.equal(regexOf(zero!), undefined, 'a template naming group 0 is refused');
  t.match(zero!.error, /group 0/);
  t.equal(checkProbeFile(f).untranslatable.length, 1);
  const fields = (m: typeof tail, s: string) => versionFields(m!.templates, regexOf(m!)!.exec(s)!, m!.groupMap!);
  t.same(fields(tail, 'T 1.0 '), { product: 'Tail 1.0', extrainfo: 'x', cpe: [] }, 'trailing ", " stripped; an empty $2 leaves no version');
  const f78 = fields(long, `L${'a'.repeat(78)}`);
  t.equal(f78.product, 'a'.repeat(78), '78 bytes fit nmap\'s 80-byte product buffer');
  t.equal(fields(long, `L${'a'.repeat(79)}`).product, undefined, '79 do not: the field is dropped, as nmap drops it');
  t.equal(f78.ostype, undefined, 'ostype has a 32-byte buffer');
  t.equal(fields(long, `L${'b'.repeat(30)}`).ostype, 'b'.repeat(30));
  const c = fields(cpe, 'C Web Server:2;Lin/ux (x)\r\n');
  t.same(c.cpe, ['cpe:/a:v:second:web_server%3A2', 'cpe:/h:v:box', 'cpe:/o:Vendor:lin%2Fux_%28x%29'],
    'a, h, o; the later a: template replaces the earlier; substitutions escaped and lower-cased, literal text kept');
  t.equal(cpeEscape('A b:c/d?e#f[g]h@i!j$k&l\'m(n)o*p+q,r;s=t%u<v>w"x'),
    'a_b%3Ac%2Fd%3Fe%23f%5Bg%5Dh%40i%21j%24k%26l%27m%28n%29o%2Ap%2Bq%2Cr%3Bs%3Dt%25u%3Cv%3Ew%22x');
});

// ---- the engine against services on loopback ----

async function serve(onConn: (s: net.Socket, rx: { data: string }) => void): Promise<{ port: number; received: string[]; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const received: string[] = [];
  const srv = net.createServer((s) => {
    sockets.add(s);
    const rx = { data: '' };
    const idx = received.push('') - 1;
    s.on('data', (d) => {
      rx.data += d.toString('latin1');
      received[idx] = rx.data;
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onConn(s, rx);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    received,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      srv.close(() => r());
    }),
  };
}

const FAST: Partial<DetectOptions> = { nullOverlapMs: 50, idleMs: 300, connectTimeoutMs: 2000, probeTimeoutMs: 1500 };

async function detectOne(port: number, opts: Partial<DetectOptions>): Promise<ServiceRecord | undefined> {
  const rec: PortRecord = { type: 'port', ip: '127.0.0.1', port, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: null, rtt: null, time: Date.now() };
  async function* src(): AsyncGenerator<AnyRecord> {
    yield newHeader(['test']);
    yield rec;
    yield newTrailer();
  }
  for await (const r of detectRecords({ ...FAST, ...opts })(src())) if (r.type === 'service') return r as ServiceRecord;
  return undefined;
}

t.test('tcpwrapped: the NULL connection closed silently within tcpwrappedms, even after other probes started', async (t) => {
  // Closes every connection 400 ms after it opens, saying nothing: past the 50 ms overlap, within 2000 ms.
  const svc = await serve((s) => setTimeout(() => s.destroy(), 400));
  t.teardown(() => svc.close());
  const r = await detectOne(svc.port, { probes: file() });
  t.match(r, { name: 'tcpwrapped', method: 'probed' });
});

t.test('a silent close after tcpwrappedms is not tcpwrapped', async (t) => {
  const svc = await serve((s) => setTimeout(() => s.destroy(), 400));
  t.teardown(() => svc.close());
  const probes = parseServiceProbes(FILE.replace('tcpwrappedms 2000', 'tcpwrappedms 200'), 'fixture');
  const r = await detectOne(svc.port, { probes });
  t.not(r?.name, 'tcpwrapped');
  t.equal(r?.method, 'table');
});

t.test('"match ssl/http": name http, tunnel ssl, without a TLS restart', async (t) => {
  const svc = await serve((s) => s.on('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\nThe plain HTTP request was sent to HTTPS port')));
  t.teardown(() => svc.close());
  const r = await detectOne(svc.port, { probes: file() });
  t.match(r, { name: 'http', tunnel: 'ssl', product: 'LabTLSd', method: 'probed', conf: 10 });
  t.notOk(svc.received.some((d) => d.startsWith('\x16\x03')), 'no TLS ClientHello was sent');
});

t.test('after a softmatch, a later hard match of another service is accepted', async (t) => {
  // HELLO → "LAB…" (softmatch lab); the rare probe (sent only because lab is possible there) answers OTHER.
  const svc = await serve((s, rx) => s.on('data', () => {
    if (rx.data.startsWith('HELLO')) s.end('LAB-S\r\n');
    else if (rx.data.startsWith('RARE')) s.end('OTHER 9.9\r\n');
    else s.end();
  }));
  t.teardown(() => svc.close());
  const r = await detectOne(svc.port, { probes: file() });
  t.match(r, { name: 'other', product: 'Other', version: '9.9', conf: 10 });
  t.ok(svc.received.some((d) => d.startsWith('RARE')), 'the rarity-9 probe was sent at intensity 7 after the softmatch');
  t.notOk(svc.received.some((d) => d.startsWith('UNREL')), 'a probe without a lab line was not');
});
