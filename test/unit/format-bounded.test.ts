// Bounded memory for the per-host outputs: records are grouped per host through sorted runs
// spilled to disk (stages/spill), and every format writes the same bytes whether the scan fit in
// memory or was spilled in many small runs.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { formatRecords, type OutputFormatName } from '../../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord } from '../../stages/records/index.js';
import { ipKey, SortedSpill } from '../../stages/spill/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-format-bounded-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('SortedSpill: key order over spilled runs, ties in insertion order, runs removed', async (t) => {
  const spillDir = path.join(tmp, 'runs');
  fs.mkdirSync(spillDir);
  const s = new SortedSpill<AnyRecord & { k: number; seq: number }>((r) => String(r.k).padStart(4, '0'), { memoryRecords: 7, tmpdir: spillDir });
  let seed = 99;
  const input: Array<{ k: number; seq: number }> = [];
  for (let i = 0; i < 500; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    input.push({ k: seed % 40, seq: i });
    await s.add({ type: 'x', ...input.at(-1)! });
  }
  t.ok(s.runs > 50, `spilled in runs (${s.runs})`);
  const out: Array<{ k: number; seq: number }> = [];
  for await (const r of s.sorted()) out.push({ k: r.k, seq: r.seq });
  const want = [...input].sort((a, b) => a.k - b.k || a.seq - b.seq);
  t.same(out, want, 'sorted by key, stable');
  t.same(fs.readdirSync(spillDir), [], 'runs removed');
});

t.test('SortedSpill: runs larger than a read block (records cut at block edges) come back whole and in order', async (t) => {
  const spillDir = path.join(tmp, 'big-runs');
  fs.mkdirSync(spillDir);
  // 6,000 records of ~300 bytes per run: each run is several 256 KiB blocks, so records straddle blocks.
  const s = new SortedSpill<AnyRecord & { k: number; seq: number; pad: string }>((r) => String(r.k).padStart(6, '0'), { memoryRecords: 6000, tmpdir: spillDir });
  const input: Array<{ k: number; seq: number; pad: string }> = [];
  for (let i = 0; i < 15_000; i++) {
    const k = (i * 7919) % 10_007;
    input.push({ k, seq: i, pad: `${'x'.repeat(250 + (i % 50))}${i}` });
    await s.add({ type: 'x', ...input.at(-1)! });
  }
  t.equal(s.runs, 2, 'two runs spilled, the rest held in memory');
  t.ok(fs.readdirSync(fs.readdirSync(spillDir).map((d) => path.join(spillDir, d))[0]!).length === 2, 'the runs are files');
  const out: Array<{ k: number; seq: number; pad: string }> = [];
  for (const r of s.sortedSync()) out.push({ k: r.k, seq: r.seq, pad: r.pad });
  const want = [...input].sort((a, b) => a.k - b.k || a.seq - b.seq);
  t.equal(out.length, want.length, 'every record back');
  t.same(out, want, 'sorted by key, stable, every field intact');
  t.same(fs.readdirSync(spillDir), [], 'runs removed');
});

t.test('ipKey orders addresses as the reports do', async (t) => {
  const ips = ['198.18.0.10', '2001:2::1', '198.18.0.9', '10.0.0.1', '2001:2::', '2001:2:0:0:0:0:0:ff'];
  t.same([...ips].sort((a, b) => (ipKey(a) < ipKey(b) ? -1 : 1)), ['10.0.0.1', '198.18.0.9', '198.18.0.10', '2001:2::', '2001:2::1', '2001:2:0:0:0:0:0:ff']);
});

function scan(): AnyRecord[] {
  const recs: AnyRecord[] = [{ ...newHeader(['test']), scanId: 'fixed', startTime: 1_790_000_000_000, plan: { hosts: 40, portsPerHost: 30, probes: 1200, shardProbes: 1200, ports: { tcp: '1-30', udp: '', sctp: '' }, seed: 1, shard: { index: 1, count: 1 } } }];
  // Interleaved over hosts as a permuted scan delivers them.
  for (let p = 1; p <= 30; p++) {
    for (let h = 40; h >= 1; h--) {
      const ip = `198.18.${h % 3}.${h}`;
      const state = (p + h) % 7 === 0 ? 'open' : h % 5 === 0 ? 'filtered' : 'closed';
      recs.push({ type: 'port', ip, port: p, proto: 'tcp', state, reason: state === 'open' ? 'syn-ack' : state === 'closed' ? 'reset' : 'no-response', ttl: 64, rtt: 0.1 * h, time: 1_790_000_000_000 + p });
      if (state === 'open') recs.push({ type: 'service', ip, port: p, proto: 'tcp', name: 'http', product: 'lab', version: String(h), method: 'probed', conf: 10 });
    }
  }
  for (let h = 1; h <= 40; h++) recs.push({ type: 'host', ip: `198.18.${h % 3}.${h}`, state: h % 5 === 0 && h % 7 !== 0 ? 'down' : 'up', reason: 'syn-ack', time: 1_790_000_000_500 });
  recs.push({ ...newTrailer(false), endTime: 1_790_000_002_000 });
  return recs;
}

async function render(format: OutputFormatName, memory: number | undefined, file: string): Promise<string> {
  const stage = formatRecords({
    outputs: [{ format, path: file }],
    view: { openOnly: false, reason: true, verbose: 1, reportMemoryRecords: memory, serviceName: () => undefined },
    stdout: new PassThrough(),
  });
  async function* src() { yield* scan(); }
  for await (const _ of stage(src())) { /* drain */ }
  return fs.readFileSync(file, 'utf8');
}

t.test('every per-host format: the same output spilled in runs of 16 records as held in memory', async (t) => {
  for (const format of ['normal', 'xml', 'grepable', 'json', 'csv'] as OutputFormatName[]) {
    const whole = await render(format, undefined, path.join(tmp, `${format}-mem`));
    const spilled = await render(format, 16, path.join(tmp, `${format}-spill`));
    t.ok(whole.length > 1000, `${format}: a real report`);
    t.equal(spilled, whole, `${format}: identical when spilled`);
  }
  const normal = fs.readFileSync(path.join(tmp, 'normal-spill'), 'utf8');
  const order = [...normal.matchAll(/^prtip scan report for (\S+)/gm)].map((m) => m[1]);
  t.same(order, [...order].sort((a, b) => (ipKey(a!) < ipKey(b!) ? -1 : 1)), 'hosts in address order');
  t.equal(order.length, 40, 'every host (down ones with -v)');
});
