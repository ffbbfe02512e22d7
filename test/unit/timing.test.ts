// Congestion control against a simulated path (a shaper that delivers at most C answers per
// second, random loss), nmap's retry rule, per-host RTTs with Karn's rule, and the -T table.
import t from 'tap';
import { CongestionControl, RetryAllowance } from '../../stages/probes/congestion.js';
import { HostRtt, RttEstimator } from '../../stages/probes/rtt.js';
import { resolveTiming } from '../../stages/probes/timing.js';

/**
 * Drives the controller for `seconds` over a path that answers each probe with probability
 * (1 − loss) but delivers at most `capacity` answers per second (the rest are dropped), in 5 ms
 * steps with the sender always backlogged. Returns the paces chosen, one per step.
 */
function simulate(cc: CongestionControl, capacity: number, loss: number, seconds: number, srttMs = 2): number[] {
  let sent = 0, answers = 0, credit = 0, seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const paces: number[] = [];
  for (let now = 0; now < seconds * 1000; now += 5) {
    const n = Math.round((cc.rate * 5) / 1000);
    sent += n;
    credit = Math.min(credit + (capacity * 5) / 1000, capacity * 0.01);
    for (let i = 0; i < n; i++) {
      if (rand() < loss) continue;
      if (credit >= 1) { credit--; answers++; }
    }
    cc.update(now, sent, answers, srttMs, true);
    paces.push(cc.rate);
  }
  return paces;
}

t.test('slow start then a cut to what the shaped path delivers', async (t) => {
  const cc = new CongestionControl({ initialRate: 1000 });
  const paces = simulate(cc, 20_000, 0, 3);
  t.ok(cc.congested >= 1, `congestion seen (${cc.congested} cuts)`);
  const tail = paces.slice(-200);
  const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
  t.ok(mean >= 18_000 && mean <= 32_000, `settles near the 20000/s capacity (mean of the last second: ${mean.toFixed(0)})`);
});

t.test('random loss lowers the baseline, not the pace', async (t) => {
  const cc = new CongestionControl({ initialRate: 1000, maxRate: 200_000 });
  simulate(cc, Infinity, 0.3, 2);
  t.equal(cc.rate, 200_000, 'reaches the ceiling with 30% loss and no capacity limit');
  t.ok(cc.baseline! > 0.6 && cc.baseline! < 0.8, `baseline share ${cc.baseline!.toFixed(2)}`);
});

t.test('--min-rate and --max-rate bound every choice', async (t) => {
  const floor = new CongestionControl({ initialRate: 1000, minRate: 15_000 });
  const floorPaces = simulate(floor, 5000, 0, 2);
  t.ok(floor.congested >= 1, 'the path was congested');
  t.equal(Math.min(...floorPaces), 15_000, 'yet the pace never goes below the floor');
  const ceiling = new CongestionControl({ initialRate: 1000, maxRate: 3000 });
  const paces = simulate(ceiling, Infinity, 0, 1);
  t.equal(Math.max(...paces), 3000, 'never above the ceiling');
});

t.test('a silent path (no answers at all) does not slow the scan', async (t) => {
  const cc = new CongestionControl({ initialRate: 1000, maxRate: 100_000 });
  simulate(cc, 0, 0, 1);
  t.equal(cc.rate, 100_000);
  t.equal(cc.congested, 0);
});

t.test('retries: one on a clean path, more as answered retransmissions and loss show', async (t) => {
  const clean = new RetryAllowance(10);
  for (let i = 0; i < 100; i++) clean.answer(1);
  t.equal(clean.retries, 1, 'nmap: one retransmission when nothing was lost');
  t.equal(new RetryAllowance(0).retries, 0, '--max-retries 0 is 0');
  const lossy = new RetryAllowance(10);
  for (let i = 0; i < 70; i++) lossy.answer(1);
  for (let i = 0; i < 21; i++) lossy.answer(2);
  for (let i = 0; i < 9; i++) lossy.answer(3);
  // 30 of 100 needed a retry: loss 0.3 per try; 0.3^10 < 1e-5 needs 10 tries = 9 retries.
  t.equal(lossy.retries, 9);
  const capped = new RetryAllowance(6);
  for (let i = 0; i < 50; i++) capped.answer(i % 2 ? 1 : 2);
  t.equal(capped.retries, 6, 'never above --max-retries');
});

t.test('per-host RTT: a batch of few hosts waits for its slowest; samples feed the group', async (t) => {
  const group = new RttEstimator(1000, 100, 10_000);
  const hosts = new HostRtt(group, 1000, 100, 10_000);
  for (let i = 0; i < 20; i++) { hosts.sample('198.18.0.2', 5); hosts.sample('198.18.0.3', 400); }
  t.equal(hosts.of('198.18.0.2')!.timeoutMs, 100, 'near host: the floor');
  t.ok(hosts.of('198.18.0.3')!.timeoutMs >= 400, 'far host: its own RTT');
  t.equal(hosts.timeoutOf(['198.18.0.2', '198.18.0.3']), hosts.of('198.18.0.3')!.timeoutMs);
  t.equal(hosts.timeoutOf(['198.18.0.2', '198.18.0.99']), group.timeoutMs, 'a host without samples waits as the group does');
  t.equal(group.samples, 40);
  const addrs = new Uint8Array([198, 18, 0, 2, 198, 18, 0, 2, 198, 18, 0, 3]);
  t.same(hosts.hostsOf(4, addrs), ['198.18.0.2', '198.18.0.3']);
  t.equal(hosts.hostsOf(4, new Uint8Array(Array.from({ length: 65 }, (_, i) => [10, 0, 0, i]).flat())), undefined, 'many hosts: the group decides');
  hosts.sample('198.18.0.2', -1);
  hosts.sample('198.18.0.2', Number.NaN);
  t.equal(group.samples, 40, 'negative (a reply captured before a resend re-stamped its probe) and NaN RTTs are no samples');
});

t.test('-T0…-T5: nmap\'s values for every scan type; flags override one field each', async (t) => {
  t.match(resolveTiming({ timing: 0 }), { scanDelayMs: 300_000, maxParallelism: 1, initialRttMs: 300_000, maxRetries: 10 });
  t.match(resolveTiming({ timing: 1 }), { scanDelayMs: 15_000, maxParallelism: 1, initialRttMs: 15_000 });
  t.match(resolveTiming({ timing: 2 }), { scanDelayMs: 400, maxParallelism: 1 });
  t.match(resolveTiming({}), { level: 3, initialRttMs: 1000, minRttMs: 100, maxRttMs: 10_000, maxRetries: 10, scanDelayMs: 0, maxScanDelayMs: 1000 });
  t.match(resolveTiming({ timing: 4 }), { initialRttMs: 500, minRttMs: 100, maxRttMs: 1250, maxRetries: 6, maxScanDelayMs: 10 });
  t.match(resolveTiming({ timing: 5 }), { initialRttMs: 250, minRttMs: 50, maxRttMs: 300, maxRetries: 2, maxScanDelayMs: 5, hostTimeoutMs: 900_000 });
  t.equal(resolveTiming({}).maxParallelism, undefined);
  t.match(resolveTiming({ timing: 4, maxRttMs: 200 }), { maxRttMs: 200, initialRttMs: 200, minRttMs: 100 }, '--max-rtt-timeout pulls the initial down');
  t.match(resolveTiming({ initialRttMs: 20_000 }), { maxRttMs: 20_000, initialRttMs: 20_000 }, 'an initial above the max raises the max');
  t.match(resolveTiming({ minRttMs: 2000 }), { minRttMs: 2000, initialRttMs: 2000 }, 'a min above the initial raises the initial');
  t.match(resolveTiming({ timing: 2, scanDelayMs: 10, maxParallelism: 64 }), { scanDelayMs: 10, maxParallelism: 64 });
  t.match(resolveTiming({ scanDelayMs: 3000 }), { maxScanDelayMs: 3000 }, 'the max scan delay is never below the scan delay');
});
