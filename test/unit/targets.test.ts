import t from 'tap';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import {
  createRecordDecoder,
  createRecordEncoder,
  probeBatchProblem,
  probesOf,
  UserInputError,
  type AnyRecord,
  type EndTrailer,
  type ProbeBatch,
  type ScanHeader,
} from '../../stages/records/index.js';
import { createTargetsStage, DEFAULT_BATCH_SIZE, targetRecords, type TargetsOptions } from '../../stages/targets/index.js';

const datadir = fileURLToPath(new URL('../fixtures/targets/datadir', import.meta.url));
const base: TargetsOptions = { specs: ['198.18.0.0/30', '2001:2::/126'], ports: 'T:22,80,U:53', datadir, args: ['prtip', 'targets'], seed: 7, batchSize: 5 };

async function collect(opts: Partial<TargetsOptions>): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  for await (const r of targetRecords({ ...base, ...opts })) out.push(r);
  return out;
}
const batchesOf = (recs: AnyRecord[]): ProbeBatch[] => recs.filter((r): r is ProbeBatch => r.type === 'probes');
const probeKeys = (recs: AnyRecord[]): string[] => batchesOf(recs).flatMap((b) => [...probesOf(b)].map((p) => `${p.ip} ${p.port}/${p.proto}`));

const EXPECTED = (() => {
  const ips = ['198.18.0.0', '198.18.0.1', '198.18.0.2', '198.18.0.3', '2001:2::', '2001:2::1', '2001:2::2', '2001:2::3'];
  return ips.flatMap((ip) => [`${ip} 22/tcp`, `${ip} 80/tcp`, `${ip} 53/udp`]);
})();

t.test('header, batches, trailer', async (t) => {
  const recs = await collect({});
  const header = recs[0] as ScanHeader;
  t.equal(header.type, 'scan');
  t.same(header.args, ['prtip', 'targets']);
  t.same(header.plan, {
    hosts: 8,
    portsPerHost: 3,
    probes: 24,
    shardProbes: 24,
    ports: { tcp: '22,80', udp: '53', sctp: '' },
    seed: 7,
    shard: { index: 1, count: 1 },
    fingerprint: header.plan!.fingerprint,
  });
  t.match(header.plan!.fingerprint, /^[0-9a-f]{32}$/, 'the plan fingerprint (what --resume checks)');
  const trailer = recs[recs.length - 1] as EndTrailer;
  t.equal(trailer.type, 'end');
  t.equal(trailer.interrupted, false);
  t.same(trailer.counters, { targets: { hosts: 8, probes: 24 } });
  const batches = batchesOf(recs);
  t.equal(batches.length, recs.length - 2, 'only batches between header and trailer');
  for (const b of batches) {
    t.equal(probeBatchProblem(b), undefined, 'columns agree with count');
    t.ok(b.count <= 5, 'batch size respected');
  }
  t.same(batches.map((b) => b.family), [4, 4, 4, 6, 6, 6], 'IPv4 batches first, then IPv6, never mixed');
  let next = 0;
  for (const b of batches) {
    t.equal(b.start, next, 'batch starts where the previous one ended');
    next = b.start + b.count;
  }
  t.equal(next, 24);
  t.equal(batches[3]!.start, 12, 'IPv6 positions follow the IPv4 index space');
});

t.test('the probes are exactly hosts × ports, each once', async (t) => {
  const keys = probeKeys(await collect({}));
  t.equal(keys.length, 24);
  t.equal(new Set(keys).size, 24, 'no duplicates');
  t.same([...keys].sort(), [...EXPECTED].sort());
});

t.test('the order is a seeded permutation', async (t) => {
  const a = probeKeys(await collect({ seed: 7 }));
  const b = probeKeys(await collect({ seed: 7 }));
  const c = probeKeys(await collect({ seed: 8 }));
  const seq = probeKeys(await collect({ sequential: true }));
  t.same(a, b, 'same seed, same order');
  t.notSame(a, c, 'another seed, another order');
  t.notSame(a, seq, 'not sequential');
});

t.test('-r gives sequential host-major order', async (t) => {
  const seq = probeKeys(await collect({ sequential: true }));
  t.same(seq, EXPECTED, 'hosts in address order, ports tcp then udp, IPv4 before IPv6');
});

t.test('shards are disjoint and cover everything', async (t) => {
  const all = probeKeys(await collect({ batchSize: 4 }));
  for (const count of [1, 2, 3, 5, 7, 24, 30]) {
    const seen = new Map<string, number>();
    let total = 0;
    let lastEnd = 0;
    for (let index = 1; index <= count; index++) {
      const recs = await collect({ batchSize: 4, shard: { index, count } });
      const header = recs[0] as ScanHeader;
      t.same(header.plan!.shard, { index, count });
      const keys = probeKeys(recs);
      t.equal(keys.length, header.plan!.shardProbes);
      total += keys.length;
      for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
      const batches = batchesOf(recs);
      if (batches.length > 0) {
        t.equal(batches[0]!.start, lastEnd, `shard ${index}/${count} starts where the previous ended`);
        lastEnd = batches[batches.length - 1]!.start + batches[batches.length - 1]!.count;
      }
      const trailer = recs[recs.length - 1] as EndTrailer;
      t.equal(trailer.counters['targets']!['probes'], keys.length);
    }
    t.equal(total, 24, `${count} shards: sizes add up`);
    t.same([...seen.keys()].sort(), [...all].sort(), `${count} shards cover every probe`);
    t.ok([...seen.values()].every((v) => v === 1), `${count} shards are disjoint`);
  }
  // Shards are slices of the same permuted sequence: concatenated, they reproduce the unsharded order.
  const joined: string[] = [];
  for (let index = 1; index <= 3; index++) joined.push(...probeKeys(await collect({ batchSize: 4, shard: { index, count: 3 } })));
  t.same(joined, all);
});

t.test('an AbortSignal stops generation; the trailer says interrupted', async (t) => {
  const ac = new AbortController();
  const recs: AnyRecord[] = [];
  for await (const r of targetRecords({ ...base, specs: ['198.18.0.0/15'], ports: '1-100', batchSize: 1000, signal: ac.signal })) {
    recs.push(r);
    if (recs.length === 4) ac.abort();
  }
  const trailer = recs[recs.length - 1] as EndTrailer;
  t.equal(trailer.type, 'end');
  t.equal(trailer.interrupted, true);
  t.equal(batchesOf(recs).length, 3, 'no batch after the abort');
  t.equal(trailer.counters['targets']!['probes'], 3000, 'counts what was emitted');

  const early = new AbortController();
  early.abort();
  const none = await collect({ signal: early.signal });
  t.same(none.map((r) => r.type), ['scan', 'end'], 'aborted before the start: header and trailer only');
  t.equal((none[1] as EndTrailer).interrupted, true);

  const late = new AbortController();
  const done: AnyRecord[] = [];
  for await (const r of targetRecords({ ...base, signal: late.signal })) done.push(r);
  late.abort();
  t.equal((done[done.length - 1] as EndTrailer).interrupted, false, 'a finished run is not interrupted');
});

t.test('createTargetsStage: an object-mode Readable', async (t) => {
  const stage = createTargetsStage({ ...base });
  t.equal(stage.readableObjectMode, true);
  const recs: AnyRecord[] = [];
  for await (const r of stage) recs.push(r as AnyRecord);
  t.same([...probeKeys(recs)].sort(), [...EXPECTED].sort());
  t.equal(recs[0]!.type, 'scan');
  t.equal(recs[recs.length - 1]!.type, 'end');
});

t.test('createTargetsStage: planning errors are a stream error before any record', async (t) => {
  const stage = createTargetsStage({ ...base, specs: ['198.18.0.256'] });
  let records = 0;
  stage.on('data', () => records++);
  const err = await new Promise<Error>((resolve) => stage.on('error', resolve));
  t.type(err, UserInputError);
  t.match(err.message, /bad target "198.18.0.256"/);
  t.equal(records, 0);
  const ports = createTargetsStage({ ...base, ports: '70000' });
  await t.rejects(pipeline(ports, async function* (src: AsyncIterable<unknown>) {
    for await (const _ of src) yield _;
  }), { name: 'UserInputError', message: /"70000"/ });
});

t.test('generation is lazy: a 2^42-probe space starts at once and stops when the reader does', async (t) => {
  const stage = createTargetsStage({ ...base, specs: ['0.0.0.0/0'], ports: '1-1000', batchSize: DEFAULT_BATCH_SIZE });
  const t0 = Date.now();
  const got: AnyRecord[] = [];
  for await (const r of stage) {
    got.push(r as AnyRecord);
    if (got.length === 3) break;
  }
  t.ok(Date.now() - t0 < 2000, 'first batches arrive without expanding the space');
  t.equal((got[0] as ScanHeader).plan!.probes, 2 ** 32 * 1000);
  t.equal((got[1] as ProbeBatch).count, DEFAULT_BATCH_SIZE);
  t.ok(stage.destroyed, 'breaking out of the loop destroys the stream');
  const buffered = stage.readableLength;
  t.ok(buffered <= 16, `only a few batches were generated ahead (${buffered})`);
});

t.test('records survive the msgpack codec', async (t) => {
  const decoded: AnyRecord[] = [];
  await pipeline(createTargetsStage({ ...base }), createRecordEncoder(), createRecordDecoder('test'), async (src: AsyncIterable<AnyRecord>) => {
    for await (const r of src) decoded.push(r);
  });
  t.equal(decoded[0]!.type, 'scan');
  t.same([...probeKeys(decoded)].sort(), [...EXPECTED].sort());
  for (const b of batchesOf(decoded)) t.equal(probeBatchProblem(b), undefined);
});

t.test('sctp and large batch defaults', async (t) => {
  const recs = await collect({ specs: ['198.18.0.1'], ports: 'S:80,T:80', batchSize: undefined });
  t.same(probeKeys(recs).sort(), ['198.18.0.1 80/sctp', '198.18.0.1 80/tcp']);
  t.equal(batchesOf(recs).length, 1);
  const stdinList = await collect({ specs: [], inputFiles: ['-'], stdin: Readable.from(['198.18.0.9']), ports: '1' });
  t.same(probeKeys(stdinList), ['198.18.0.9 1/tcp']);
});
