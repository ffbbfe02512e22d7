// --max-hostgroup in the targets stage: positions run group by group (group g = hosts g·G … in
// address order, their probes permuted among themselves), every (host, port) exactly once, a
// hostgroup record after each group's last batch, and no batch holding two groups' probes.
import t from 'tap';
import { targetRecords, planTargets, probeBatches } from '../../stages/targets/index.js';
import type { AnyRecord, ProbeBatch } from '../../stages/records/index.js';
import { parseArgs } from '../../packages/oclif-cli/lib/flags.js';
import { targetsOptions } from '../../packages/oclif-cli/lib/stage-options.js';

const v4 = (b: ProbeBatch, i: number) => `${b.addrs[i * 4]}.${b.addrs[i * 4 + 1]}.${b.addrs[i * 4 + 2]}.${b.addrs[i * 4 + 3]}`;
const last = (ip: string) => Number(ip.split('.')[3]);

t.test('groups of 5 hosts over 23 hosts × 7 ports: each group a run of positions, every probe once', async (t) => {
  const recs: AnyRecord[] = [];
  for await (const r of targetRecords({ specs: ['198.18.0.0-22'], ports: '1-7', args: [], seed: 9, hostGroup: 5, batchSize: 4 })) recs.push(r);
  const seen = new Set<string>();
  let group = 0;
  const groupsSeen: number[][] = [[]];
  const ends: AnyRecord[] = [];
  for (const r of recs) {
    if (r.type === 'hostgroup') { ends.push(r); group++; groupsSeen.push([]); continue; }
    if (r.type !== 'probes') continue;
    const b = r as ProbeBatch;
    for (let i = 0; i < b.count; i++) {
      const ip = v4(b, i);
      const port = (b.ports[i * 2]! << 8) | b.ports[i * 2 + 1]!;
      t.notOk(seen.has(`${ip}:${port}`), 'no probe twice');
      seen.add(`${ip}:${port}`);
      t.equal(Math.floor(last(ip) / 5), group, `${ip} belongs to the group being generated`);
      groupsSeen[group]!.push(last(ip));
    }
  }
  t.equal(seen.size, 23 * 7, 'every (host, port)');
  t.same(ends.map((e) => `${String(e.group)} ${String(e.hosts)}`), ['4:0 5', '4:1 5', '4:2 5', '4:3 5', '4:4 3'], 'a group end after each group, the last one short');
  t.equal(recs.at(-2)?.type, 'hostgroup', 'the last group\'s end comes before the trailer');
  const inOrder = groupsSeen[0]!.slice(0, 7);
  t.notSame(inOrder, [...inOrder].sort((a, b) => a - b), 'inside a group the order is permuted');
});

t.test('without a host group: no hostgroup record, the plan\'s fingerprint unchanged', async (t) => {
  const plain = await planTargets({ specs: ['198.18.0.0/28'], ports: '1-3', args: [], seed: 1 });
  const grouped = await planTargets({ specs: ['198.18.0.0/28'], ports: '1-3', args: [], seed: 1, hostGroup: 4 });
  t.equal(plain.plan.hostGroup, undefined);
  t.equal(grouped.plan.hostGroup, 4);
  t.not(plain.plan.fingerprint, grouped.plan.fingerprint, '--resume tells the orders apart');
  const recs: AnyRecord[] = [];
  for await (const r of targetRecords({ specs: ['198.18.0.0/28'], ports: '1-3', args: [], seed: 1 })) recs.push(r);
  t.notOk(recs.some((r) => r.type === 'hostgroup'));
  // A batch never spans two groups, even with big batches.
  for (const b of probeBatches(grouped)) {
    const gs = new Set(Array.from({ length: b.count }, (_, i) => Math.floor(last(v4(b, i)) / 4)));
    t.equal(gs.size, 1, `batch at ${b.start}: one group`);
  }
});

t.test('IPv6 groups come after IPv4 ones; sequential order is grouped by itself', async (t) => {
  const recs: AnyRecord[] = [];
  for await (const r of targetRecords({ specs: ['198.18.0.0/30', '2001:2::/126'], ports: '80', args: [], seed: 3, hostGroup: 2, family: undefined })) recs.push(r);
  t.same(recs.filter((r) => r.type === 'hostgroup').map((r) => r.group), ['4:0', '4:1', '6:0', '6:1']);
});

t.test('the flags: --max-hostgroup is the size, --min-hostgroup alone too, min above max refused', async (t) => {
  const opts = (...a: string[]) => targetsOptions(parseArgs([...a, '198.18.0.2'], ['targets', 'ports', 'timing', 'misc'], 'scan', true), [], new AbortController().signal);
  t.equal(opts('--max-hostgroup', '16').hostGroup, 16);
  t.equal(opts('--min-hostgroup', '8').hostGroup, 8);
  t.equal(opts('--min-hostgroup', '8', '--max-hostgroup', '32').hostGroup, 32);
  t.equal(opts().hostGroup, undefined, 'default: one group of every host');
  t.throws(() => opts('--min-hostgroup', '64', '--max-hostgroup', '32'), /--min-hostgroup 64 is larger than --max-hostgroup 32/);
  t.throws(() => opts('--max-hostgroup', '0'), /--max-hostgroup/);
});
