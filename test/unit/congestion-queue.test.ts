// The group's congestion control against a shaper with a queue, as tbf is: answers leave at most
// `capacity` per second, wait in a queue of `latencyMs` worth of them (the RTT grows with it) and
// are dropped when it is full. The pace must settle at the capacity without overshooting it for
// long (every overshoot is answers dropped, i.e. retransmissions), and random loss must not
// pull it down. Simulated time in 5 ms steps; the sender is always backlogged.
import t from 'tap';
import { CongestionControl } from '../../stages/probes/congestion.js';

function shaped(cc: CongestionControl, capacity: number, seconds: number, opts: { latencyMs?: number; loss?: number; baseRttMs?: number } = {}) {
  const latency = (opts.latencyMs ?? 50) / 1000, loss = opts.loss ?? 0, base = opts.baseRttMs ?? 0.2;
  let seed = 99;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let sent = 0, answers = 0, queue = 0, dropped = 0, carry = 0;
  const arriving: Array<[number, number]> = []; // [ms, answers] leaving the shaper
  let srtt = base;
  const paces: number[] = [];
  for (let now = 0; now < seconds * 1000; now += 5) {
    carry += (cc.rate * 5) / 1000;
    const n = Math.floor(carry);
    carry -= n;
    sent += n;
    let lost = 0;
    for (let i = 0; i < n; i++) if (rand() < loss) lost++;
    const fit = Math.min(n - lost, capacity * latency - queue);
    dropped += n - lost - Math.max(0, fit);
    queue += Math.max(0, fit);
    const out = Math.min(queue, (capacity * 5) / 1000);
    queue -= out;
    srtt = 0.875 * srtt + 0.125 * (base + (queue / capacity) * 1000);
    arriving.push([now + base + (queue / capacity) * 1000, out]);
    while (arriving.length && arriving[0]![0] <= now) answers += arriving.shift()![1];
    cc.update(now, sent, answers, srtt, true);
    paces.push(cc.rate);
  }
  return { paces, sent, dropped };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

for (const capacity of [11_574, 46_296]) {
  t.test(`tbf at ${capacity} answers/s with a 50 ms queue: settles at it, few drops`, async (t) => {
    const cc = new CongestionControl({ initialRate: 1000 });
    const { paces, sent, dropped } = shaped(cc, capacity, 6);
    const settled = mean(paces.slice(-600)); // the last 3 s
    t.ok(settled >= 0.85 * capacity && settled <= 1.1 * capacity, `mean pace of the last 3 s: ${settled.toFixed(0)} (${(settled / capacity).toFixed(2)}× capacity)`);
    t.ok(dropped / sent < 0.06, `the shaper dropped ${(100 * dropped / sent).toFixed(1)} % of the probes' answers`);
  });
}

t.test('30 % random loss on an unshaped path: the pace still climbs to the ceiling', async (t) => {
  const cc = new CongestionControl({ initialRate: 1000, maxRate: 100_000 });
  const { paces } = shaped(cc, 1e9, 3, { loss: 0.3, latencyMs: 1 });
  t.equal(paces.at(-1), 100_000);
  t.equal(cc.congested, 0, 'no cut for random loss');
});
