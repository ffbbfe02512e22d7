import t from 'tap';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import {
  createRecordDecoder,
  createRecordEncoder,
  newHeader,
  newTrailer,
  ProbeBatchWriter,
  probesOf,
  probeBatchProblem,
  formatIPv6,
  RecordStreamError,
  type AnyRecord,
  type ProbeBatch,
} from '../../stages/records/index.js';

async function encode(records: AnyRecord[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(Readable.from(records), createRecordEncoder(), new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } }));
  return Buffer.concat(chunks);
}

/** Decodes bytes fed in chunks of `chunk` bytes; returns records and the error, if any. */
async function decode(bytes: Buffer, chunk = bytes.length || 1): Promise<{ records: AnyRecord[]; error?: Error }> {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  const records: AnyRecord[] = [];
  try {
    await pipeline(Readable.from(parts), createRecordDecoder('test-input'), new Writable({ objectMode: true, write(r, _e, cb) { records.push(r); cb(); } }));
    return { records };
  } catch (error) {
    return { records, error: error as Error };
  }
}

function sampleBatch(): ProbeBatch {
  const w = new ProbeBatchWriter(4, 4);
  w.addV4(10, 0xc6120001, 80, 6);
  w.addV4(11, 0xc6120002, 443, 6);
  w.addV4(12, 0xc6120003, 53, 17);
  return w.take()!;
}

t.test('records round-trip through msgpack, split at every byte boundary', async (t) => {
  const header = newHeader(['prtip targets x']);
  const port = { type: 'port', ip: '198.18.0.2', port: 22, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: null, rtt: 0.2, time: 1 } as const;
  const future = { type: 'future-kind', nested: { a: [1, 2] } };
  const records: AnyRecord[] = [header, sampleBatch(), port, future, { ...port, port: 23, state: 'closed' }, newTrailer()];
  const bytes = await encode(records);
  for (const chunk of [1, 2, 3, 7, 64, bytes.length]) {
    const { records: out, error } = await decode(bytes, chunk);
    t.equal(error, undefined, `chunk ${chunk}: no error`);
    t.equal(out.length, records.length, `chunk ${chunk}: every record`);
    t.same(out[2], port);
    t.same(out[3], future, 'unknown record types pass through the codec');
    const b = out[1] as ProbeBatch;
    t.equal(probeBatchProblem(b), undefined);
    t.same([...probesOf(b)].map((p) => `${p.index} ${p.ip}:${p.port}/${p.proto}`), [
      '10 198.18.0.1:80/tcp', '11 198.18.0.2:443/tcp', '12 198.18.0.3:53/udp',
    ]);
  }
});

t.test('garbage input stops with a message naming source and offset, never a crash', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['text', Buffer.from('198.18.0.1\n198.18.0.2\n'), /test-input: not a prtip record stream at byte 0: got the number 49/],
    ['json', Buffer.from('{"type":"port"}'), /not a prtip record stream at byte 0/],
    ['binary zeros', Buffer.alloc(16), /not a prtip record stream at byte 0/],
    ['random bytes', Buffer.from([0xc1, 0xff, 0x00, 0x13]), /not a prtip record stream at byte 0/],
  ];
  for (const [name, bytes, re] of cases) {
    const { records, error } = await decode(bytes);
    t.type(error, RecordStreamError, `${name}: RecordStreamError`);
    t.match(error?.message, re, name);
    t.equal(records.length, 0, `${name}: nothing emitted`);
  }
});

t.test('a stream must start with a header of a schema we read', async (t) => {
  const noHeader = await encode([{ type: 'port', ip: '1.2.3.4' } as AnyRecord]);
  t.match((await decode(noHeader)).error?.message, /must start with a "scan" header, got a "port" record at byte 0/);
  const future = await encode([{ ...newHeader([]), schema: 999 }]);
  t.match((await decode(future)).error?.message, /schema 999 is newer than this prtip reads/);
});

t.test('records before the garbage are kept; the error names the byte offset', async (t) => {
  const good = await encode([newHeader(['x']), sampleBatch()]);
  const bytes = Buffer.concat([good, Buffer.from('oops')]);
  const { records, error } = await decode(bytes, 5);
  t.equal(records.length, 2, 'header and batch got through');
  t.match(error?.message, new RegExp(`at byte ${good.length}`));
});

t.test('a stream cut inside a record reports the cut', async (t) => {
  const bytes = await encode([newHeader(['x']), sampleBatch()]);
  const { records, error } = await decode(bytes.subarray(0, bytes.length - 3));
  t.equal(records.length, 1);
  t.match(error?.message, /stream ended inside a record/);
});

t.test('fuzz: random byte streams never throw anything but RecordStreamError', async (t) => {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
  const valid = await encode([newHeader(['x']), sampleBatch(), newTrailer()]);
  for (let n = 0; n < 300; n++) {
    const bytes = n % 2 === 0 ? Buffer.from(Array.from({ length: 1 + (n % 97) }, rnd)) : Buffer.from(valid);
    if (n % 2 === 1) for (let k = 0; k < 3; k++) bytes[rnd() % bytes.length] = rnd(); // corrupt a valid stream
    const { error } = await decode(bytes, 1 + (n % 13));
    if (error && !(error instanceof RecordStreamError)) t.fail(`case ${n}: ${error.name}: ${error.message}`);
  }
  t.pass('300 fuzzed streams');
});

t.test('batch validation catches inconsistent columns', async (t) => {
  const b = sampleBatch();
  t.match(probeBatchProblem({ ...b, count: 4 }), /addrs column/);
  t.match(probeBatchProblem({ ...b, family: 5 as 4 }), /family/);
  t.match(probeBatchProblem({ ...b, protos: new Uint8Array(1) }), /protos column/);
});

t.test('IPv6 text form follows RFC 5952', async (t) => {
  const v6 = (words: number[]) => new Uint8Array(words.flatMap((w) => [w >> 8, w & 0xff]));
  t.equal(formatIPv6(v6([0x2001, 2, 0, 0, 0, 0, 0, 1])), '2001:2::1');
  t.equal(formatIPv6(v6([0, 0, 0, 0, 0, 0, 0, 0])), '::');
  t.equal(formatIPv6(v6([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1])), '2001:db8:0:1::1', 'longest zero run wins');
  t.equal(formatIPv6(v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1])), '2001:db8:0:1:1:1:1:1', 'a single zero is not compressed');
  t.equal(formatIPv6(v6([1, 0, 0, 2, 0, 0, 3, 4])), '1::2:0:0:3:4', 'first run wins ties');
});

t.test('RecordWriter: reused buffers and recycled batches never corrupt what was written', async (t) => {
  const { RecordWriter, decodeRecords } = await import('../../stages/records/index.js');
  const chunks: Buffer[] = [];
  // A slow consumer that keeps references to the chunks it is handed and completes writes later.
  const slow = new Writable({
    highWaterMark: 1,
    write(c: Buffer, _e, cb) {
      chunks.push(Buffer.from(c));
      setTimeout(cb, 1);
    },
  });
  const writer = new RecordWriter(slow);
  const expected: string[] = [];
  await writer.write(newHeader(['x']));
  for (let b = 0; b < 20; b++) {
    const w = new ProbeBatchWriter(4, 100);
    for (let i = 0; i < 100; i++) w.addV4(b * 100 + i, 0xc6120000 + b * 100 + i, 1 + ((b * 7 + i) % 65535), 6);
    const batch = w.take()!;
    for (const p of probesOf(batch)) expected.push(`${p.index} ${p.ip} ${p.port}`);
    await writer.write(batch); // recycles the batch's columns: the next batch reuses them
  }
  await writer.write(newTrailer());
  const got: string[] = [];
  for await (const r of decodeRecords((async function* () { yield* chunks; })(), 'test')) {
    if (r.type === 'probes') for (const p of probesOf(r as ProbeBatch)) got.push(`${p.index} ${p.ip} ${p.port}`);
  }
  t.equal(got.length, 2000);
  t.same(got, expected);
});
