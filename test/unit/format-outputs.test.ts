// Every output format, fed hand-written records (ports, hosts, services, OS) including hostile
// banners: XML must validate against the installed nmap.dtd, ndiff must read two of them,
// JSON must parse, CSV must keep one row per port, grepable one line per host.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { formatRecords, OUTPUT_FORMATS, type OutputFormatName } from '../../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord, type PortRecord } from '../../stages/records/index.js';

const DTD = '/usr/share/nmap/nmap.dtd';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-format-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Banners an attacker controls: control bytes, CDATA terminator, markup, bad surrogates, a 1 MB line. */
const HOSTILE = [
  'ctl\x00\x01\x07\x08\x0b\x0c\x1b[31m\x7f end',
  'cdata ]]> <![CDATA[ x ]]> & <tag attr="q"> \'',
  'invalid utf8 \ud800 lone \udfff high \ufffe\uffff',
  Buffer.from([0x41, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x42]).toString('utf8'),
  'tab\tnewline\ncr\r, comma "quote" /slash/',
  'M'.repeat(1024 * 1024),
];

function port(ip: string, p: number, state: PortRecord['state'], reason: string, extra: Partial<PortRecord> = {}): PortRecord {
  return { type: 'port', ip, port: p, proto: 'tcp', state, reason, ttl: 64, rtt: 0.25, time: 1_790_000_000_000, ...extra };
}

function scanRecords(variant: number): AnyRecord[] {
  const header = newHeader(['prtip scan -sT -p 1-100 198.18.0.1-3'], {
    scanTypes: ['connect'],
    startTime: 1_790_000_000_000,
    plan: { hosts: 3, portsPerHost: 100, probes: 300, shardProbes: 300, ports: { tcp: '1-100', udp: '', sctp: '' }, seed: 7, shard: { index: 1, count: 1 } },
  });
  const recs: AnyRecord[] = [header];
  for (let p = 1; p <= 100; p++) {
    const open = p === 22 || p === 80 || (variant === 2 && p === 443 - 400);
    recs.push(port('198.18.0.1', p, open ? 'open' : 'closed', open ? 'syn-ack' : 'reset'));
  }
  recs.push(port('198.18.0.2', 22, 'open', 'syn-ack'), port('198.18.0.2', 23, 'filtered', 'no-response', { ttl: null, rtt: null }));
  recs.push(port('2001:2::5', 80, 'open', 'syn-ack'));
  recs.push({ type: 'host', ip: '198.18.0.1', state: 'up', reason: 'syn-ack', hostname: `host-${HOSTILE[0]}`, time: 1_790_000_000_500 });
  recs.push({ type: 'host', ip: '198.18.0.3', state: 'down', reason: 'no-response', time: 1_790_000_000_500 });
  HOSTILE.forEach((h, i) => {
    recs.push({
      type: 'service', ip: '198.18.0.1', port: i === 0 ? 22 : 80, proto: 'tcp', name: i === 0 ? 'ssh' : 'http',
      product: h, version: variant === 2 ? `2.${i}` : h.slice(0, 50), extrainfo: h, cpe: [`cpe:/a:x:${h.slice(0, 30)}`], method: 'probed', conf: 10,
    });
  });
  recs.push({ type: 'os', ip: '198.18.0.1', matches: [
    { name: 'Linux 5.0 - 6.2', accuracy: 100, vendor: 'Linux', osfamily: 'Linux', osgen: '5.X', devicetype: 'general purpose', cpe: ['cpe:/o:linux:linux_kernel:5'] },
    { name: `weird ${HOSTILE[1]}`, accuracy: 90 },
  ] });
  recs.push({ type: 'unknown-kind', payload: new Uint8Array([0, 1, 2, 255]), text: HOSTILE[2] });
  recs.push({ ...newTrailer(false), endTime: 1_790_000_003_250 });
  return recs;
}

async function render(format: OutputFormatName, records: AnyRecord[], file: string, verbose = 0): Promise<string> {
  const stage = formatRecords({
    outputs: [{ format, path: file }],
    view: { openOnly: false, reason: true, verbose, serviceName: (p) => (p === 25 ? 'smtp' : undefined) },
    stdout: new PassThrough(),
  });
  async function* src() { yield* records; }
  for await (const _ of stage(src())) { /* drain */ }
  return fs.readFileSync(file, 'utf8');
}

const xmllintOk = spawnSync('xmllint', ['--version']).status === 0;

t.test('XML validates against the installed nmap.dtd, hostile banners included', async (t) => {
  t.ok(fs.existsSync(DTD), 'nmap.dtd installed (package nmap-common)');
  t.ok(xmllintOk, 'xmllint installed (libxml2-utils)');
  for (const verbose of [0, 1]) {
    const file = path.join(tmp, `v${verbose}.xml`);
    const xml = await render('xml', scanRecords(1), file, verbose);
    const r = spawnSync('xmllint', ['--noout', '--dtdvalid', DTD, file], { encoding: 'utf8' });
    t.equal(r.status, 0, `xmllint --dtdvalid (-v ${verbose}): ${r.stderr.slice(0, 2000)}`);
    t.match(xml, /<scaninfo type="connect" protocol="tcp" numservices="100" services="1-100"\/>/);
    t.match(xml, /<extraports state="closed" count="98">\n<extrareasons reason="reset" count="98" proto="tcp" ports="1-21,23-79,81-100"\/>/);
    t.match(xml, /<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"\/><service name="ssh"/);
    t.match(xml, /<osmatch name="Linux 5.0 - 6.2" accuracy="100" line="0"><osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="5.X" accuracy="100"><cpe>cpe:\/o:linux:linux_kernel:5<\/cpe>/);
    t.match(xml, /<address addr="2001:2::5" addrtype="ipv6"\/>/);
    t.match(xml, /<hosts up="3" down="1" total="4"\/>/, 'host 198.18.0.3 is down and counted');
    t.equal(xml.includes('198.18.0.3'), verbose > 0, 'down hosts listed only with -v');
    t.notOk(xml.includes(']]>'), 'no raw CDATA terminator');
    t.ok(xml.includes('\\x00\\x01'), 'control bytes kept visible as \\xHH');
    t.match(xml, /elapsed="3.25" exit="success"/);
  }
});

t.test('ndiff reads two prtip XML files and reports the difference', async (t) => {
  const ndiff = spawnSync('ndiff', ['-h'], { encoding: 'utf8' });
  t.equal(ndiff.status, 0, 'ndiff installed (Debian package ndiff)');
  const big = { encoding: 'utf8' as const, maxBuffer: 64 * 1024 * 1024 };
  const a = path.join(tmp, 'a.xml');
  const b = path.join(tmp, 'b.xml');
  await render('xml', scanRecords(1), a);
  await render('xml', scanRecords(2), b);
  const same = spawnSync('ndiff', [a, a], big);
  t.equal(same.status, 0, `no difference to itself: ${same.stderr}`);
  const r = spawnSync('ndiff', [a, b], big);
  t.equal(r.status, 1, `exit 1 = differences found; stderr: ${r.stderr}`);
  t.match(r.stdout, /\+43\/tcp\s+open/, 'the newly open port');
  const x = spawnSync('ndiff', ['--xml', a, b], big);
  t.equal(x.status, 1, x.stderr);
  t.match(x.stdout, /<nmapdiff/);
});

t.test('JSON document parses and carries every port and service', async (t) => {
  const doc = JSON.parse(await render('json', scanRecords(1), path.join(tmp, 'a.json'), 1)) as {
    hosts: Array<{ ip: string; status: string; ports: Array<{ port: number; service: { product?: string } | null }> }>;
    runstats: { hosts: { up: number; total: number } };
  };
  t.same(doc.hosts.map((h) => h.ip), ['198.18.0.1', '198.18.0.2', '198.18.0.3', '2001:2::5']);
  t.equal(doc.hosts[0]!.ports.length, 100, 'nothing collapsed');
  t.equal(doc.hosts[0]!.ports.find((p) => p.port === 80)!.service!.product, HOSTILE.at(-1), 'the 1 MB banner round-trips');
  t.equal(doc.hosts[2]!.status, 'down');
  t.same(doc.runstats.hosts, { up: 3, down: 1, total: 4 });
});

t.test('JSON Lines: every line parses, byte columns become base64', async (t) => {
  const text = await render('jsonl', scanRecords(1), path.join(tmp, 'a.jsonl'));
  const lines = text.trimEnd().split('\n');
  const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(objs.length, scanRecords(1).length);
  t.equal(objs.find((o) => o.type === 'unknown-kind')!.payload, 'AAEC/w==');
});

t.test('CSV: a header and one line per port, quoting and control bytes handled', async (t) => {
  const text = await render('csv', scanRecords(1), path.join(tmp, 'a.csv'));
  const rows = text.split('\r\n').filter(Boolean);
  t.equal(rows.length, 1 + 103);
  t.equal(rows[0], 'ip,hostname,port,proto,state,reason,ttl,rtt_ms,time,service,product,version,extrainfo,method,conf,tunnel,confidence,proxied');
  t.notOk(text.replace(/\r\n/g, '').includes('\n'), 'no bare line breaks inside rows');
  const r80 = rows.find((r) => r.startsWith('198.18.0.1,') && r.includes(',80,tcp,'))!;
  t.ok(r80.includes('M'.repeat(1000)));
  t.match(rows.find((r) => r.includes(',25,tcp,'))!, /,smtp,,,,table,3,,,$/);
});

t.test('grepable: one status line and one ports line per host', async (t) => {
  const text = await render('grepable', scanRecords(1), path.join(tmp, 'a.gnmap'), 1);
  const lines = text.trimEnd().split('\n');
  t.match(lines[0], /^# prtip .* scan initiated /);
  t.match(lines.at(-1), /^# prtip done at .* -- 3 IP addresses \(3 hosts up\) scanned in 3\.25 seconds$/);
  const body = lines.slice(1, -1);
  t.equal(body.length, 7, '3 up hosts × 2 lines + 1 down host');
  t.ok(body.every((l) => /^Host: \S+ \([^()]*\)\t(Status: (Up|Down)|Ports: )/.test(l)), body.join('\n').slice(0, 300));
  t.match(text, /Host: 198\.18\.0\.1 \(host-ctl\\x00.*\)\tPorts: 22\/open\/tcp\/\/ssh\/\//);
  t.match(text, /\tIgnored State: closed \(98\)\tOS: Linux 5\.0 \| 6\.2|\tIgnored State: closed \(98\)\tOS: Linux 5.0 - 6.2/);
  t.match(text, /Host: 198\.18\.0\.3 \(\)\tStatus: Down/);
});

t.test('normal: nmap layout', async (t) => {
  const text = await render('normal', scanRecords(1), path.join(tmp, 'a.nmap'), 1);
  t.match(text, /^# prtip 0\.1\.0 scan initiated \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} as: /);
  t.match(text, /prtip scan report for host-ctl\\x00\\x01.* \(198\.18\.0\.1\)\nHost is up, received syn-ack \(0\.00025s latency\)\.\nNot shown: 98 closed tcp ports \(reset\)\nPORT   STATE SERVICE REASON +VERSION\n22\/tcp open  ssh     syn-ack ttl 64 +ctl/);
  t.match(text, /prtip scan report for 198\.18\.0\.3 \[host down, received no-response\]/);
  t.match(text, /OS details: Linux 5\.0 - 6\.2/);
  t.notOk(/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(text), 'no raw control bytes reach a terminal');
});

t.test('every registered format survives hostile records', async (t) => {
  for (const name of Object.keys(OUTPUT_FORMATS) as OutputFormatName[]) {
    const text = await render(name, scanRecords(1), path.join(tmp, `all.${name}`), 1);
    t.ok(text.length > 1024 * 1024, `${name}: wrote the 1 MB banner`);
  }
});

t.test('CLI: -oA BASE writes .nmap, .xml, .gnmap; -oJ and --csv beside them (loopback scan)', async (t) => {
  const { runCli } = await import('../helpers/cli.js');
  const base = path.join(tmp, 'cli');
  const r = await runCli(['scan', '-sT', '-p', '1-30', '127.0.0.1', '-oA', base, '-oJ', `${base}.json`, '--csv', `${base}.csv`, '--reason']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^Starting prtip /, 'the normal report still goes to stdout');
  const v = spawnSync('xmllint', ['--noout', '--dtdvalid', DTD, `${base}.xml`], { encoding: 'utf8' });
  t.equal(v.status, 0, v.stderr);
  t.match(fs.readFileSync(`${base}.nmap`, 'utf8'), /^# prtip .* scan initiated .*\nprtip scan report for 127\.0\.0\.1\n/);
  t.match(fs.readFileSync(`${base}.gnmap`, 'utf8'), /Host: 127\.0\.0\.1 \(\)\tPorts: .*\tIgnored State: closed \(\d+\)/);
  const doc = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as { hosts: Array<{ ports: unknown[] }> };
  t.equal(doc.hosts[0]!.ports.length, 30);
  t.equal(fs.readFileSync(`${base}.csv`, 'utf8').split('\r\n').filter(Boolean).length, 31);
});
