// HostPacing (stages/probes/congestion.ts): which host gets a pace of its own, and how that pace
// follows its rounds — driven with a simulated host that delivers at most `cap` probes/s.
import t from 'tap';
import { HostPacing } from '../../stages/probes/congestion.js';

const round = (entries: Array<[string, number, number]>) => new Map(entries.map(([h, sent, answered]) => [h, { sent, answered }]));

t.test('only the host far behind the rest of its round is singled out', async (t) => {
  const p = new HostPacing({ minRate: 1 });
  const got = p.judgeRound(round([['a', 100, 100], ['b', 100, 98], ['slow', 100, 10], ['c', 100, 90]]), 0.5, 10_000);
  t.same(got, ['slow']);
  t.equal(p.size, 1);
  // It delivered 10 answers in 0.5 s while the rest answered ~96 %: about 20 probes/s.
  t.ok(Math.abs(p.of('slow')!.rate - 10 / 0.5 / (288 / 300)) < 1e-9, `its first pace: ${p.of('slow')!.rate}`);
  t.same(p.judgeRound(round([['a', 100, 100], ['b', 100, 100]]), 0.5, 10_000), [], 'hosts answering alike: none');
  t.same(p.judgeRound(round([['only', 1000, 5]]), 0.5, 10_000), [], 'a host alone has nobody to be behind');
  t.same(p.judgeRound(round([['a', 100, 100], ['few', 10, 0]]), 0.5, 10_000), [], 'too few probes to judge');
});

t.test('a paced host converges on its capacity and grows when it answers', async (t) => {
  const p = new HostPacing({ minRate: 1, caGrowth: 0.1 });
  p.judgeRound(round([['a', 200, 200], ['slow', 200, 20]]), 0.1, 50_000);
  const cap = 300;
  for (let i = 0; i < 40; i++) {
    const h = p.of('slow')!;
    const sent = 100;
    // At pace r the host answers what it can carry: all of them below cap, cap/r of them above it.
    const answered = Math.round(sent * Math.min(1, cap / h.rate));
    const next = p.laneRound('slow', sent, answered, 50_000);
    if (next !== undefined) t.ok(next >= 1, 'never below the floor');
  }
  const r = p.of('slow')!.rate;
  t.ok(r > cap * 0.6 && r < cap * 1.4, `the pace settles near the host's capacity (${r.toFixed(0)} for ${cap})`);
  t.equal(p.laneRound('slow', 4, 0, 50_000), undefined, 'a round of too few probes changes nothing');
});

t.test('a drop ends the host\'s slow start; the group ceiling bounds it', async (t) => {
  const p = new HostPacing({ minRate: 5 });
  p.judgeRound(round([['a', 100, 100], ['s', 100, 1]]), 10, 1000);
  t.equal(p.of('s')!.rate, 5, 'never below the floor (--max-scan-delay)');
  p.of('s')!.ssthresh = 1000;
  p.laneRound('s', 50, 50, 1000);
  t.equal(p.of('s')!.rate, 10, 'slow start doubles');
  p.drop('s');
  t.equal(p.of('s')!.ssthresh, 10, 'a drop sets ssthresh where the pace is');
  p.laneRound('s', 50, 50, 1000);
  t.equal(p.of('s')!.rate, 11, 'then it grows by 10 %');
  p.laneRound('s', 50, 50, 10.5);
  t.equal(p.of('s')!.rate, 10.5, 'and never above the group\'s pace');
});
