/**
 * SYN scan benchmarks, prtip against its peers on the same lab path in the same run (root only:
 * every scanner runs inside the lab's scanner namespace, whose only link is the veth).
 *
 *   npx tsc -p . && node dist/bench/syn.js [--case sweep,allports,loss,pps,rate,memory] [--rate PPS] [--json]
 *
 * Cases (figures printed as ratios; see the closing note of issue 3):
 *   sweep     198.19.0.0/16, port 80, every address live: hosts found and wall time to the complete
 *             answer, prtip vs zmap (--cooldown-time 1) vs masscan (--wait 1), all at --rate PPS.
 *   allports  -p- on one host (open, closed, filtered ports): prtip -sS -T4 vs nmap -sS -T4, wall time
 *             and whether the open/closed/filtered answer is identical.
 *   loss      10% random loss on the path (nftables), 198.19.0.0/20 port 80: share of open ports
 *             found by prtip (retries) vs zmap and masscan (single shot).
 *   pps       peak send rate: prtip unpaced (sent / time from first to last sendmmsg) vs a plain C
 *             sendmmsg loop on the same veth (bench/sendmmsg-loop.c), as a ratio; the target drops
 *             the probes, so both measure the send path without reply handling.
 *   rate      --rate held on the wire: SYN rate from target-side capture timestamps for asked rates
 *             from 100 pps up, as error in percent.
 *   memory    peak RSS of a /16 sweep vs a /24 sweep (one port), as a ratio.
 *   breakdown where the wall time of `prtip scan -sS -Pn -n -p 80 198.19.0.0/16 --max-rate 10M -oD FILE`
 *             goes: start-up (to the first SYN on the wire, target-side capture), sending (first to
 *             last SYN), the tail (last SYN to exit: last replies, retiring, records, outputs, exit),
 *             against the start-up floor (`prtip --version`) and zmap -c 1 in the same run.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, labSkipReason, type Lab } from '../test/lab/lab.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
// Run as installed: the executable itself (its #! line carries prtip's node flags).
const PRTIP = join(root, 'packages/oclif-cli/bin/run.js');
const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
const cases = (arg('--case') ?? 'sweep,allports,loss,pps,rate,memory').split(',');
const RATE = Number(arg('--rate') ?? 100_000);
const json = process.argv.includes('--json');
const results: Record<string, unknown> = {};

function log(msg: string): void {
  if (!json) process.stdout.write(`${msg}\n`);
}

async function timed(lab: Lab, cmd: string, timeoutMs = 300_000) {
  const t0 = performance.now();
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs });
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`bench: "${cmd.slice(0, 120)}" exited ${r.code}: ${r.stderr.slice(-500)}`);
  return { seconds, stdout: r.stdout.toString(), stderr: r.stderr };
}

const countOpen = (jsonl: string) => jsonl.split('\n').filter((l) => l.includes('"type":"port"') && l.includes('"state":"open"')).length;
const trailer = (jsonl: string) => JSON.parse(jsonl.trim().split('\n').at(-1)!) as { counters: { send: Record<string, number> } };

/** masscan 1.3.2 can hang at "waiting" on a silent wire: a slow ping beside it keeps packets flowing. */
async function withPing<T>(lab: Lab, fn: () => Promise<T>): Promise<T> {
  const ping = lab.spawn(['ping', '-q', '-i', '0.5', lab.targetV4]);
  try { return await fn(); } finally { if (ping.pid) try { process.kill(-ping.pid, 'SIGKILL'); } catch { /* gone */ } }
}

async function peers(lab: Lab, range: string, port: number, rate: number) {
  const blocklist = join(lab.tmpDir, 'empty-blocklist.conf');
  writeFileSync(blocklist, '');
  const zOut = join(lab.tmpDir, 'zmap.csv');
  const zmap = await timed(lab, `zmap -q -p ${port} -i ${lab.scannerIf} -S ${lab.scannerV4} -G ${lab.targetMac} -r ${rate} --cooldown-time=1 -b ${blocklist} -o ${zOut} ${range} && sort -u ${zOut} | grep -c .`);
  const mOut = join(lab.tmpDir, 'masscan.txt');
  // masscan 1.3.2 hangs at "waiting -N secs" on this path instead of exiting after --wait: give it
  // its send time + --wait + 2 s, then stop it as a user would (two Ctrl-C, which write -oL).
  const size = 2 ** (32 - Number(range.split('/')[1]));
  const capTenths = Math.ceil((size / rate + 1 + 2) * 10);
  const masscan = await withPing(lab, () => timed(lab,
    `masscan ${range} -p${port} --rate ${rate} --adapter ${lab.scannerIf} --adapter-ip ${lab.scannerV4} --adapter-mac ${lab.scannerMac} ` +
    `--router-mac ${lab.targetMac} --wait 1 -oL ${mOut} >/dev/null 2>&1 & pid=$!; hung=1; ` +
    `for i in $(seq 1 ${capTenths}); do kill -0 $pid 2>/dev/null || { hung=0; break; }; sleep 0.1; done; ` +
    `kill -INT $pid 2>/dev/null; sleep 0.3; kill -INT $pid 2>/dev/null; sleep 0.3; kill -9 $pid 2>/dev/null; wait $pid; ` +
    `echo "$(grep -c '^open' ${mOut}) $hung"`));
  const [mFound, mHung] = masscan.stdout.trim().split(' ').map(Number) as [number, number];
  return { zmap: { seconds: zmap.seconds, found: Number(zmap.stdout.trim()) }, masscan: { seconds: masscan.seconds, found: mFound, hungAndStopped: mHung === 1 } };
}

async function sweep(): Promise<void> {
  const lab = await createLab({ anyIpV4: '198.19.0.0/16', tcpListeners: [80] });
  try {
    const live = 65536;
    const p = await timed(lab, `${PRTIP} scan -sS -p 80 --rate ${RATE} -oD - 198.19.0.0/16`);
    const found = countOpen(p.stdout);
    const falsePositives = found > live ? found - live : 0;
    const other = await peers(lab, '198.19.0.0/16', 80, RATE);
    results.sweep = { rate: RATE, live, prtip: { seconds: p.seconds, found, falsePositives }, ...other,
      timeRatioVsZmap: p.seconds / other.zmap.seconds, timeRatioVsMasscan: p.seconds / other.masscan.seconds };
    log(`sweep /16 port 80 at ${RATE} pps: prtip ${found}/${live} in ${p.seconds.toFixed(2)} s; zmap ${other.zmap.found} in ${other.zmap.seconds.toFixed(2)} s; ` +
      `masscan ${other.masscan.found} in ${other.masscan.seconds.toFixed(2)} s; prtip/zmap time ${(p.seconds / other.zmap.seconds).toFixed(2)}`);
  } finally { await lab.teardown(); }
}

async function allports(): Promise<void> {
  const lab = await createLab({ daemons: ['nginx', 'sshd', 'redis'], filteredTcpPorts: [139, 9999, 40000] });
  try {
    const p = await timed(lab, `${PRTIP} scan -sS -T4 -p- -oD - ${lab.targetV4}`);
    const ours = { open: [] as number[], filtered: [] as number[], closed: 0 };
    for (const l of p.stdout.split('\n')) {
      if (!l.includes('"type":"port"')) continue;
      const r = JSON.parse(l) as { port: number; state: string };
      if (r.state === 'open') ours.open.push(r.port); else if (r.state === 'filtered') ours.filtered.push(r.port); else ours.closed++;
    }
    const n = await timed(lab, `nmap -sS -T4 -p- -n -Pn -oX - ${lab.targetV4}`);
    const theirs = { open: [] as number[], filtered: [] as number[], closed: 0 };
    for (const m of n.stdout.matchAll(/portid="(\d+)"><state state="([a-z|]+)"/g)) {
      if (m[2] === 'open') theirs.open.push(Number(m[1])); else if (m[2] === 'filtered') theirs.filtered.push(Number(m[1])); else theirs.closed++;
    }
    const extra = /<extraports state="closed" count="(\d+)"/.exec(n.stdout);
    theirs.closed += extra ? Number(extra[1]) : 0;
    const sort = (a: number[]) => [...a].sort((x, y) => x - y).join(',');
    const same = sort(ours.open) === sort(theirs.open) && sort(ours.filtered) === sort(theirs.filtered) && ours.closed === theirs.closed;
    results.allports = { prtip: { seconds: p.seconds, ...ours, open: sort(ours.open), filtered: sort(ours.filtered) },
      nmap: { seconds: n.seconds, ...theirs, open: sort(theirs.open), filtered: sort(theirs.filtered) }, sameAnswer: same, timeRatio: p.seconds / n.seconds };
    log(`all ports, one host: prtip ${p.seconds.toFixed(2)} s, nmap -sS -T4 ${n.seconds.toFixed(2)} s, ratio ${(p.seconds / n.seconds).toFixed(3)}; ` +
      `same answer: ${same} (open ${sort(ours.open)} | ${sort(theirs.open)}; filtered ${sort(ours.filtered)} | ${sort(theirs.filtered)}; closed ${ours.closed} | ${theirs.closed})`);
  } finally { await lab.teardown(); }
}

async function loss(): Promise<void> {
  const lab = await createLab({ anyIpV4: '198.19.0.0/20', tcpListeners: [80], lossPercent: 10 });
  try {
    const live = 4096;
    const rate = Math.min(RATE, 50_000);
    const p = await timed(lab, `${PRTIP} scan -sS -p 80 --rate ${rate} -oD - 198.19.0.0/20`);
    const found = countOpen(p.stdout);
    const other = await peers(lab, '198.19.0.0/20', 80, rate);
    results.loss = { live, lossPercent: 10, prtip: { found, share: found / live, seconds: p.seconds },
      zmap: { ...other.zmap, share: other.zmap.found / live }, masscan: { ...other.masscan, share: other.masscan.found / live } };
    log(`10% loss, /20 port 80: prtip found ${(100 * found / live).toFixed(2)}%, zmap ${(100 * other.zmap.found / live).toFixed(2)}%, masscan ${(100 * other.masscan.found / live).toFixed(2)}%`);
  } finally { await lab.teardown(); }
}

async function pps(): Promise<void> {
  // The target drops every probe (nftables), so neither sender also pays for handling replies:
  // this compares the send paths alone.
  const filtered = Array.from({ length: 16 }, (_, i) => 80 + i);
  const lab = await createLab({ anyIpV4: '198.19.0.0/16', tcpListeners: [], filteredTcpPorts: filtered });
  try {
    const bin = join(lab.tmpDir, 'sendmmsg-loop');
    execFileSync('cc', ['-O2', '-o', bin, join(root, 'bench', 'sendmmsg-loop.c')]);
    const count = 1_000_000;
    const c = await timed(lab, `${bin} ${lab.scannerIf} ${lab.scannerMac} ${lab.targetMac} ${lab.scannerV4} 198.19.0.0 ${count} 256`);
    const [sent, secs] = c.stdout.trim().split(' ').map(Number) as [number, number];
    const cPps = sent / secs;
    // 65536 hosts × 16 ports ≈ 1M probes, unpaced, no retries.
    const p = await timed(lab, `${PRTIP} scan -sS -p 80-95 --max-retries 0 --max-rtt-timeout 100ms -oD - 198.19.0.0/16 | tail -1`);
    const ourPps = trailer(p.stdout).counters.send.pps!;
    // The engine alone, fed 1M probes from JS in 8192-probe batches (no targets/format stages
    // sharing the two cores): what the native sender achieves.
    const engineScript = `
      import { loadNative } from ${JSON.stringify(join(root, 'dist/native/index.js'))};
      const n = loadNative();
      const mac = (s) => Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));
      const e = new n.RawEngine({ ifname: '${lab.scannerIf}', srcMac: mac('${lab.scannerMac}'), dstMac4: mac('${lab.targetMac}'),
        src4: Uint8Array.from([${lab.scannerV4.split('.').join(',')}]), sourcePort: 62000 }, () => {});
      e.start();
      const N = 8192;
      for (let k = 0; k < ${count} / N; k++) {
        const addrs = new Uint8Array(N * 4), ports = new Uint8Array(N * 2);
        for (let i = 0; i < N; i++) { const a = k * N + i; addrs.set([198, 19, (a >> 8) & 255, a & 255], i * 4); ports[2 * i + 1] = 80 + (a >> 16); }
        while (!e.enqueue(4, k * N, addrs, ports)) await new Promise((r) => setTimeout(r, 1));
      }
      while (e.queuedProbes() > 0) await new Promise((r) => setTimeout(r, 5));
      await e.stop();
      const s = e.stats();
      console.log(Math.round(s.sent / s.sendSeconds));`;
    const engine = await lab.execNode(engineScript, [], { timeoutMs: 120_000 });
    const enginePps = Number(engine.stdout.toString().trim());
    results.pps = { cLoopPps: Math.round(cPps), prtipScanPps: ourPps, prtipEnginePps: enginePps, ratio: ourPps / cPps, engineRatio: enginePps / cPps };
    log(`peak send rate: prtip scan ${Math.round(ourPps)} pps, prtip engine ${enginePps} pps, plain C sendmmsg loop ${Math.round(cPps)} pps; ` +
      `ratios ${(ourPps / cPps).toFixed(3)} (scan), ${(enginePps / cPps).toFixed(3)} (engine)`);
  } finally { await lab.teardown(); }
}

async function rate(): Promise<void> {
  const lab = await createLab({ anyIpV4: '198.19.0.0/16', tcpListeners: [] });
  try {
    const rows: Array<{ asked: number; measured: number; error: number; packets: number; tcpdumpDropped: number }> = [];
    // 0: unpaced, the ceiling of this path with replies and a capture running (the last row).
    for (const asked of [100, 1000, 10_000, 50_000, 100_000, 200_000, 0]) {
      const ports = asked === 0 ? 65535 : Math.min(65535, Math.max(300, asked * 2)); // about 2-3 s of sending
      const cap = await lab.capture('tcp and dst host 198.19.0.5 and tcp[tcpflags] == tcp-syn', { snaplen: 96 });
      await timed(lab, `${PRTIP} scan -sS ${asked ? `--rate ${asked}` : ''} --max-retries 0 --max-rtt-timeout 100ms -p 1-${ports} -oD - 198.19.0.5 > /dev/null`);
      const packets = await cap.stop();
      const span = packets.at(-1)!.time - packets[0]!.time;
      const measured = (packets.length - 1) / span;
      rows.push({ asked, measured: Math.round(measured), error: asked ? measured / asked - 1 : 0, packets: packets.length, tcpdumpDropped: cap.dropped ?? 0 });
      if (asked === 0) log(`unpaced (this path's ceiling with replies and capture): ${measured.toFixed(0)} pps`);
      else log(`rate ${asked} pps: measured ${measured.toFixed(0)} pps on the wire (${(100 * (measured / asked - 1)).toFixed(2)}%), ${packets.length} SYNs, tcpdump dropped ${cap.dropped ?? 0}`);
    }
    results.rate = rows;
  } finally { await lab.teardown(); }
}

async function memory(): Promise<void> {
  const lab = await createLab({ anyIpV4: '198.19.0.0/16', tcpListeners: [80] });
  try {
    const rss = async (range: string) => {
      // JSON Lines to /dev/null: the normal report keeps every host's ports until the end (to print
      // per-host blocks), which is the format stage's choice, not the scan's.
      const r = await timed(lab, `/usr/bin/time -f 'maxrss %M' ${PRTIP} scan -sS -p 80 --rate ${RATE} -oD - ${range} > /dev/null`);
      return Number(/maxrss (\d+)/.exec(r.stderr)![1]) / 1024;
    };
    const small = await rss('198.19.0.0/24');
    const large = await rss('198.19.0.0/16');
    results.memory = { rss24MiB: small, rss16MiB: large, ratio: large / small };
    log(`peak RSS: /24 ${small.toFixed(1)} MiB, /16 ${large.toFixed(1)} MiB, ratio ${(large / small).toFixed(3)}`);
  } finally { await lab.teardown(); }
}

async function breakdown(): Promise<void> {
  const lab = await createLab({ anyIpV4: '198.19.0.0/16', tcpListeners: [80] });
  try {
    const out = join(lab.tmpDir, 'sweep.jsonl');
    const floor = await timed(lab, `${PRTIP} --version > /dev/null`);
    const rows: Record<string, unknown>[] = [];
    for (const [label, outputs] of [['-oD FILE + text', `-oD ${out}`], ['-oD - only', '-oD - > /dev/null']] as const) {
      const cap = await lab.capture('tcp and dst net 198.19.0.0/16 and tcp[tcpflags] == tcp-syn', { snaplen: 64 });
      const t0 = Date.now() / 1000;
      const p = await timed(lab, `${PRTIP} scan -sS -Pn -n -p 80 198.19.0.0/16 --max-rate 10000000 ${outputs}`);
      const t1 = Date.now() / 1000;
      const packets = await cap.stop();
      const first = packets[0]!.time, last = packets.at(-1)!.time;
      rows.push({ outputs: label, wall: p.seconds, startup: first - t0, sending: last - first, tail: t1 - last, syns: packets.length, tcpdumpDropped: cap.dropped ?? 0 });
      log(`breakdown (${label}): wall ${p.seconds.toFixed(2)} s = start-up ${(first - t0).toFixed(2)} + sending ${(last - first).toFixed(2)} + tail ${(t1 - last).toFixed(2)} (${packets.length} SYNs seen, tcpdump dropped ${cap.dropped ?? 0})`);
    }
    const blocklist = join(lab.tmpDir, 'empty-blocklist.conf');
    writeFileSync(blocklist, '');
    const z = await timed(lab, `zmap -q -c 1 -p 80 -i ${lab.scannerIf} -S ${lab.scannerV4} -G ${lab.targetMac} -b ${blocklist} -o /dev/null 198.19.0.0/16`);
    results.breakdown = { versionFloor: floor.seconds, runs: rows, zmapSeconds: z.seconds };
    log(`start-up floor (prtip --version) ${floor.seconds.toFixed(2)} s; zmap -c 1 ${z.seconds.toFixed(2)} s`);
  } finally { await lab.teardown(); }
}

const reason = labSkipReason();
if (reason) {
  console.error(`bench/syn: ${reason}`);
  process.exit(1);
}
const table: Record<string, () => Promise<void>> = { sweep, allports, loss, pps, rate, memory, breakdown };
for (const c of cases) {
  const fn = table[c];
  if (!fn) throw new Error(`bench/syn: unknown case ${c} (${Object.keys(table).join(', ')})`);
  await fn();
}
if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
