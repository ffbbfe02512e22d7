import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import {
  newHeader, newTrailer, ProbeBatchWriter, type AnyRecord, type HostRecord, type PortRecord,
} from '../../stages/records/index.js';
import { sendRecords, SEND_DEFAULTS } from '../../stages/send/index.js';

/** Listeners on 127.0.0.1 and ports known closed (bound, then released). */
async function loopbackPorts(openCount: number, closedCount: number) {
  const listen = async () => {
    const s = net.createServer((c) => c.on('error', () => {}).end());
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  };
  const open = await Promise.all(Array.from({ length: openCount }, listen));
  const gone = await Promise.all(Array.from({ length: closedCount }, listen));
  const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
  const closed = gone.map(port);
  await Promise.all(gone.map((s) => new Promise((r) => s.close(r))));
  return { open: open.map(port), closed, close: () => open.forEach((s) => s.close()) };
}

function batchFor(ports: number[], addr = 0x7f000001, proto = 6) {
  const w = new ProbeBatchWriter(4, ports.length);
  ports.forEach((p, i) => w.addV4(i, addr, p, proto));
  return w.take()!;
}

async function collect(gen: AsyncIterable<AnyRecord>): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

async function* source(records: AnyRecord[]) {
  yield* records;
}

t.test('connect scan finds open and closed loopback ports with nmap reasons', async (t) => {
  const lab = await loopbackPorts(3, 3);
  t.teardown(lab.close);
  const passThrough = { type: 'note-from-upstream', text: 'kept' };
  const out = await collect(sendRecords({ ...SEND_DEFAULTS, scanType: 'connect', maxParallelism: 2 })(
    source([newHeader(['t']), batchFor([...lab.open, ...lab.closed]), passThrough, newTrailer()]),
  ));
  t.equal(out[0]!.type, 'scan');
  t.same((out[0] as { scanTypes: string[] }).scanTypes, ['connect']);
  t.ok(out.some((r) => r === passThrough || (r.type === 'note-from-upstream')), 'unknown records pass through');
  const ports = out.filter((r): r is PortRecord => r.type === 'port');
  t.equal(ports.length, 6, 'one record per probe');
  for (const p of ports) {
    const expected = lab.open.includes(p.port) ? ['open', 'syn-ack'] : ['closed', 'conn-refused'];
    t.same([p.state, p.reason], expected, `port ${p.port}`);
    t.equal(p.ip, '127.0.0.1');
    t.equal(p.proto, 'tcp');
    t.type(p.rtt, 'number');
  }
  const hosts = out.filter((r): r is HostRecord => r.type === 'host');
  t.same(hosts.map((h) => [h.ip, h.state]), [['127.0.0.1', 'up']]);
  const end = out.at(-1)!;
  t.equal(end.type, 'end');
  t.match(end, { interrupted: false, counters: { send: { open: 3, closed: 3, filtered: 0 } } });
});

t.test('UDP probes are skipped with a warning, not silently dropped', async (t) => {
  const warnings: string[] = [];
  const out = await collect(sendRecords({ ...SEND_DEFAULTS, scanType: 'connect', onWarning: (m) => warnings.push(m) })(
    source([newHeader(['t']), batchFor([53, 123], 0x7f000001, 17), newTrailer()]),
  ));
  t.equal(out.filter((r) => r.type === 'port').length, 0);
  t.match(warnings, [/2 udp probes skipped/]);
  t.match(out.at(-1), { counters: { send: { skipped: 2 } } });
});

t.test('-Pn reports a host up even when nothing answered; without it, down', async (t) => {
  // 127.0.0.1 answers every port, so the "nothing answered" host is simulated with a closed
  // source of probes for a host that only had filtered results: feed no probes at all for it.
  const lab = await loopbackPorts(0, 1);
  const run = (assumeUp: boolean) => collect(sendRecords({ ...SEND_DEFAULTS, scanType: 'connect', assumeUp })(
    source([newHeader(['t']), batchFor(lab.closed), newTrailer()]),
  ));
  const up = (await run(true)).find((r) => r.type === 'host') as HostRecord;
  t.same([up.state, up.reason], ['up', 'user-set']);
  const inferred = (await run(false)).find((r) => r.type === 'host') as HostRecord;
  t.same([inferred.state, inferred.reason], ['up', 'conn-refused']);
});

t.test('an aborted scan stops launching and still ends with a trailer marked interrupted', async (t) => {
  const lab = await loopbackPorts(1, 0);
  t.teardown(lab.close);
  const ac = new AbortController();
  const ports = Array.from({ length: 2000 }, () => lab.open[0]!);
  const out: AnyRecord[] = [];
  for await (const r of sendRecords({ ...SEND_DEFAULTS, scanType: 'connect', maxParallelism: 4, signal: ac.signal })(
    source([newHeader(['t']), batchFor(ports), newTrailer()]),
  )) {
    out.push(r);
    if (out.length === 10) ac.abort();
  }
  const n = out.filter((r) => r.type === 'port').length;
  t.ok(n < 2000, `stopped early (${n} of 2000 probes)`);
  t.match(out.at(-1), { type: 'end', interrupted: true });
});

t.test('max-rate paces connects', async (t) => {
  const lab = await loopbackPorts(0, 1);
  const started = Date.now();
  const ports = Array.from({ length: 12 }, () => lab.closed[0]!);
  await collect(sendRecords({ ...SEND_DEFAULTS, scanType: 'connect', maxRate: 40 })(source([newHeader(['t']), batchFor(ports), newTrailer()])));
  // 12 probes at 40/s cannot all start in much less than (12 - burst) / 40 s; a broken limiter takes ~0.
  t.ok(Date.now() - started >= 200, `took ${Date.now() - started} ms`);
});

t.test('a corrupt probe batch is refused with its position', async (t) => {
  const bad = { ...batchFor([1, 2]), count: 3 };
  await t.rejects(collect(sendRecords({ ...SEND_DEFAULTS, scanType: 'connect' })(source([newHeader(['t']), bad]))), /probe batch at 0: addrs column/);
});

t.test('a host whose first port is filtered is still up when a later port answers', async (t) => {
  const { HostTable } = await import('../../stages/send/host-table.js');
  const table = new HostTable();
  const rec = (port: number, state: PortRecord['state'], reason: string): PortRecord =>
    ({ type: 'port', ip: '198.18.0.5', port, proto: 'tcp', state, reason, ttl: null, rtt: null, time: 0 });
  table.note(rec(1, 'filtered', 'no-response'));
  table.note(rec(2, 'closed', 'conn-refused'));
  table.note(rec(3, 'filtered', 'no-response'));
  t.same([...table.records(false)].map((h) => [h.state, h.reason]), [['up', 'conn-refused']]);
});
