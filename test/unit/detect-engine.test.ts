// The detect stage against services on loopback: matching by greeting and by probe, softmatch
// narrowing, tcpwrapped, TLS restart with the certificate, UDP, and hostile services (silent,
// endless, a megabyte banner, slowloris) that must not stall or bloat the stage.
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinProbes, detectRecords, parseServiceProbes, type DetectOptions } from '../../stages/detect/index.js';
import { newHeader, newTrailer, type AnyRecord, type EndTrailer, type PortRecord, type ServiceRecord } from '../../stages/records/index.js';

interface Served {
  port: number;
  /** Payloads received, one entry per connection (concatenated data). */
  received: string[];
  connections: number;
  closed: number;
  maxConcurrent: number;
  close(): Promise<void>;
}

/** A TCP service on 127.0.0.1 whose behaviour per connection is `onConn`. */
async function serve(onConn: (s: net.Socket, rx: { data: string }) => void): Promise<Served> {
  const sockets = new Set<net.Socket>();
  const st: Served = {
    port: 0, received: [], connections: 0, closed: 0, maxConcurrent: 0,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      srv.close(() => r());
    }),
  };
  const srv = net.createServer((s) => {
    sockets.add(s);
    st.connections++;
    st.maxConcurrent = Math.max(st.maxConcurrent, sockets.size);
    const rx = { data: '' };
    const idx = st.received.push('') - 1;
    s.on('data', (d) => {
      rx.data += d.toString('latin1');
      st.received[idx] = rx.data;
    });
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      st.closed++;
    });
    onConn(s, rx);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  st.port = (srv.address() as net.AddressInfo).port;
  return st;
}

function portRec(port: number, proto: 'tcp' | 'udp' = 'tcp', state: PortRecord['state'] = 'open'): PortRecord {
  return { type: 'port', ip: '127.0.0.1', port, proto, state, reason: 'syn-ack', ttl: null, rtt: null, time: Date.now() };
}

async function runDetect(recs: AnyRecord[], opts: Partial<DetectOptions>): Promise<AnyRecord[]> {
  async function* src() {
    yield newHeader(['test']);
    yield* recs;
    yield newTrailer();
  }
  const out: AnyRecord[] = [];
  for await (const r of detectRecords(opts)(src())) out.push(r);
  return out;
}

const services = (out: AnyRecord[]) => out.filter((r) => r.type === 'service') as ServiceRecord[];
const trailer = (out: AnyRecord[]) => out.find((r) => r.type === 'end') as EndTrailer;

// Hand-written probes for these services.
function fixture(extra = ''): ReturnType<typeof parseServiceProbes> {
  return parseServiceProbes(String.raw`
Probe TCP NULL q||
totalwaitms 3000
tcpwrappedms 2000
match ssh m|^SSH-([\d.]+)-Lab_([\w.]+)\r\n| p/LabSSH/ v/$2/ i/protocol $1/ cpe:/a:lab:labssh:$2/
softmatch smtp m|^220 [^\r\n]*SMTP|

Probe TCP Hello q|HELLO\r\n|
rarity 1
match smtp m|^220 [^\r\n]*SMTP\r\n250 (\S+) Hello| p/LabMail/ h/$1/

Probe TCP Get q|GET / HTTP/1.0\r\n\r\n|
rarity 1
match http m|^HTTP/1\.0 200 OK\r\nServer: Lab/([\d.]+)| p/LabHTTP/ v/$1/

Probe UDP Ask q|ASK?|
rarity 1
match labdns m|^ANS (\w+)| p/LabDNS/ v/$1/
${extra}`, 'fixture');
}

const FAST: Partial<DetectOptions> = { nullOverlapMs: 50, idleMs: 300, connectTimeoutMs: 2000 };

t.test('a greeting is matched by the NULL probe; records pass through in order', async (t) => {
  const ssh = await serve((s) => s.write('SSH-2.0-Lab_7.4\r\n'));
  t.teardown(() => ssh.close());
  const host = { type: 'host', ip: '127.0.0.1', state: 'up', reason: 'syn-ack', time: 1 };
  const odd = { type: 'future-thing', x: 1 };
  const out = await runDetect([portRec(ssh.port), host as AnyRecord, odd, portRec(9, 'tcp', 'closed')], { ...FAST, probes: fixture(), args: ['prtip detect'] });
  t.same(out.map((r) => r.type).sort(), ['end', 'future-thing', 'host', 'port', 'port', 'scan', 'service'], 'every record, plus one service record');
  t.equal(out[0]!.type, 'scan');
  t.same((out[0] as { args: string[] }).args, ['test', 'prtip detect'], 'header args appended');
  t.ok(out.includes(host as AnyRecord) && out.includes(odd), 'other records pass through untouched');
  const svc = services(out);
  t.equal(svc.length, 1, 'one service record: the closed port is not probed');
  t.match(svc[0], { ip: '127.0.0.1', port: ssh.port, proto: 'tcp', name: 'ssh', product: 'LabSSH', version: '7.4', extrainfo: 'protocol 2.0', cpe: ['cpe:/a:lab:labssh:7.4'], method: 'probed', conf: 10, probe: 'NULL' });
  const portIdx = out.findIndex((r) => r.type === 'port' && (r as PortRecord).port === ssh.port);
  t.ok(out.indexOf(svc[0]!) > portIdx, 'the service record comes after its port record');
  t.equal(out[out.length - 1]!.type, 'end');
  t.match(trailer(out).counters['detect'], { ports: 1, matched: 1 });
});

t.test('a silent-until-asked service is matched by a probe; softmatch narrows the probes sent', async (t) => {
  const http = await serve((s) => s.on('data', () => s.end('HTTP/1.0 200 OK\r\nServer: Lab/2.1\r\n\r\n')));
  const smtp = await serve((s, rx) => {
    s.write('220 lab SMTP\r\n');
    s.on('data', () => {
      if (rx.data.includes('HELLO')) s.write('250 mx.lab Hello\r\n');
    });
  });
  t.teardown(() => Promise.all([http.close(), smtp.close()]));
  const out = await runDetect([portRec(http.port), portRec(smtp.port)], { ...FAST, probes: fixture() });
  const byPort = new Map(services(out).map((s) => [s.port, s]));
  t.match(byPort.get(http.port), { name: 'http', product: 'LabHTTP', version: '2.1', probe: 'Get' });
  t.match(byPort.get(smtp.port), { name: 'smtp', product: 'LabMail', hostname: 'mx.lab', conf: 10 });
  t.notOk(smtp.received.some((d) => d.startsWith('GET')), 'after the smtp softmatch, the Get probe (which cannot match smtp) is not sent');
});

t.test('a softmatch alone is reported as probed, confidence 10 as nmap does, with its service fingerprint', async (t) => {
  const smtp = await serve((s) => s.write('220 lab SMTP\r\n'));
  t.teardown(() => smtp.close());
  const out = await runDetect([portRec(smtp.port)], { ...FAST, probes: fixture() });
  t.match(services(out)[0], { name: 'smtp', method: 'probed', conf: 10 });
  t.match(services(out)[0]!.servicefp, new RegExp(`^SF-Port${smtp.port}-TCP:V=prtip-[^%]+%I=7%D=\\d+/\\d+%Time=[0-9A-F]+%P=[^%]+%r\\(NULL,E,"220\\\\x20lab\\\\x20SMTP\\\\r\\\\n"\\)`));
});

t.test('a connection closed at once is tcpwrapped', async (t) => {
  const w = await serve((s) => s.destroy());
  t.teardown(() => w.close());
  const out = await runDetect([portRec(w.port)], { ...FAST, probes: fixture() });
  t.match(services(out)[0], { name: 'tcpwrapped', method: 'probed' });
  t.equal(w.connections, 1, 'no further probes after tcpwrapped');
});

t.test('TLS: an ssl match restarts probing inside TLS and keeps the certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-detect-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'),
    '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=detect.test/O=prtip', '-addext', 'subjectAltName=DNS:detect.test,IP:127.0.0.1'], { stdio: 'ignore' });
  const received: string[] = [];
  const srv = tls.createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (s) => {
    s.on('error', () => {});
    s.on('data', (d) => {
      received.push(d.toString('latin1'));
      s.end('HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n');
    });
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as net.AddressInfo).port;
  const out = await runDetect([portRec(port)], { ...FAST, probes: builtinProbes() });
  const s = services(out)[0]!;
  t.match(s, { name: 'http', product: 'nginx', version: '1.22.1', tunnel: 'ssl', method: 'probed' });
  t.ok(received.some((d) => d.startsWith('GET / HTTP/1.0')), 'the HTTP probe was sent inside TLS');
  t.match(s.cert, { subject: /CN=detect\.test/, issuer: /O=prtip/, keyType: 'ec', curve: 'prime256v1', selfSigned: true });
  t.same(s.cert!.sans, ['DNS:detect.test', 'IP:127.0.0.1']);
  t.ok(Date.parse(s.cert!.notAfter) > Date.parse(s.cert!.notBefore), 'validity bounds');
  t.match(s.cert!.sha256, /^[0-9a-f]{64}$/);
});

t.test('TLS with nothing recognisable inside: table name, in TLS, with the certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-detect-tls2-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'),
    '-days', '2', '-subj', '/CN=quiet.test'], { stdio: 'ignore' });
  const srv = tls.createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (s) => s.on('error', () => {}));
  srv.on('tlsClientError', () => {});
  const conns = new Set<net.Socket>();
  srv.on('connection', (c: net.Socket) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => {
    for (const c of conns) c.destroy();
    srv.close(() => r());
  }));
  const port = (srv.address() as net.AddressInfo).port;
  const out = await runDetect([portRec(port)], { ...FAST, probes: builtinProbes(), probeTimeoutMs: 300 });
  const s = services(out)[0]!;
  t.match(s, { tunnel: 'ssl', method: 'table', conf: 3 });
  t.not(s.name, 'ssl', 'the name is the port\'s table name, as nmap\'s ssl/https?');
  t.match(s.cert, { subject: 'CN=quiet.test', keyType: 'rsa', keyBits: 2048 });
});

t.test('UDP: an answering port is identified; an unreachable one yields no record', async (t) => {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, rinfo) => {
    if (m.toString() === 'ASK?') sock.send('ANS v42', rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.teardown(() => sock.close());
  const port = sock.address().port;
  // a UDP port nobody listens on: bind and close to find a free one
  const tmp = dgram.createSocket('udp4');
  await new Promise<void>((r) => tmp.bind(0, '127.0.0.1', r));
  const closedPort = tmp.address().port;
  tmp.close();
  const out = await runDetect([portRec(port, 'udp', 'open|filtered'), portRec(closedPort, 'udp', 'open|filtered'), portRec(port, 'udp', 'closed')],
    { ...FAST, probes: fixture() });
  const svc = services(out);
  t.equal(svc.length, 1);
  t.match(svc[0], { proto: 'udp', port, name: 'labdns', product: 'LabDNS', version: 'v42' });
  t.match(trailer(out).counters['detect'], { ports: 2, matched: 1, unreachable: 1 });
});

t.test('hostile services: bounded time and bytes', async (t) => {
  const CAP = 16 * 1024;
  const silent = await serve(() => {});
  const endless = await serve((s) => {
    const chunk = Buffer.alloc(16 * 1024, 0x41);
    const pump = () => {
      while (!s.destroyed && s.write(chunk));
      if (!s.destroyed) s.once('drain', pump);
    };
    pump();
  });
  const mega = await serve((s) => s.write(Buffer.alloc(1024 * 1024, 0x42)));
  const slow = await serve((s) => {
    const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write('x')), 20);
    s.on('close', () => clearInterval(timer));
  });
  t.teardown(() => Promise.all([silent, endless, mega, slow].map((x) => x.close())));
  const opts: Partial<DetectOptions> = { ...FAST, probes: fixture(), probeTimeoutMs: 400, portTimeoutMs: 5000, maxResponseBytes: CAP };
  const out = await runDetect([silent, endless, mega, slow].map((x) => portRec(x.port)), opts);
  const svc = services(out);
  t.equal(svc.length, 4, 'every port still gets a record');
  for (const s of svc) t.match(s, { method: 'table', conf: 3 }, `port ${s.port}: unidentified, from the table`);
  const c = trailer(out).counters['detect']!;
  t.ok(c['bytes']! <= CAP * c['probes']!, `bytes kept (${c['bytes']}) ≤ cap × probes (${CAP} × ${c['probes']})`);
  t.ok(c['bytes']! >= 2 * CAP, 'the endless and megabyte services did fill responses up to the cap');
  // the stage has finished: every connection it opened is closed on our side
  await new Promise((r) => setTimeout(r, 100));
  for (const [name, x] of [['silent', silent], ['endless', endless], ['mega', mega], ['slowloris', slow]] as const) {
    t.equal(x.closed, x.connections, `${name}: all ${x.connections} connections were closed`);
    t.ok(x.connections >= 1, `${name}: was probed`);
  }
});

t.test('the port deadline ends a probe sequence that would run long', async (t) => {
  const silent = await serve(() => {});
  t.teardown(() => silent.close());
  // Each probe would wait 3 s; the port gets 300 ms in all.
  const out = await runDetect([portRec(silent.port)], { ...FAST, probes: fixture(), portTimeoutMs: 300 });
  t.match(trailer(out).counters['detect'], { timedOut: 1 });
  t.equal(services(out).length, 1);
});

t.test('concurrency is bounded per host', async (t) => {
  const silents = await Promise.all([1, 2, 3, 4, 5, 6].map(() => serve(() => {})));
  t.teardown(() => Promise.all(silents.map((s) => s.close())));
  let current = 0, max = 0;
  const counting = silents.map((s) => s);
  const timer = setInterval(() => {
    current = counting.reduce((n, s) => n + (s.connections - s.closed), 0);
    max = Math.max(max, current);
  }, 5);
  t.teardown(() => clearInterval(timer));
  await runDetect(silents.map((s) => portRec(s.port)), { ...FAST, probes: fixture(), probeTimeoutMs: 200, maxPerHost: 2 });
  clearInterval(timer);
  t.ok(max >= 1, `connections seen (${max})`);
  t.ok(max <= 4, `at most 2 ports × 2 connections (NULL + one probe) at once, saw ${max}`);
});

t.test('abort ends the stage promptly with an interrupted trailer', async (t) => {
  const silent = await serve(() => {});
  t.teardown(() => silent.close());
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const out = await runDetect([portRec(silent.port)], { ...FAST, probes: fixture(), signal: ac.signal });
  t.equal(trailer(out).interrupted, true);
  await new Promise((r) => setTimeout(r, 100)); // the server sees the close a moment later
  t.equal(silent.closed, silent.connections, 'connections closed');
});

t.test('Exclude ports are not probed', async (t) => {
  const ssh = await serve((s) => s.write('SSH-2.0-Lab_1\r\n'));
  t.teardown(() => ssh.close());
  const probes = parseServiceProbes(`Exclude T:${ssh.port}\nProbe TCP NULL q||\nmatch ssh m|^SSH|\n`, 'x');
  const out = await runDetect([portRec(ssh.port)], { ...FAST, probes });
  t.equal(services(out).length, 0);
  t.equal(ssh.connections, 0);
});

t.test('bad intensity is a user error', async (t) => {
  t.throws(() => detectRecords({ intensity: 12 }), /intensity must be 0–9/);
});
