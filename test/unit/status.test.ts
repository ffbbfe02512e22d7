// Status records: the ticker interleaves them into a stage's output (also while the stage
// waits), and the tracker's rates and ETA follow from two hand-written records.
import t from 'tap';
import { StatusTicker, StatusTracker, withStatus, type StatusRecord } from '../../stages/records/index.js';
import { liveLine, nmapStatusLines, clock } from '../../packages/oclif-cli/lib/progress/status-line.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('withStatus passes every value in order and adds status records while the source waits', async (t) => {
  let n = 0;
  const ticker = new StatusTicker(20, () => ({ stage: 'send', phase: 'port scan', done: n, total: 3, counters: { sent: n } }));
  async function* slow() {
    for (let i = 1; i <= 3; i++) {
      await sleep(70); // several intervals pass with nothing to yield
      n = i;
      yield i;
    }
  }
  const out: Array<number | StatusRecord> = [];
  for await (const r of withStatus(slow(), ticker)) out.push(r);
  t.same(out.filter((r) => typeof r === 'number'), [1, 2, 3], 'values unchanged and in order');
  const statuses = out.filter((r): r is StatusRecord => typeof r !== 'number');
  t.ok(statuses.length >= 3, `status records while waiting (${statuses.length})`);
  t.ok(typeof out[0] !== 'number', 'the first record is a status: the source had nothing yet');
  for (const s of statuses) {
    t.equal(s.type, 'status');
    t.equal(s.total, 3);
    t.ok(s.time >= s.startTime);
  }
  // Each status shows the counters as they were when it was taken.
  const before2 = out.indexOf(2);
  t.ok(statuses.every((s) => out.indexOf(s) > before2 || s.done < 2), 'no status ahead of the value it counts');
});

t.test('withStatus without a ticker is the source itself; an early stop reaches the source', async (t) => {
  let closed = false;
  async function* src() {
    try { yield 1; yield 2; yield 3; } finally { closed = true; }
  }
  const got: unknown[] = [];
  for await (const r of withStatus(src(), undefined)) got.push(r);
  t.same(got, [1, 2, 3]);
  closed = false;
  const ticker = new StatusTicker(1000, () => ({ stage: 's', phase: 'p', done: 0, total: null, counters: {} }));
  for await (const r of withStatus(src(), ticker)) if (r === 1) break;
  t.ok(closed, 'source finalized');
});

t.test('StatusTracker: pps now and on average, percent, ETA, replies, drops', async (t) => {
  const tr = new StatusTracker();
  const base = { type: 'status' as const, stage: 'send', phase: 'port scan', scanType: 'syn', startTime: 10_000, total: 1000 };
  const a = tr.update({ ...base, time: 12_000, done: 200, counters: { sent: 400, open: 5, closed: 100, filtered: 95, retries: 7, pcapDropped: 2, sendErrors: 1 } });
  t.equal(a.pps, 200, '400 sent in the first 2 s');
  t.equal(a.avgPps, 200);
  t.equal(a.percent, 20);
  t.equal(a.etaMs, 8000, '2 s for 200 of 1000: 8 s to go');
  t.equal(a.replies, 105);
  t.equal(a.drops, 3);
  t.equal(a.retries, 7);
  const b = tr.update({ ...base, time: 14_000, done: 500, counters: { sent: 1400, open: 9, closed: 300, filtered: 191, retries: 8 } });
  t.equal(b.pps, 500, '1000 more in 2 s');
  t.equal(b.avgPps, 350, '1400 in 4 s');
  t.equal(b.percent, 50);
  t.equal(b.etaMs, 4000);
  t.equal(tr.latest(), b);
  const d = tr.update({ type: 'status', stage: 'detect', phase: 'service scan', startTime: 13_000, time: 14_000, done: 1, total: 4, counters: { ports: 2, matched: 1, probes: 6 } });
  t.equal(d.replies, 1);
  t.equal(d.pps, 6);
  t.same(tr.stages().map((s) => s.stage), ['send', 'detect']);
  // The SYN engine's live counters: probes handed over (and retries) until its sent count lands.
  const syn = new StatusTracker().update({ ...base, time: 12_000, done: 0, counters: { probes: 500, sent: 0, retries: 100 } });
  t.equal(syn.pps, 300, '600 probes in 2 s');
  const unknown = tr.update({ ...base, stage: 'x', time: 11_000, done: 0, total: null, counters: {} });
  t.equal(unknown.percent, null);
  t.equal(unknown.etaMs, null);
});

t.test('the live line and nmap lines say what the numbers are', async (t) => {
  const tr = new StatusTracker();
  const s = tr.update({ type: 'status', stage: 'send', phase: 'port scan', scanType: 'connect', startTime: 0, time: 65_000, done: 250, total: 1000, counters: { sent: 260, open: 3, closed: 247, retries: 10 } });
  const line = liveLine(s, 200);
  t.match(line, /^connect scan 250\/1000 25\.0% \| 4 pps \(avg 4\) \| 250 replies, 3 open \| 10 retries, 0 drops \| 0:01:05 elapsed, ETA 0:03:15$/);
  t.ok(liveLine(s, 40).length <= 40, 'cut to the terminal width');
  const lines = nmapStatusLines(s, Date.UTC(2026, 0, 1, 12, 0, 0), 1);
  t.match(lines[0]!, /^Stats: 0:01:05 elapsed; 250\/1000 probes done; 250 replies; 3 open ports; 4 pps$/);
  t.match(lines[1]!, /^Connect Scan Timing: About 25\.00% done; ETC: \d\d:\d\d \(0:03:15 remaining\)$/);
  t.match(lines[2]!, /^send counters: sent=260 open=3 closed=247 retries=10$/, 'debugging adds the raw counters');
  t.equal(nmapStatusLines(s).length, 2, 'no counters without debugging');
  t.equal(clock(3_725_000), '1:02:05');
});
