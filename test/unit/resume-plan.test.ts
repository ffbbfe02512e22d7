// What --resume relies on: the targets stage can skip finished permutation ranges and then
// generates exactly the rest (same probes at the same positions), and the send stage says when a
// batch is fully answered (a progress record after the batch's last port record).
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { keptSegments, targetRecords } from '../../stages/targets/index.js';
import { newHeader, newTrailer, probesOf, ProbeBatchWriter, type AnyRecord, type ProbeBatch } from '../../stages/records/index.js';
import { sendRecords, SEND_DEFAULTS } from '../../stages/send/index.js';

async function probes(skip?: Array<[number, number]>) {
  const out = new Map<number, string>();
  const batches: ProbeBatch[] = [];
  for await (const r of targetRecords({ specs: ['198.18.0.0/28', '2001:2::/126'], ports: '1-50', seed: 99, batchSize: 64, args: ['t'], skip })) {
    if (r.type !== 'probes') continue;
    batches.push(r as ProbeBatch);
    for (const p of probesOf(r as ProbeBatch)) out.set(p.index, `${p.ip} ${p.port}/${p.proto}`);
  }
  return { out, batches };
}

t.test('keptSegments: the complement of skipped ranges', async (t) => {
  t.same(keptSegments(0, 100, []), [[0, 100]]);
  t.same(keptSegments(0, 100, [[0, 100]]), []);
  t.same(keptSegments(0, 100, [[10, 20], [15, 30], [50, 60]]), [[0, 10], [30, 50], [60, 100]]);
  t.same(keptSegments(10, 20, [[0, 12], [18, 40]]), [[12, 18]]);
  t.same(keptSegments(0, 10, [[5, 5], [20, 30]]), [[0, 10]], 'empty and outside ranges ignored');
  t.same(keptSegments(0, 10, [[6, 8], [1, 3]]), [[0, 1], [3, 6], [8, 10]], 'unsorted input');
});

t.test('targets with skip: exactly the other probes, identical at every position', async (t) => {
  const full = await probes();
  t.equal(full.out.size, (16 + 4) * 50);
  const skip: Array<[number, number]> = [[0, 64], [128, 300], [790, 810], [950, 1000]];
  const rest = await probes(skip);
  const skipped = (i: number) => skip.some(([a, b]) => i >= a && i < b);
  const expected = [...full.out].filter(([i]) => !skipped(i));
  t.same([...rest.out].sort((a, b) => a[0] - b[0]), expected, 'same probe at each remaining position');
  t.ok(rest.batches.every((b) => !skip.some(([a, e]) => b.start < e && b.start + b.count > a)), 'no batch spans a skipped range');
  t.ok(rest.batches.some((b) => b.start === 300), 'generation restarts at the end of a skipped range');
});

t.test('send emits a progress record after the last port record of each fully answered batch', async (t) => {
  const server = net.createServer((c) => c.on('error', () => {}).end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const open = (server.address() as net.AddressInfo).port;
  const batch = (start: number, ports: number[]) => {
    const w = new ProbeBatchWriter(4, ports.length);
    ports.forEach((p, i) => w.addV4(start + i, 0x7f000001, p, 6));
    return w.take()!;
  };
  async function* src(): AsyncGenerator<AnyRecord> {
    yield newHeader(['t']);
    yield batch(0, [open, 1, 2]);
    yield batch(3, [3, open]);
    yield newTrailer();
  }
  const out: AnyRecord[] = [];
  for await (const r of sendRecords({ ...SEND_DEFAULTS, scanType: 'connect', maxParallelism: 2 })(src())) out.push(r);
  const progress = out.filter((r) => r.type === 'progress');
  t.same(progress, [{ type: 'progress', start: 0, count: 3 }, { type: 'progress', start: 3, count: 2 }]);
  // Every port of a batch precedes its progress record.
  const portIdx = (p: number) => out.findIndex((r) => r.type === 'port' && (r as { port: number }).port === p);
  const idx0 = out.indexOf(progress[0]!);
  const idx1 = out.indexOf(progress[1]!);
  t.ok([1, 2].every((p) => portIdx(p) < idx0), 'batch 0 ports before its progress');
  t.ok([3].every((p) => portIdx(p) < idx1), 'batch 1 ports before its progress');
  t.equal(out.filter((r) => r.type === 'port').length, 5);
});

t.test('an aborted scan does not claim the batch it stopped in', async (t) => {
  const ac = new AbortController();
  const w = new ProbeBatchWriter(4, 20);
  for (let i = 0; i < 20; i++) w.addV4(i, 0x7f000001, 1 + i, 6);
  async function* src(): AsyncGenerator<AnyRecord> {
    yield newHeader(['t']);
    yield w.take()!;
    yield newTrailer();
  }
  const out: AnyRecord[] = [];
  for await (const r of sendRecords({ ...SEND_DEFAULTS, scanType: 'connect', maxParallelism: 1, maxRate: 50, signal: ac.signal })(src())) {
    out.push(r);
    if (r.type === 'port') ac.abort();
  }
  t.ok(out.filter((r) => r.type === 'port').length < 20, 'stopped early');
  t.same(out.filter((r) => r.type === 'progress'), [], 'no progress for an unfinished batch');
  t.match(out.at(-1), { type: 'end', interrupted: true });
});
