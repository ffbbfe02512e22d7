/**
 * Host discovery benchmarks (root; run after `npm run build`):
 *
 *   npm run bench -- discover [--case sweep,memory] [--range CIDR] [--json]
 *
 *   sweep   -sn over the discovery lab's 198.19.0.0/16 (test/lab/discovery-lab.ts: one live /24,
 *           a TCP-only /24, a UDP-only /24, a dead and a filtered /24, four lone hosts, the rest
 *           empty): `prtip scan -sn`, `nmap -sn` and `zmap --probe-module=icmp_echoscan`, each as a
 *           user types it, in the same run and the same scanner namespace. Wall times, their
 *           ratios, hosts found, and whether prtip's up set equals nmap's; prtip's peak RSS.
 *   memory  the discover stage on a /8 plan (10.0.0.0/8 × 1 port, 16.7M hosts) with a prober that
 *           answers at once and sends nothing (every 1000th host up): peak RSS of the stage's
 *           bounded design (host states, held batches) without the network's timing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labSkipReason, type Lab } from '../test/lab/lab.js';
import { createDiscoveryLab } from '../test/lab/discovery-lab.js';
import { discoverRecords, type HostProber, type HostVerdict } from '../stages/discover/index.js';
import { targetRecords } from '../stages/targets/index.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const PRTIP = join(root, 'packages/oclif-cli/bin/run.js');
const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
const cases = (arg('--case') ?? 'sweep,memory').split(',');
const RANGE = arg('--range') ?? '198.19.0.0/16';
const json = process.argv.includes('--json');
const results: Record<string, unknown> = {};
const log = (m: string) => { if (!json) process.stdout.write(`${m}\n`); };

async function timed(lab: Lab, cmd: string, timeoutMs = 1_800_000) {
  const t0 = performance.now();
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs });
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`bench: "${cmd.slice(0, 160)}" exited ${r.code}: ${r.stderr.slice(-500)}`);
  return { seconds, stdout: r.stdout.toString(), stderr: r.stderr };
}

async function sweep(): Promise<void> {
  const lab = await createDiscoveryLab({ tcpListeners: [] });
  try {
    const out = join(lab.tmpDir, 'prtip.jsonl');
    const p = await timed(lab, `/usr/bin/time -f '%M' -o ${lab.tmpDir}/rss ${process.execPath} ${PRTIP} scan -sn -n -oD ${out} ${RANGE} > /dev/null; cat ${out}; echo; cat ${lab.tmpDir}/rss`);
    const lines = p.stdout.trim().split('\n');
    const rssKb = Number(lines.at(-1));
    const ours = new Set(lines.filter((l) => l.includes('"type":"host"') && l.includes('"state":"up"')).map((l) => (JSON.parse(l) as { ip: string }).ip));
    const n = await timed(lab, `nmap -sn -n -oG - ${RANGE}`);
    const theirs = new Set(n.stdout.split('\n').filter((l) => /Status: Up/.test(l)).map((l) => /^Host: (\S+)/.exec(l)![1]!));
    const blocklist = join(lab.tmpDir, 'empty-blocklist.conf');
    writeFileSync(blocklist, '');
    const zOut = join(lab.tmpDir, 'zmap.csv');
    const z = await timed(lab, `zmap -q --probe-module=icmp_echoscan -i ${lab.scannerIf} -S ${lab.scannerV4} -G ${lab.targetMac} -b ${blocklist} -o ${zOut} ${RANGE} && sort -u ${zOut}`);
    const zmapFound = new Set(z.stdout.split('\n').filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l.trim())).map((l) => l.trim()));
    const onlyOurs = [...ours].filter((ip) => !theirs.has(ip));
    const onlyNmap = [...theirs].filter((ip) => !ours.has(ip));
    const zmapMissedByUs = [...zmapFound].filter((ip) => !ours.has(ip));
    results.sweep = {
      range: RANGE,
      prtip: { seconds: p.seconds, up: ours.size, peakRssMiB: Math.round(rssKb / 1024) },
      nmap: { seconds: n.seconds, up: theirs.size },
      zmap: { seconds: z.seconds, up: zmapFound.size },
      timeRatioVsNmap: p.seconds / n.seconds, timeRatioVsZmap: p.seconds / z.seconds,
      sameAsNmap: onlyOurs.length === 0 && onlyNmap.length === 0, onlyOurs: onlyOurs.slice(0, 10), onlyNmap: onlyNmap.slice(0, 10),
      zmapFoundThatWeMissed: zmapMissedByUs.length,
    };
    log(`-sn ${RANGE}: prtip ${ours.size} up in ${p.seconds.toFixed(2)} s (peak RSS ${Math.round(rssKb / 1024)} MiB); ` +
      `nmap -sn ${theirs.size} up in ${n.seconds.toFixed(2)} s; zmap icmp_echoscan ${zmapFound.size} up in ${z.seconds.toFixed(2)} s`);
    log(`  prtip/nmap time ${(p.seconds / n.seconds).toFixed(3)}, prtip/zmap ${(p.seconds / z.seconds).toFixed(2)}; same up set as nmap: ${onlyOurs.length === 0 && onlyNmap.length === 0}` +
      ` (only prtip ${onlyOurs.length}, only nmap ${onlyNmap.length}); zmap's finds prtip missed: ${zmapMissedByUs.length}`);
  } finally {
    await lab.teardown();
  }
}

/** Answers every host at once, sends nothing: the stage's own memory, without the network. */
class InstantProber implements HostProber {
  private out: HostVerdict[] = [];
  readonly counters = {};
  undecided = 0;
  async probe(_family: 4 | 6, addrs: Uint8Array) {
    for (let o = 0; o < addrs.length; o += 4) {
      const up = addrs[o + 3] === 7 && addrs[o + 2]! % 4 === 0; // 1 in 1024
      this.out.push({ ip: `${addrs[o]}.${addrs[o + 1]}.${addrs[o + 2]}.${addrs[o + 3]}`, up, reason: up ? 'echo-reply' : 'no-response' });
    }
  }
  take() { return this.out.splice(0); }
  async step() {}
  async settle() {}
  async close() {}
}

async function memory(): Promise<void> {
  let peak = 0;
  const sample = () => { peak = Math.max(peak, process.memoryUsage().rss); };
  const timer = setInterval(sample, 50);
  const t0 = performance.now();
  let hosts = 0, up = 0, passed = 0;
  const source = targetRecords({ specs: ['10.0.0.0/8'], ports: '80', args: [], seed: 1 });
  const stage = discoverRecords({
    probes: { echo: true, timestamp: false, mask: false, syn: [], ack: [], udp: [], sctp: [], ipProto: [], arp: false }, privileged: true, arp: false, ignoreRst: false,
    pingOnly: false, maxRetries: 1, initialTimeoutMs: 1000, minTimeoutMs: 100, maxTimeoutMs: 1000, prober: new InstantProber(),
  });
  for await (const r of stage(source)) {
    if (r.type === 'host') { hosts++; if ((r as { state: string }).state === 'up') up++; }
    else if (r.type === 'probes') passed += (r as { count: number }).count;
  }
  clearInterval(timer);
  sample();
  const seconds = (performance.now() - t0) / 1000;
  results.memory = { plan: '10.0.0.0/8 x 1 port', hosts, up, probesPassed: passed, seconds, peakRssMiB: Math.round(peak / 2 ** 20) };
  log(`memory: discover stage over a /8 plan (${hosts.toLocaleString('en-US')} host records, ${up} up, ${passed} probes passed) in ${seconds.toFixed(1)} s; peak RSS ${Math.round(peak / 2 ** 20)} MiB`);
}

const skip = labSkipReason();
for (const c of cases) {
  if (c === 'sweep') {
    if (skip) log(`sweep skipped: ${skip}`);
    else await sweep();
  } else if (c === 'memory') await memory();
  else throw new Error(`bench discover: unknown case "${c}" (sweep, memory)`);
}
if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
