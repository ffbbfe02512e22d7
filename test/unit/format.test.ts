import t from 'tap';
import { Writable } from 'node:stream';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatRecords, type OutputRequest } from '../../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord, type PortRecord } from '../../stages/records/index.js';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write(c, _e, cb) { chunks.push(c.toString()); cb(); } }), text: () => chunks.join('') };
}

const names: Record<string, string> = { '22/tcp': 'ssh', '80/tcp': 'http' };
const view = { openOnly: false, reason: false, serviceName: (p: number, proto: string) => names[`${p}/${proto}`] };

function port(ip: string, p: number, state: PortRecord['state'], reason: string, rtt: number | null = 0.5): PortRecord {
  return { type: 'port', ip, port: p, proto: 'tcp', state, reason, ttl: null, rtt, time: 1 };
}

async function run(records: AnyRecord[], outputs: OutputRequest[], v = view) {
  const out = capture();
  const passed: AnyRecord[] = [];
  async function* src() { yield* records; }
  for await (const r of formatRecords({ outputs, view: v, stdout: out.stream })(src())) passed.push(r);
  return { text: out.text(), passed };
}

function scanOf(ports: PortRecord[], hostsPlanned = 2): AnyRecord[] {
  const header = newHeader(['prtip scan -sT x'], {
    plan: { hosts: hostsPlanned, portsPerHost: 30, probes: 60, shardProbes: 60, ports: { tcp: '1-30', udp: '', sctp: '' }, seed: 1, shard: { index: 1, count: 1 } },
  });
  header.startTime = 1_000_000;
  const trailer = newTrailer();
  trailer.endTime = 1_002_500;
  return [header, ...ports, trailer];
}

t.test('normal output: nmap layout, sorted hosts and ports, "Not shown" for big groups', async (t) => {
  const ports: PortRecord[] = [];
  for (let p = 1; p <= 30; p++) {
    ports.push(port('198.18.0.10', p, p === 22 ? 'open' : p === 25 ? 'filtered' : 'closed', p === 22 ? 'syn-ack' : p === 25 ? 'no-response' : 'conn-refused'));
  }
  ports.push(port('198.18.0.9', 80, 'open', 'syn-ack', 1.2));
  const { text, passed } = await run(scanOf(ports.reverse()), [{ format: 'normal', path: '-' }]);
  t.equal(passed.length, 33, 'every record passes through');
  t.equal(text, [
    'Starting prtip 0.1.0 at 1970-01-01 00:16 UTC',
    'prtip scan report for 198.18.0.9',
    'Host is up (0.0012s latency).',
    '', // nmap leaves a blank line where "Not shown" would stand
    'PORT   STATE SERVICE',
    '80/tcp open  http',
    '',
    'prtip scan report for 198.18.0.10',
    'Host is up (0.00050s latency).',
    'Not shown: 28 closed tcp ports (conn-refused)',
    'PORT   STATE    SERVICE',
    '22/tcp open     ssh',
    '25/tcp filtered unknown',
    '',
    'prtip done: 2 IP addresses (2 hosts up) scanned in 2.50 seconds',
    '',
  ].join('\n'));
});

t.test('normal output: --open and --reason', async (t) => {
  const ports = [port('198.18.0.1', 22, 'open', 'syn-ack'), port('198.18.0.1', 23, 'closed', 'conn-refused')];
  const { text } = await run(scanOf(ports, 1), [{ format: 'normal', path: '-' }], { ...view, openOnly: true, reason: true });
  t.match(text, /PORT   STATE SERVICE REASON\n22\/tcp open  ssh     syn-ack\n/);
  t.notMatch(text, /23\/tcp/);
  t.match(text, /Not shown: 1 closed tcp port \(conn-refused\)/);
});

t.test('normal output: hosts that never answered are down and not listed', async (t) => {
  const ports = [port('198.18.0.1', 22, 'filtered', 'no-response', null), port('198.18.0.2', 22, 'open', 'syn-ack')];
  const { text } = await run(scanOf(ports), [{ format: 'normal', path: '-' }]);
  t.notMatch(text, /report for 198\.18\.0\.1\n/);
  t.match(text, /2 IP addresses \(1 host up\)/);
});

t.test('an interrupted stream says so', async (t) => {
  const recs = scanOf([port('198.18.0.1', 22, 'open', 'syn-ack')]);
  (recs.at(-1) as { interrupted: boolean }).interrupted = true;
  t.match((await run(recs, [{ format: 'normal', path: '-' }])).text, /Scan interrupted: results above are partial/);
  t.match((await run(recs.slice(0, -1), [{ format: 'normal', path: '-' }])).text, /Scan interrupted/);
});

t.test('JSON Lines: one valid object per record, probe batches left out, hostile bytes survive', async (t) => {
  const hostile = { type: 'banner', ip: '198.18.0.1', text: 'a\u0000b]]>\u001b[31m\ud800', raw: new Uint8Array([0, 255, 10]) };
  const batch = { type: 'probes', family: 4, start: 0, count: 0, addrs: new Uint8Array(), ports: new Uint8Array(), protos: new Uint8Array() };
  const { text } = await run(scanOf([port('198.18.0.1', 22, 'open', 'syn-ack')]).flatMap((r, i) => (i === 1 ? [batch, hostile, r] : [r])), [{ format: 'jsonl', path: '-' }]);
  const lines = text.trimEnd().split('\n');
  const objs = lines.map((l) => JSON.parse(l));
  t.same(objs.map((o) => o.type), ['scan', 'banner', 'port', 'end']);
  t.equal(objs[1].raw, 'AP8K', 'bytes as base64');
  t.equal(objs[1].text, hostile.text);
  t.match(objs[2], { type: 'port', ip: '198.18.0.1', port: 22, proto: 'tcp', state: 'open', reason: 'syn-ack' });
});

t.test('several outputs at once, to files; two outputs on stdout are refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-format-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const recs = scanOf([port('198.18.0.1', 80, 'open', 'syn-ack')]);
  await run(recs, [{ format: 'normal', path: path.join(dir, 'a.txt') }, { format: 'jsonl', path: path.join(dir, 'a.jsonl') }]);
  t.match(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8'), /^# prtip 0\.1\.0 scan initiated .* as: prtip scan -sT x\n[\s\S]*# prtip done at .* -- 2 IP addresses \(1 host up\)/);
  t.equal(fs.readFileSync(path.join(dir, 'a.jsonl'), 'utf8').trimEnd().split('\n').length, 3);
  await t.rejects(run(recs, [{ format: 'normal', path: '-' }, { format: 'jsonl', path: '-' }]), /only one output can go to stdout/);
  await t.rejects(run(recs, [{ format: 'normal', path: path.join(dir, 'no/such/dir/x') }]), /cannot write -oN output/);
});
