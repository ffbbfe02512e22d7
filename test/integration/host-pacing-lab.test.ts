// Per-host pacing in the namespace lab: one host behind a tight nftables limit among hosts whose
// path is free, scanned together without a rate flag. Every port of every host must be found, the
// limited host must get a pace of its own (and no flood of retransmissions), and the free hosts'
// probes must not wait for it — all read from the target-side capture, by counts and order.
import t from 'tap';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { limitHost } from '../lab/shaping.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

interface PortRow { ip: string; port: number; state: string }

async function sh(lab: Lab, cmd: string, timeoutMs = 120_000) {
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd.replaceAll('prtip ', `${process.execPath} ${PRTIP_BIN} `)], { timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  t.test('one host behind a 200 packets/s limit among 7 free ones: its own pace, all ports found', async (t) => {
    const lab = await createLab({ tcpListeners: [80, 8080], anyIpV4: '198.19.0.0/29' });
    t.teardown(() => lab.teardown());
    const hosts = Array.from({ length: 8 }, (_, i) => `198.19.0.${i}`);
    const slow = '198.19.0.5';
    const PORTS = 1000;
    await limitHost(lab, slow, 200);
    // The capture sits on the target's veth, before nftables: it sees every probe, policed or not.
    const cap = await lab.capture(`tcp[tcpflags] == tcp-syn and src ${lab.scannerV4}`, { snaplen: 64 });
    const r = await sh(lab, `prtip scan -sS -n -Pn -p 1-${PORTS} -oD - 198.19.0.0/29`);
    const syns = await cap.stop();
    t.equal(r.code, 0, r.stderr);

    const rows = jsonLines(r.stdout).filter((x) => x.type === 'port') as unknown as PortRow[];
    for (const h of hosts) {
      const mine = rows.filter((p) => p.ip === h);
      const right = mine.filter((p) => p.state === (lab.tcpOpen.includes(p.port) ? 'open' : 'closed'));
      t.equal(new Set(right.map((p) => p.port)).size, PORTS, `${h}${h === slow ? ' (limited)' : ''}: every port found with its state`);
      t.equal(right.filter((p) => p.state === 'open').length, 1, `${h}: its open port 80 among them`);
    }
    const send = (jsonLines(r.stdout).at(-1) as { counters: { send: Record<string, number> } }).counters.send;
    t.equal(send.pacedHosts, 1, 'one host got a pace of its own: the limited one (a drop on it did not single out the others)');

    const to = (h: string) => syns.filter((p) => p.dst === h);
    const slowSyns = to(slow);
    t.ok(slowSyns.length >= PORTS, `${slowSyns.length} SYNs to the limited host`);
    // Without a pace of its own, every round re-sends all its unanswered probes at the group's pace
    // and the limit drops most of them again: many times its ports in SYNs.
    t.ok(slowSyns.length <= 3 * PORTS, `the limited host was not flooded: ${slowSyns.length} SYNs for ${PORTS} ports`);
    let freeLast = 0;
    for (const h of hosts.filter((x) => x !== slow)) {
      const mine = to(h);
      t.ok(mine.length >= PORTS && mine.length <= 1.1 * PORTS, `${h}: ${mine.length} SYNs for ${PORTS} ports (each about once: not held in the limited host's rounds)`);
      freeLast = Math.max(freeLast, mine.at(-1)?.time ?? 0);
    }
    // The limited host's probes after the free hosts were done (its lane's) went at a pace of its
    // own, below the pace the free hosts' probes went at — two rates read from the same capture,
    // not a time limit. (How far below depends on how fast a loaded machine lets the free hosts go:
    // 634–9,674/s for them in runs where the limited host's lane held 250–300/s.)
    const freeSyns = syns.filter((p) => p.dst !== slow);
    const freeRate = freeSyns.length / (freeLast - freeSyns[0]!.time);
    const late = slowSyns.filter((p) => p.time > freeLast);
    t.ok(late.length > 0, `${late.length} SYNs to the limited host after the free hosts' last probe (the free hosts did not wait for it)`);
    const lateRate = late.length / (late.at(-1)!.time - late[0]!.time);
    t.ok(lateRate < freeRate, `its probes then went at ${lateRate.toFixed(0)}/s, the free hosts' at ${freeRate.toFixed(0)}/s`);
  });
}
