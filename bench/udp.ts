/**
 * UDP scan benchmarks, prtip -sU against nmap -sU -T4 on the same lab path in the same run (root:
 * every scanner runs inside the lab's scanner namespace, whose only link is the veth).
 *
 *   npm run bench -- udp [--case off,hosts,on] [--ports N] [--hosts N] [--on-ports N] [--json]
 *
 * The target runs dnsmasq (53) and UDP responders on a few top ports; every other port is closed
 * and answers with ICMP port unreachable, as a real host's would — within the kernel's limits:
 *   off    per-destination ICMP limit off (net.ipv4.icmp_ratelimit=0), the host-wide budget at
 *          Linux's defaults (1000/s, burst 50): one host, --ports N top UDP ports (default 1000).
 *   hosts  the same on --hosts N addresses of one target (default 64; one kernel, so one budget).
 *   on     Linux defaults (1 ICMP/s per destination, burst 6): one host, --on-ports N (default 50):
 *          every closed port costs both scanners about a second.
 * Each case prints wall times, their ratio, and whether the states equal nmap's port for port.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, labSkipReason, type Lab } from '../test/lab/lab.js';
import { icmpRateLimit, nmapXmlPorts, udpResponders } from '../test/lab/probe-lab.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const PRTIP = join(root, 'packages/oclif-cli/bin/run.js');
const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
const cases = (arg('--case') ?? 'off,hosts,on').split(',');
const PORTS = Number(arg('--ports') ?? 1000);
const HOSTS = Number(arg('--hosts') ?? 64);
const ON_PORTS = Number(arg('--on-ports') ?? 50);
const json = process.argv.includes('--json');
const results: Record<string, unknown> = {};
const RESPONDERS = [123, 161, 137, 500, 1900];

const log = (msg: string) => { if (!json) process.stdout.write(`${msg}\n`); };

async function timed(lab: Lab, argv: string[], timeoutMs = 3_600_000) {
  const t0 = performance.now();
  const r = await lab.exec(argv, { timeoutMs });
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`bench: "${argv.join(' ').slice(0, 120)}" exited ${r.code}: ${r.stderr.slice(-500)}`);
  return { seconds, stdout: r.stdout.toString() };
}

/** Ports in nmap-services order of frequency are what --top-ports means for both scanners. */
async function compare(lab: Lab, name: string, targets: string[], portArgs: string[]) {
  const p = await timed(lab, [process.execPath, PRTIP, 'scan', '-sU', '-T4', '-Pn', '-n', ...portArgs, '-oD', '-', ...targets]);
  const ours = new Map<string, string>();
  let trailer: Record<string, number> = {};
  for (const l of p.stdout.split('\n')) {
    if (l.includes('"type":"port"')) { const r = JSON.parse(l) as { ip: string; port: number; state: string }; ours.set(`${r.ip} ${r.port}`, r.state); }
    if (l.includes('"type":"end"')) trailer = (JSON.parse(l) as { counters: { send: Record<string, number> } }).counters.send;
  }
  const n = await timed(lab, ['nmap', '-sU', '-T4', '-Pn', '-n', ...portArgs, '-oX', '-', ...targets]);
  const theirs = new Map<string, string>();
  for (const r of nmapXmlPorts(n.stdout)) theirs.set(`${r.ip} ${r.port}`, r.state);
  // nmap folds the majority state into <extraports>: those ports take that state.
  for (const host of n.stdout.split('<host ').slice(1)) {
    const ip = /<address addr="([^"]+)"/.exec(host)?.[1];
    const extra = /<extraports state="([^"]+)" count="\d+"/.exec(host)?.[1];
    if (!ip || !extra) continue;
    for (const k of ours.keys()) if (k.startsWith(`${ip} `) && !theirs.has(k)) theirs.set(k, extra);
  }
  const differ = [...ours].filter(([k, s]) => theirs.get(k) !== s).map(([k, s]) => `${k} ${s}/${theirs.get(k) ?? '-'}`);
  const count = (m: Map<string, string>) => Object.fromEntries([...new Set(m.values())].map((s) => [s, [...m.values()].filter((x) => x === s).length]));
  results[name] = { prtip: { seconds: p.seconds, states: count(ours), rateLimitRounds: trailer.rateLimitRounds ?? 0, sent: trailer.sent },
    nmap: { seconds: n.seconds, states: count(theirs) }, timeRatio: p.seconds / n.seconds, sameStates: differ.length === 0, differ: differ.slice(0, 10) };
  log(`${name}: prtip ${p.seconds.toFixed(2)} s ${JSON.stringify(count(ours))}, nmap -sU -T4 ${n.seconds.toFixed(2)} s ${JSON.stringify(count(theirs))}, ` +
    `ratio ${(p.seconds / n.seconds).toFixed(3)}; same states: ${differ.length === 0}${differ.length ? ` (${differ.length} differ: ${differ.slice(0, 5).join('; ')})` : ''}`);
}

async function withLab(anyIpV4: string | undefined, fn: (lab: Lab) => Promise<void>) {
  const lab = await createLab({ daemons: ['dnsmasq'], tcpListeners: [], ...(anyIpV4 ? { anyIpV4 } : {}) });
  try {
    await udpResponders(lab, RESPONDERS);
    await fn(lab);
  } finally { await lab.teardown(); }
}

const table: Record<string, () => Promise<void>> = {
  off: () => withLab(undefined, async (lab) => {
    await icmpRateLimit(lab, { perDestMs: 0, global: { perSec: 1000, burst: 50 } });
    await compare(lab, `off: 1 host, top ${PORTS} UDP ports, per-destination ICMP limit off, host budget 1000/s`, [lab.targetV4], ['--top-ports', String(PORTS)]);
  }),
  hosts: () => withLab('198.19.0.0/24', async (lab) => {
    await icmpRateLimit(lab, { perDestMs: 0, global: { perSec: 1000, burst: 50 } });
    const last = HOSTS - 1;
    await compare(lab, `hosts: ${HOSTS} hosts, top ${PORTS} UDP ports, per-destination limit off`, [`198.19.0.0-${last}`], ['--top-ports', String(PORTS)]);
  }),
  on: () => withLab(undefined, async (lab) => {
    await icmpRateLimit(lab, { perDestMs: 1000, global: { perSec: 1000, burst: 50 } });
    await compare(lab, `on: 1 host, top ${ON_PORTS} UDP ports, Linux defaults (1 ICMP/s per destination)`, [lab.targetV4], ['--top-ports', String(ON_PORTS)]);
  }),
};

const reason = labSkipReason();
if (reason) {
  console.error(`bench/udp: ${reason}`);
  process.exit(1);
}
for (const c of cases) {
  const fn = table[c];
  if (!fn) throw new Error(`bench/udp: unknown case ${c} (${Object.keys(table).join(', ')})`);
  await fn();
}
if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
