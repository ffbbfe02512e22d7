// --max-hostgroup in the namespace lab, checked on the wire from the target side's capture order:
// no probe (ping or port probe, first try or retry) reaches a host of group k+1 before the last
// probe to group k — with -Pn, with discovery before the port scan, and with -sn. Groups of
// dropping hosts make their group wait out retries and timeouts. Without the flag the same scan
// interleaves the groups (the check can fail). Host records come as their group finishes.
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { targetRules } from '../lab/probe-lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const TARGETS = ['198.19.0.0/29', '198.19.2.0/29'];
const HOSTS = [...Array.from({ length: 8 }, (_, i) => `198.19.0.${i}`), ...Array.from({ length: 8 }, (_, i) => `198.19.2.${i}`)];
/** Address order, groups of 4: .0.0-3, .0.4-7, .2.0-3, .2.4-7. */
const groupOf = (ip: string) => Math.floor(HOSTS.indexOf(ip) / 4);

/** For each pair of consecutive groups: does a probe to group k+1 come before the last one to group k? */
function overlaps(packets: CapturedPacket[]): string[] {
  const seq = packets.filter((p) => HOSTS.includes(p.dst)).map((p) => groupOf(p.dst));
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const lastK = seq.lastIndexOf(k);
    const firstNext = seq.indexOf(k + 1);
    if (lastK < 0 || firstNext < 0) out.push(`group ${k} or ${k + 1} got no probe`);
    else if (firstNext < lastK) out.push(`a probe to group ${k + 1} (#${firstNext}) before the last to group ${k} (#${lastK})`);
  }
  return out;
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [], anyIpV4: '198.19.0.0/16' });
  t.teardown(() => lab.teardown());
  await targetRules(lab, ['ip daddr 198.19.2.0/24 drop']);
  const prtip = async (args: string[]) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-n', '--max-retries', '1', '--max-rtt-timeout', '200ms', '-oD', '-', ...args, ...TARGETS], { timeoutMs: 120_000 });
    return { code: r.code, stderr: r.stderr, rows: jsonLines(r.stdout.toString()) };
  };

  t.test('-Pn -sS: each group\'s port probes (retries too) all before the next group\'s', async (t) => {
    const cap = await lab.capture('tcp and dst net 198.19.0.0/16', { snaplen: 96 });
    const r = await prtip(['-Pn', '-sS', '-p', '1-30', '--max-hostgroup', '4']);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.same(overlaps(packets), [], 'groups do not overlap on the wire');
    const dropped = packets.filter((p) => p.dst.startsWith('198.19.2.')).length;
    t.ok(dropped > 8 * 30, `the dropping groups were retried inside their group (${dropped} probes for 240 ports)`);
    t.equal(r.rows.filter((x) => x.type === 'port').length, 16 * 30, 'every port has its record');
    // Records per host as the groups finish: a group's host records come before its end, the next group's after.
    const order = r.rows.filter((x) => x.type === 'host' || x.type === 'hostgroup').map((x) => (x.type === 'host' ? `h${groupOf(String(x.ip))}` : `end${String(x.group).split(':')[1]}`));
    t.same(order, ['h0', 'h0', 'h0', 'h0', 'end0', 'h1', 'h1', 'h1', 'h1', 'end1', 'h2', 'h2', 'h2', 'h2', 'end2', 'h3', 'h3', 'h3', 'h3', 'end3'], 'host records group by group');
    const trailer = r.rows.find((x) => x.type === 'end') as { counters: Record<string, Record<string, number>> };
    t.equal(trailer.counters.send?.hostGroups, 4);
  });

  t.test('without --max-hostgroup the same scan interleaves the groups (one group of every host)', async (t) => {
    const cap = await lab.capture('tcp and dst net 198.19.0.0/16', { snaplen: 96 });
    const r = await prtip(['-Pn', '-sS', '-p', '1-30']);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.not(overlaps(packets).length, 0, 'probes of later groups go out before earlier groups finish');
  });

  t.test('discovery then port scan: pings and port probes of group k+1 after all of group k\'s', async (t) => {
    const cap = await lab.capture('dst net 198.19.0.0/16', { snaplen: 96 });
    const r = await prtip(['-sS', '-p', '1-10', '--max-hostgroup', '4']);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.same(overlaps(packets), [], 'groups do not overlap on the wire (pings included)');
    t.ok(packets.some((p) => p.proto === 'icmp' && p.dst === '198.19.2.5'), 'the dropping hosts were pinged');
    t.notOk(packets.some((p) => p.dst.startsWith('198.19.2.') && p.proto === 'tcp' && p.dport !== undefined && p.dport <= 10 && p.flags === 'S'), 'no port probe to the hosts found down');
    const hosts = r.rows.filter((x) => x.type === 'host').map((x) => `${String(x.ip)} ${String(x.state)}`);
    t.same(hosts.sort(), HOSTS.map((h) => `${h} ${h.startsWith('198.19.0.') ? 'up' : 'down'}`).sort());
  });

  t.test('-sn: each group\'s pings (and retries) finish before the next group is pinged', async (t) => {
    const cap = await lab.capture('dst net 198.19.0.0/16', { snaplen: 96 });
    const r = await prtip(['-sn', '--max-hostgroup', '4']);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.same(overlaps(packets), [], 'groups do not overlap on the wire');
    t.equal(r.rows.filter((x) => x.type === 'host' && x.state === 'up').length, 8);
  });
}
