// Timing and congestion control in the namespace lab: a tbf-shaped path and random loss cost no
// ports (no rate flag given), a host that answers nothing is given up at --host-timeout, and
// --scan-delay / -T2 / -T0 pacing as the target's capture timestamps show it.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket, type Lab } from '../lab/lab.js';
import { blackhole, shapeTarget, unshapeTarget } from '../lab/shaping.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

interface PortRow { ip: string; port: number; state: string }
const portRows = (out: string) => jsonLines(out).filter((r) => r.type === 'port') as unknown as PortRow[];

async function sh(lab: Lab, cmd: string, timeoutMs = 120_000) {
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd.replaceAll('prtip ', `${process.execPath} ${PRTIP_BIN} `)], { timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr, timedOut: r.timedOut };
}

/** Ports of one host with their ground-truth state: open where the lab listens, closed elsewhere. */
function truth(lab: Lab, ip: string, from: number, to: number): Map<string, string> {
  const m = new Map<string, string>();
  for (let p = from; p <= to; p++) m.set(`${ip}:${p}`, lab.tcpOpen.includes(p) ? 'open' : 'closed');
  return m;
}

/** Every address of an AnyIP /len range, port 80 open (the lab's listener answers for all of them). */
function rangeTruth(base: string, count: number, port: number): Map<string, string> {
  const [a, b] = base.split('.').map(Number) as [number, number];
  const m = new Map<string, string>();
  for (let i = 0; i < count; i++) m.set(`${a}.${b}.${i >> 8}.${i & 255}:${port}`, 'open');
  return m;
}

/** How many of the expected (address:port → state) the output got right. */
function found(rows: PortRow[], expect: Map<string, string>): number {
  let ok = 0;
  for (const r of rows) if (expect.get(`${r.ip}:${r.port}`) === r.state) ok++;
  return ok;
}

const synsTo = (packets: CapturedPacket[], ip: string) => packets.filter((p) => p.flags === 'S' && p.dst === ip);
const gaps = (packets: CapturedPacket[]) => packets.slice(1).map((p, i) => p.time - packets[i]!.time);

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  t.test('a tbf-shaped path: every port found without a rate flag', async (t) => {
    const lab = await createLab({ tcpListeners: [80, 8080], anyIpV4: '198.19.0.0/20' });
    t.teardown(() => lab.teardown());
    await shapeTarget(lab, '20mbit');
    const host = await sh(lab, `prtip scan -sS -n -Pn -p 1-20000 -oD - ${lab.targetV4}`);
    t.equal(host.code, 0, host.stderr);
    const expectHost = truth(lab, lab.targetV4, 1, 20000);
    t.equal(found(portRows(host.stdout), expectHost), expectHost.size, '20 Mbit, one host × 20000 ports: all found');
    const end = jsonLines(host.stdout).at(-1) as { counters: { send: Record<string, number> } };
    t.ok(end.counters.send.rate! > 0, `the pace congestion control ended at: ${end.counters.send.rate} probes/s`);

    await shapeTarget(lab, '5mbit');
    const cap = await lab.capture('tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack != 0', { snaplen: 96 });
    const range = await sh(lab, 'prtip scan -sS -n -Pn -p 80 -oD - 198.19.0.0/20');
    const synAcks = await cap.stop();
    t.equal(range.code, 0, range.stderr);
    const expectRange = rangeTruth('198.19.0.0', 4096, 80);
    t.equal(found(portRows(range.stdout), expectRange), 4096, '5 Mbit, /20 × 1 port: all found');
    t.ok(synAcks.length >= 4096, `the shaper passed ${synAcks.length} SYN-ACKs (retransmissions make up for the ones it cost)`);
  });

  for (const loss of [10, 30]) {
    t.test(`${loss}% random loss: every port found (99.9% at 30%)`, async (t) => {
      const lab = await createLab({ tcpListeners: [80, 8080], anyIpV4: '198.19.0.0/22', lossPercent: loss });
      t.teardown(() => lab.teardown());
      const host = await sh(lab, `prtip scan -sS -n -Pn -p 1-3000 -oD - ${lab.targetV4}`);
      t.equal(host.code, 0, host.stderr);
      const range = await sh(lab, 'prtip scan -sS -n -Pn -p 80 -oD - 198.19.0.0/22');
      t.equal(range.code, 0, range.stderr);
      const need = (n: number) => (loss >= 30 ? Math.ceil(n * 0.999) : n);
      const h = found(portRows(host.stdout), truth(lab, lab.targetV4, 1, 3000));
      const r = found(portRows(range.stdout), rangeTruth('198.19.0.0', 1024, 80));
      t.ok(h >= need(3000), `one host × 3000 ports: ${h} found`);
      t.ok(r >= need(1024), `/22 × 1 port: ${r} found`);
    });
  }

  t.test('pacing and host timeout on the wire', async (t) => {
    const lab = await createLab({ tcpListeners: [80], anyIpV4: '198.19.0.0/24' });
    t.teardown(() => lab.teardown());

    t.test('--host-timeout: the host that answers nothing costs at most its timeout, and is reported so', async (t) => {
      const dead = '198.19.0.9';
      await blackhole(lab, [dead]);
      const cap = await lab.capture('tcp[tcpflags] == tcp-syn', { snaplen: 96 });
      // Each attempt waits at least 1.5 s, so the silent host would need 3 s or more: its timeout is 1 s.
      const r = await sh(lab, `prtip scan -sS -n -Pn -p 1-20 --min-rtt-timeout 1500ms --host-timeout 1s -oD - -oX ${lab.tmpDir}/ht.xml 198.19.0.0/28`);
      const syns = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      const rows = portRows(r.stdout);
      t.equal(rows.filter((p) => p.ip === dead).length, 0, 'no port of the given-up host is reported');
      const others = rows.filter((p) => p.ip !== dead);
      t.equal(others.length, 15 * 20, `every port of the 15 hosts that answer is reported (${others.length}; ${[...new Set(others.map((p) => p.ip))].length} hosts)`);
      t.ok(others.length > 0 && others.every((p) => (p.port === 80 ? p.state === 'open' : p.state === 'closed')), 'and right');
      const host = jsonLines(r.stdout).findLast((x) => x.type === 'host' && x.ip === dead) as { timedOut?: boolean; reason?: string } | undefined;
      // Discovery's record came first (-Pn: user-set); send's later one supersedes it.
      t.match(host, { timedOut: true, reason: 'host-timeout' }, 'its host record says it timed out');
      t.match(readFileSync(`${lab.tmpDir}/ht.xml`, 'utf8'), /<host[^>]* timedout="true"/, '-oX marks it as nmap does');
      const toDead = synsTo(syns, dead);
      t.ok(toDead.length >= 20, `${toDead.length} SYNs went to it`);
      const span = toDead.at(-1)!.time - toDead[0]!.time;
      t.ok(span <= 1.25, `its probes span ${span.toFixed(3)} s on the wire: within the 1 s timeout (and the scan's 50 ms service tick)`);
      t.ok(toDead.length < 40, 'no retry round went to it after it was given up');
    });

    t.test('--scan-delay spaces every probe on the wire (-sS and -sA)', async (t) => {
      for (const type of ['-sS', '-sA']) {
        const cap = await lab.capture(`tcp and dst host ${lab.targetV4} and dst portrange 1-10`, { snaplen: 96 });
        const r = await sh(lab, `prtip scan ${type} -n -Pn -p 1-10 --scan-delay 80ms -oD - ${lab.targetV4}`);
        const probes = (await cap.stop()).filter((p) => p.src === lab.scannerV4 && (p.flags === 'S' || p.flags === 'A'));
        t.equal(r.code, 0, r.stderr);
        t.ok(probes.length >= 10, `${type}: ${probes.length} probes`);
        const min = Math.min(...gaps(probes));
        t.ok(min >= 0.075, `${type}: shortest gap between probes ${(min * 1000).toFixed(1)} ms (asked 80 ms)`);
      }
    });

    t.test('-T2: one probe at a time, 0.4 s apart', async (t) => {
      const cap = await lab.capture(`tcp and host ${lab.targetV4} and portrange 1-5`, { snaplen: 96 });
      const r = await sh(lab, `prtip scan -sS -n -Pn -T2 -p 1-5 -oD - ${lab.targetV4}`);
      const packets = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      const syns = packets.filter((p) => p.flags === 'S' && p.dst === lab.targetV4);
      t.equal(syns.length, 5, 'one SYN per port');
      t.ok(Math.min(...gaps(syns)) >= 0.38, `shortest gap ${Math.min(...gaps(syns)).toFixed(3)} s`);
      for (let i = 1; i < syns.length; i++) {
        const prev = syns[i - 1]!;
        const answered = packets.find((p) => p.src === lab.targetV4 && p.sport === prev.dport && p.time >= prev.time);
        t.ok(answered && answered.time <= syns[i]!.time, `port ${prev.dport} answered before the next SYN went out`);
      }
    });

    t.test('-T0: one probe per 5 minutes (a 6 s window holds exactly one)', async (t) => {
      const cap = await lab.capture(`tcp and dst host ${lab.targetV4} and portrange 1-5`, { snaplen: 96 });
      const r = await sh(lab, `prtip scan -sS -n -Pn -T0 -p 1-5 -oD - ${lab.targetV4}`, 6000);
      const syns = (await cap.stop()).filter((p) => p.flags === 'S');
      t.ok(r.timedOut, 'still pacing when stopped');
      t.equal(syns.length, 1, `one SYN in 6 s (${syns.length})`);
    });
  });
}
