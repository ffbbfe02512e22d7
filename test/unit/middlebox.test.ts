// The middlebox stage's policy, with the handshake check replaced at its edge by a table of what
// each port "answers" (the lab test, test/integration/middlebox-lab.test.ts, uses the real check).
import t from 'tap';
import { middleboxRecords, fingerprintOf } from '../../stages/middlebox/index.js';
import type { AnyRecord, HandshakeCheck, PortRecord } from '../../stages/records/index.js';

const header = (portsPerHost: number): AnyRecord => ({
  type: 'scan', schema: 1, tool: 'prtip', version: 't', scanId: 's', args: [], startTime: 0,
  plan: { hosts: 3, portsPerHost, probes: 3 * portsPerHost, shardProbes: 3 * portsPerHost, ports: { tcp: '', udp: '', sctp: '' }, seed: 1, shard: { index: 0, count: 1 } },
});
const port = (ip: string, p: number, state: 'open' | 'closed', fp: { ttl: number; window: number; opts: string }): PortRecord => ({
  type: 'port', ip, port: p, proto: 'tcp', state, reason: state === 'open' ? 'syn-ack' : 'reset', ttl: fp.ttl, rtt: 1, time: 0, window: fp.window,
  ...(state === 'open' ? { tcpOptions: fp.opts } : {}),
});
const REAL = { ttl: 64, window: 64240, opts: '020405b4' };
const TARPIT = { ttl: 64, window: 10, opts: '' };
const end: AnyRecord = { type: 'end', endTime: 1, interrupted: false, counters: {} };

async function run(records: AnyRecord[], answers: (ip: string, port: number) => HandshakeCheck) {
  const checked: string[] = [];
  const check = async (ip: string, p: number) => { checked.push(`${ip}:${p}`); return answers(ip, p); };
  async function* src() { yield* records; }
  const out: AnyRecord[] = [];
  for await (const r of middleboxRecords({ check })(src())) out.push(r);
  return { out, checked, ports: out.filter((r): r is PortRecord => r.type === 'port') };
}

t.test('a host with mostly closed ports is never checked; its open ports get full confidence', async (t) => {
  const recs: AnyRecord[] = [header(20)];
  for (let p = 1; p <= 20; p++) recs.push(port('198.18.0.2', p, p === 2 || p === 8 ? 'open' : 'closed', REAL));
  recs.push({ type: 'host', ip: '198.18.0.2', state: 'up', reason: 'syn-ack', time: 0 }, end);
  const r = await run(recs, () => 'data');
  t.same(r.checked, [], 'no check');
  t.same(r.ports.filter((p) => p.state === 'open').map((p) => [p.port, p.confidence, p.proxied]), [[2, 10, undefined], [8, 10, undefined]]);
  t.equal(r.ports.length, 20, 'every port record passes');
  const host = r.out.find((x) => x.type === 'host') as { middlebox?: unknown };
  t.equal(host.middlebox, undefined);
});

t.test('a host answering every port is checked; silent ports are marked proxied, one that speaks is kept', async (t) => {
  const recs: AnyRecord[] = [header(30)];
  for (let p = 1; p <= 30; p++) recs.push(port('198.19.3.7', p, 'open', TARPIT));
  recs.push({ type: 'progress', start: 0, count: 30 }, { type: 'host', ip: '198.19.3.7', state: 'up', reason: 'syn-ack', time: 0 }, end);
  const r = await run(recs, (_ip, p) => (p === 3 ? 'data' : 'silent'));
  t.equal(r.ports.length, 30);
  t.ok(r.checked.length >= 8 && r.checked.length <= 8 * 2, `${r.checked.length} checks (bounded)`);
  const p3 = r.ports.find((p) => p.port === 3)!;
  t.match(p3, { confidence: 10, proxied: false, check: 'data' }, 'the port that spoke keeps full confidence');
  const others = r.ports.filter((p) => p.port !== 3);
  t.ok(others.every((p) => p.proxied === true), 'every other port is marked proxied');
  t.ok(others.filter((p) => p.check).every((p) => p.confidence === 1 && p.check === 'silent'), 'checked and silent: confidence 1');
  t.ok(others.filter((p) => !p.check).every((p) => p.confidence === 3), 'not checked: confidence 3');
  const host = r.out.find((x) => x.type === 'host') as { middlebox?: Record<string, unknown> };
  t.match(host.middlebox, { verdict: 'proxied', open: 30, closed: 0, spoke: 1, fingerprint: 'ttl 64, window 10, no options' });
  const progressAt = r.out.findIndex((x) => x.type === 'progress');
  const lastPort = r.out.map((x) => x.type).lastIndexOf('port');
  t.ok(progressAt > lastPort, 'the progress record waits behind the held port records');
  t.match(r.out.at(-1), { type: 'end', counters: { middlebox: { suspects: 1, proxiedHosts: 1 } } });
});

t.test('a real host with many open ports (all speak) is checked and kept', async (t) => {
  const recs: AnyRecord[] = [header(10)];
  for (let p = 1; p <= 10; p++) recs.push(port('198.18.0.9', p, 'open', REAL));
  recs.push(end);
  const r = await run(recs, () => 'data');
  t.ok(r.checked.length > 0);
  t.ok(r.ports.every((p) => p.proxied === false && (p.confidence === 10 || p.confidence === 7)), 'none proxied');
});

t.test('held records are bounded: past holdRecords the oldest undecided hosts go on unjudged', async (t) => {
  const recs: AnyRecord[] = [header(100)];
  for (let h = 0; h < 50; h++) for (let p = 1; p <= 3; p++) recs.push(port(`198.18.1.${h + 1}`, p, 'open', REAL));
  recs.push(end);
  let most = 0;
  const out: AnyRecord[] = [];
  let inCount = 0;
  async function* counting() { for (const r of recs) { inCount++; yield r; } }
  for await (const r of middleboxRecords({ holdRecords: 20, check: async () => 'data' })(counting())) {
    out.push(r);
    const portsOut = out.filter((x) => x.type === 'port').length;
    most = Math.max(most, inCount - 1 - portsOut);
  }
  t.equal(out.filter((x) => x.type === 'port').length, 150, 'all records out');
  t.ok(most <= 24, `at most ~20 held at once (saw ${most})`);
  t.ok((out.at(-1) as { counters: { middlebox: { unjudged: number } } }).counters.middlebox.unjudged > 0, 'counted as unjudged');
});

t.test('fingerprintOf', async (t) => {
  t.equal(fingerprintOf(port('a', 1, 'open', TARPIT)), 'ttl 64, window 10, no options');
  t.equal(fingerprintOf(port('a', 1, 'open', REAL)), 'ttl 64, window 64240, options 020405b4');
  t.equal(fingerprintOf({ ...port('a', 1, 'open', REAL), ttl: null }), 'connect');
});
