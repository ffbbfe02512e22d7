// stages/merge: dedup by the documented precedence, one group per host in address order, and the
// same result whether everything fits in memory or runs are spilled to disk.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mergeRecords, PORT_STATE_PRECEDENCE, ipKey } from '../../stages/merge/index.js';
import { createRecordPacker, newHeader, newTrailer, type AnyRecord, type PortRecord, type PortState } from '../../stages/records/index.js';
import { runCli } from '../helpers/cli.js';

async function run(recs: AnyRecord[], memoryRecords?: number, tmpdir?: string): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  async function* src() { yield* recs; }
  for await (const r of mergeRecords({ memoryRecords, tmpdir })(src())) out.push(r);
  return out;
}

const port = (ip: string, p: number, state: PortState, time: number, proto: PortRecord['proto'] = 'tcp'): PortRecord =>
  ({ type: 'port', ip, port: p, proto, state, reason: state, ttl: null, rtt: null, time });

/** A seeded generator, so a failure reproduces. */
function rng(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

t.test('precedence: open > closed > unfiltered > closed|filtered > open|filtered > filtered; ties to the later', async (t) => {
  t.same(PORT_STATE_PRECEDENCE, ['open', 'closed', 'unfiltered', 'closed|filtered', 'open|filtered', 'filtered']);
  const recs: AnyRecord[] = [
    newHeader(['a']),
    port('198.18.0.1', 80, 'filtered', 1), port('198.18.0.1', 80, 'open', 2), port('198.18.0.1', 80, 'closed', 3),
    port('198.18.0.1', 81, 'filtered', 5), port('198.18.0.1', 81, 'open|filtered', 4),
    port('198.18.0.1', 82, 'closed', 1), port('198.18.0.1', 82, 'closed', 9),
    port('198.18.0.1', 80, 'open', 1, 'udp'),
    newTrailer(false),
  ];
  const out = await run(recs);
  const ports = out.filter((r) => r.type === 'port') as PortRecord[];
  t.same(ports.map((p) => `${p.port}/${p.proto} ${p.state} ${p.time}`), ['80/tcp open 2', '81/tcp open|filtered 4', '82/tcp closed 9', '80/udp open 1']);
  t.equal(out[0]!.type, 'scan');
  t.match(out.at(-1), { type: 'end', counters: { merge: { input: 8, duplicates: 4 } } });
});

t.test('hosts, services and OS guesses merge; progress records wait for the merged records', async (t) => {
  const recs: AnyRecord[] = [
    newHeader(['a']),
    { type: 'progress', start: 0, count: 4 },
    { type: 'host', ip: '198.18.0.2', state: 'down', reason: 'no-response', time: 5 },
    { type: 'host', ip: '198.18.0.2', state: 'up', reason: 'syn-ack', hostname: 'x.example', time: 1 },
    { type: 'service', ip: '198.18.0.2', port: 22, proto: 'tcp', name: 'ssh', method: 'table', conf: 3 },
    { type: 'service', ip: '198.18.0.2', port: 22, proto: 'tcp', name: 'ssh', product: 'OpenSSH', method: 'probed', conf: 10 },
    { type: 'service', ip: '198.18.0.2', port: 22, proto: 'tcp', name: 'ssh?', method: 'table', conf: 9 },
    { type: 'os', ip: '198.18.0.2', matches: [{ name: 'Linux', accuracy: 90 }, { name: 'BSD', accuracy: 70 }] },
    { type: 'os', ip: '198.18.0.2', matches: [{ name: 'BSD', accuracy: 95 }] },
    newTrailer(true),
    newHeader(['b']),
    port('198.18.0.2', 22, 'open', 1),
    newTrailer(false),
  ];
  const out = await run(recs);
  // Progress waits until merge has passed on the ports it covers (a store downstream marks it done).
  t.same(out.map((r) => r.type), ['scan', 'host', 'port', 'service', 'os', 'progress', 'end']);
  t.match(out[1], { state: 'up', hostname: 'x.example' });
  t.match(out[3], { product: 'OpenSSH', method: 'probed' });
  t.same((out[4] as { matches: unknown[] }).matches, [{ name: 'BSD', accuracy: 95 }, { name: 'Linux', accuracy: 90 }]);
  t.match(out[6], { interrupted: true, counters: { merge: { sources: 2 } } }, 'one trailer; interrupted if any source was');
});

t.test('random observations: equals a brute-force model, in memory and spilled to disk', async (t) => {
  const rand = rng(12345);
  const ips = ['198.18.0.1', '198.18.0.2', '198.18.0.10', '198.18.1.0', '2001:2::1', '2001:2::a:1', '2001:2:0:1::', '10.0.0.255'];
  const states = PORT_STATE_PRECEDENCE as readonly PortState[];
  const recs: AnyRecord[] = [newHeader(['random'])];
  for (let i = 0; i < 5000; i++) {
    recs.push(port(ips[Math.floor(rand() * ips.length)]!, 1 + Math.floor(rand() * 40), states[Math.floor(rand() * states.length)]!, Math.floor(rand() * 100),
      rand() < 0.8 ? 'tcp' : 'udp'));
  }
  recs.push(newTrailer(false));
  // Model: best per key by rank, then time, then the last read.
  const best = new Map<string, PortRecord>();
  const rank = (s: string) => states.indexOf(s as PortState);
  for (const r of recs) {
    if (r.type !== 'port') continue;
    const p = r as PortRecord;
    const k = `${p.ip} ${p.proto} ${p.port}`;
    const o = best.get(k);
    if (!o || rank(p.state) < rank(o.state) || (rank(p.state) === rank(o.state) && p.time >= o.time)) best.set(k, p);
  }
  const inMemory = await run(recs);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-merge-test-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const spilled = await run(recs, 333, tmp);
  t.same(fs.readdirSync(tmp), [], 'spill directory removed');
  for (const [name, out] of [['in memory', inMemory], ['spilled', spilled]] as const) {
    const ports = out.filter((r) => r.type === 'port') as PortRecord[];
    t.equal(ports.length, best.size, `${name}: one record per (ip, port, proto)`);
    const wrong = ports.filter((p) => JSON.stringify(p) !== JSON.stringify(best.get(`${p.ip} ${p.proto} ${p.port}`)));
    t.same(wrong, [], `${name}: every kept record is the model's winner`);
    // Grouped per host, hosts in address order, ports in (proto, port) order.
    const keys = ports.map((p) => `${ipKey(p.ip)} ${p.proto === 'tcp' ? 0 : 1}${String(p.port).padStart(5, '0')}`);
    t.same(keys, [...keys].sort(), `${name}: sorted by host, then proto and port`);
  }
  t.match(spilled.at(-1), { counters: { merge: { runs: Math.ceil(5000 / 333) } } }, 'runs were spilled');
});

t.test('prtip merge FILE FILE: shards joined, duplicates dropped', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-merge-cli-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const write = (file: string, recs: AnyRecord[]) => {
    const pack = createRecordPacker();
    fs.writeFileSync(file, Buffer.concat(recs.map(pack)));
  };
  write(path.join(tmp, 'a.rec'), [newHeader(['a']), port('198.18.0.1', 22, 'filtered', 1), port('198.18.0.1', 80, 'open', 1), newTrailer(false)]);
  write(path.join(tmp, 'b.rec'), [newHeader(['b']), port('198.18.0.1', 22, 'open', 2), port('198.18.0.3', 80, 'closed', 1), newTrailer(false)]);
  const merged = await runCli(['merge', path.join(tmp, 'a.rec'), path.join(tmp, 'b.rec'), '--memory', '1']);
  t.equal(merged.code, 0, merged.stderr);
  const text = await runCli(['format', '-oD', '-'], { input: merged.stdoutBytes });
  const ports = text.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.type === 'port');
  t.same(ports.map((p) => `${p.ip} ${p.port} ${p.state}`), ['198.18.0.1 22 open', '198.18.0.1 80 open', '198.18.0.3 80 closed']);
  const bad = await runCli(['merge', path.join(tmp, 'missing.rec')]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^prtip: cannot read ".*missing\.rec"/);
  const garbage = await runCli(['merge'], { input: 'not records' });
  t.equal(garbage.code, 1);
  t.match(garbage.stderr, /not a prtip record stream/);
});

t.test('an input that fails: what arrived is merged and passed on, then the stage fails without a trailer', async (t) => {
  async function* failing(): AsyncGenerator<AnyRecord> {
    yield newHeader(['a']);
    yield { type: 'port', ip: '198.18.0.2', port: 80, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 1, time: 1 } as AnyRecord;
    yield { type: 'port', ip: '198.18.0.1', port: 22, proto: 'tcp', state: 'closed', reason: 'reset', ttl: 64, rtt: 1, time: 1 } as AnyRecord;
    yield { type: 'progress', start: 0, count: 2 } as AnyRecord;
    throw new Error('cut off');
  }
  const out: AnyRecord[] = [];
  await t.rejects((async () => { for await (const r of mergeRecords()(failing())) out.push(r); })(), /cut off/);
  t.same(out.map((r) => `${r.type}${'ip' in r ? ` ${String(r.ip)}` : ''}`), ['scan', 'port 198.18.0.1', 'port 198.18.0.2', 'progress'], 'merged, in order, no trailer');
});
