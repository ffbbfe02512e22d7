// What nmap writes, in every output: a service found in TLS (tunnel="ssl" and name http in -oX,
// "ssl|http" in -oG, a tunnel column in CSV), the match's h/ o/ d/ fields in -oX, the hostname the
// user typed ("localhost (127.0.0.1)", <hostname type="user"/>), and --open in every output.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { formatRecords, type OutputFormatName } from '../../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord, type PortRecord, type ServiceRecord } from '../../stages/records/index.js';
import { planTargets } from '../../stages/targets/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-format-fid-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const port = (ip: string, p: number, state: PortRecord['state']): PortRecord =>
  ({ type: 'port', ip, port: p, proto: 'tcp', state, reason: state === 'open' ? 'syn-ack' : 'conn-refused', ttl: null, rtt: 0.2, time: 1_790_000_000_000 });

function records(): AnyRecord[] {
  const header = newHeader(['prtip scan -sV -p 22,443,8443 lab.test 198.18.0.9'], {
    scanTypes: ['connect'], startTime: 1_790_000_000_000,
    plan: { hosts: 2, portsPerHost: 3, probes: 6, shardProbes: 6, ports: { tcp: '22,443,8443', udp: '', sctp: '' }, seed: 1, shard: { index: 1, count: 1 },
      names: { '198.18.0.2': 'lab.test' } },
  });
  const https: ServiceRecord = { type: 'service', ip: '198.18.0.2', port: 443, proto: 'tcp', name: 'http', product: 'nginx', version: '1.22.1',
    cpe: ['cpe:/a:igor_sysoev:nginx:1.22.1'], method: 'probed', conf: 10, tunnel: 'ssl' };
  const ssh: ServiceRecord = { type: 'service', ip: '198.18.0.2', port: 22, proto: 'tcp', name: 'ssh', product: 'OpenSSH', version: '9.2p1 Debian 2+deb12u3',
    extrainfo: 'protocol 2.0', ostype: 'Linux', hostname: 'box', devicetype: 'router', cpe: ['cpe:/a:openbsd:openssh:9.2p1', 'cpe:/o:linux:linux_kernel'], method: 'probed', conf: 10 };
  return [
    header,
    port('198.18.0.2', 22, 'open'), port('198.18.0.2', 443, 'open'), port('198.18.0.2', 8443, 'closed'),
    port('198.18.0.9', 22, 'closed'), port('198.18.0.9', 443, 'closed'), port('198.18.0.9', 8443, 'closed'),
    ssh, https,
    { type: 'host', ip: '198.18.0.2', state: 'up', reason: 'syn-ack', time: 1_790_000_000_100 },
    { type: 'host', ip: '198.18.0.9', state: 'up', reason: 'conn-refused', time: 1_790_000_000_100 },
    { ...newTrailer(), endTime: 1_790_000_001_000 },
  ];
}

async function render(format: OutputFormatName, file: string, openOnly = false, extra: AnyRecord[] = [], verbose = 0): Promise<string> {
  const stage = formatRecords({
    outputs: [{ format, path: file }],
    view: { openOnly, reason: false, verbose, serviceName: () => undefined },
    stdout: new PassThrough(),
  });
  async function* src() {
    const all = records();
    yield* all.slice(0, -1);
    yield* extra;
    yield all.at(-1)!;
  }
  for await (const _ of stage(src())) { /* drain */ }
  return fs.readFileSync(file, 'utf8');
}

t.test('-oX: tunnel, h/ o/ d/, the typed hostname; valid against nmap.dtd', async (t) => {
  const file = path.join(tmp, 'a.xml');
  const xml = await render('xml', file);
  t.match(xml, /<service name="http" product="nginx" version="1.22.1" tunnel="ssl" method="probed" conf="10"><cpe>cpe:\/a:igor_sysoev:nginx:1.22.1<\/cpe><\/service>/);
  t.notOk(xml.includes('ssl/http'), 'the tunnel is an attribute, not part of the name');
  t.match(xml, /<service name="ssh" product="OpenSSH" version="9.2p1 Debian 2\+deb12u3" extrainfo="protocol 2.0" hostname="box" ostype="Linux" devicetype="router" method="probed" conf="10"><cpe>cpe:\/a:openbsd:openssh:9.2p1<\/cpe><cpe>cpe:\/o:linux:linux_kernel<\/cpe><\/service>/);
  t.match(xml, /<address addr="198.18.0.2" addrtype="ipv4"\/>\n<hostnames>\n<hostname name="lab.test" type="user"\/>\n<\/hostnames>/);
  t.match(xml, /<address addr="198.18.0.9" addrtype="ipv4"\/>\n<hostnames>\n<\/hostnames>/, 'an address typed as such has no name');
  const r = spawnSync('xmllint', ['--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', file], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});

t.test('-oG: ssl|http; -oN: "lab.test (198.18.0.2)" and ssl/http; CSV: tunnel and the typed name', async (t) => {
  const g = await render('grepable', path.join(tmp, 'a.gnmap'));
  t.match(g, /443\/open\/tcp\/\/ssl\|http\/\/nginx 1\.22\.1\//);
  t.match(g, /22\/open\/tcp\/\/ssh\/\/OpenSSH 9\.2p1 Debian 2\+deb12u3 \(protocol 2\.0\)\//);
  const n = await render('normal', path.join(tmp, 'a.nmap'));
  t.match(n, /prtip scan report for lab\.test \(198\.18\.0\.2\)\n/);
  t.match(n, /prtip scan report for 198\.18\.0\.9\n/);
  t.match(n, /443\/tcp +open +ssl\/http +nginx 1\.22\.1/);
  const csv = (await render('csv', path.join(tmp, 'a.csv'))).split('\r\n');
  t.ok(csv[0]!.endsWith(',tunnel,confidence,proxied'));
  t.match(csv.find((l) => l.includes(',443,')), /^198\.18\.0\.2,lab\.test,443,tcp,open,.*,http,nginx,1\.22\.1,,probed,10,ssl,,$/);
  const json = JSON.parse(await render('json', path.join(tmp, 'a.json'))) as { hosts: Array<{ ip: string; hostnames: unknown[] }> };
  t.same(json.hosts.find((h) => h.ip === '198.18.0.2')!.hostnames, [{ name: 'lab.test', type: 'user' }]);
});

t.test('--open applies to every output: -oD drops ports not open, hosts without one leave -oX/-oG/-oJ', async (t) => {
  const jsonl = (await render('jsonl', path.join(tmp, 'o.jsonl'), true)).trim().split('\n').map((l) => JSON.parse(l) as { type: string; state?: string });
  const ports = jsonl.filter((o) => o.type === 'port');
  t.equal(ports.length, 2);
  t.ok(ports.every((p) => p.state === 'open'));
  const xml = await render('xml', path.join(tmp, 'o.xml'), true);
  t.notOk(xml.includes('addr="198.18.0.9"'), 'the host without an open port is left out of -oX');
  t.match(xml, /<hosts up="2" down="0" total="2"\/>/, 'but still counted as up');
  t.notOk((await render('grepable', path.join(tmp, 'o.gnmap'), true)).includes('Host: 198.18.0.9'));
  const doc = JSON.parse(await render('json', path.join(tmp, 'o.json'), true)) as { hosts: Array<{ ip: string }> };
  t.same(doc.hosts.map((h) => h.ip), ['198.18.0.2']);
});

t.test('the targets stage keeps the names the user typed, by address', async (t) => {
  const plan = await planTargets({ specs: ['localhost', '127.0.0.2', 'localhost/31'], ports: '80' });
  t.same(plan.plan.names, { '127.0.0.1': 'localhost' }, 'a typed name, not an address nor a host/prefix spec');
  const none = await planTargets({ specs: ['127.0.0.1'], ports: '80' });
  t.equal(none.plan.names, undefined);
});

t.test('-v in CSV as in the other reports: a host that is down has rows only with -v', async (t) => {
  const down: AnyRecord[] = [
    { type: 'port', ip: '198.18.0.77', port: 22, proto: 'tcp', state: 'filtered', reason: 'no-response', ttl: null, rtt: null, time: 1_790_000_000_000 },
    { type: 'host', ip: '198.18.0.77', state: 'down', reason: 'no-response', time: 1_790_000_000_000 },
  ];
  t.notOk((await render('csv', path.join(tmp, 'd.csv'), false, down)).includes('198.18.0.77'));
  t.match(await render('csv', path.join(tmp, 'dv.csv'), false, down, 1), /\r\n198\.18\.0\.77,,22,tcp,filtered,no-response/);
});
