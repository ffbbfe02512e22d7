/**
 * Timing bench: a path shaped with tbf on the target's egress (its answers), prtip -sS without
 * any rate flag against masscan --rate 1000000, zmap -r 1000000 and nmap --min-rate 100000 on the
 * same path in the same run (root; every scanner runs in the lab's scanner namespace):
 *
 *   node bench/timing.mjs [--rates 20mbit,5mbit] [--case sweep,allports] [--tools prtip,masscan,zmap,nmap]
 *                         [--breakdown] [--json]
 *
 *   sweep     198.19.0.0/16 × port 80, every address open: open ports found and wall time.
 *   allports  one host × ports 1-65535 (80, 8080, 31337 open): open and closed found, wall time.
 * Beside each: the time the path's capacity allows — the answers' frames (SYN-ACK 58 bytes, RST 54,
 * as tbf counts them with their Ethernet header) × 8 ÷ the tbf rate — and each wall time over it
 * (the goal for prtip: every port found at ≤ 1.2×). Wall times include process start-up, shown
 * once as `prtip --version`'s. prtip runs twice: as a user types it (the default text report, to a
 * file) and with `-oD -` alone (records, no report: the scan's own time).
 *
 * --breakdown captures the probes on the target side during the `-oD -` run and splits its wall
 * time where it went: start-up (command start → first probe on the wire), the first pass (→ the
 * last probe's first send), retransmissions (→ the last probe sent) and the tail (→ exit).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from '../test/lab/lab.js';
import { capacitySeconds, shapeTarget } from '../test/lab/shaping.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const PRTIP = join(root, 'packages/oclif-cli/bin/run.js');
const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
const rates = (arg('--rates') ?? '20mbit,5mbit').split(',');
const cases = (arg('--case') ?? 'sweep,allports').split(',');
const json = process.argv.includes('--json');
const tools = new Set((arg('--tools') ?? 'prtip,masscan,zmap,nmap').split(','));
const breakdown = process.argv.includes('--breakdown');
const results: Record<string, unknown> = {};
const SYNACK = 58, RST = 54;
const log = (m: string) => { if (!json) process.stdout.write(`${m}\n`); };

async function timed(lab: Lab, cmd: string, timeoutMs = 180_000) {
  const t0 = performance.now();
  const r = await lab.exec(['bash', '-c', cmd], { timeoutMs });
  return { seconds: (performance.now() - t0) / 1000, out: r.stdout.toString().trim(), code: r.code, stderr: r.stderr };
}

/** masscan 1.3.2 can hang at "waiting" on a silent wire: a slow ping beside it keeps packets flowing, and a cap stops it as a user would. */
function masscanCmd(lab: Lab, targets: string, ports: string, probes: number, out: string): string {
  const capTenths = Math.ceil((probes / 1e6 + 1 + 3) * 10);
  return `ping -q -i 0.5 ${lab.targetV4} >/dev/null 2>&1 & ping=$!; ` +
    `masscan ${targets} -p${ports} --rate 1000000 --adapter ${lab.scannerIf} --adapter-ip ${lab.scannerV4} --adapter-mac ${lab.scannerMac} ` +
    `--router-mac ${lab.targetMac} --wait 1 -oL ${out} >/dev/null 2>&1 & pid=$!; ` +
    `for i in $(seq 1 ${capTenths}); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; ` +
    `kill -INT $pid 2>/dev/null; sleep 0.3; kill -INT $pid 2>/dev/null; sleep 0.3; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; kill $ping; ` +
    `grep -c '^open' ${out}`;
}

type Row = { tool: string; seconds: number; open: number; closed?: number; ratio: number; note?: string };

async function runCase(lab: Lab, name: string, rate: string, bits: number): Promise<void> {
  const sweep = name === 'sweep';
  const targets = sweep ? '198.19.0.0/16' : lab.targetV4;
  const ports = sweep ? '80' : '1-65535';
  const probes = sweep ? 65536 : 65535;
  const openTruth = sweep ? 65536 : 3;
  const capacity = sweep ? capacitySeconds(bits, 65536, SYNACK) : capacitySeconds(bits, 3, SYNACK) + capacitySeconds(bits, 65532, RST);
  const rows: Row[] = [];
  const add = (tool: string, seconds: number, open: number, closed?: number, note?: string) =>
    rows.push({ tool, seconds, open, ...(closed !== undefined ? { closed } : {}), ratio: seconds / capacity, ...(note ? { note } : {}) });

  if (tools.has('prtip')) {
    // As a user types it: the normal report on (to a file, as a terminal would take it).
    const tOut = join(lab.tmpDir, 'prtip.txt');
    const typed = await timed(lab, `${PRTIP} scan -sS -n -Pn -p ${ports} ${targets} > ${tOut}; grep -c '^[0-9]*/tcp *open' ${tOut}`);
    add('prtip -sS (as typed)', typed.seconds, Number(typed.out.split('\n').at(-1)), undefined, typed.code !== 0 ? `exit ${typed.code}` : undefined);

    // -oD - alone: records only, the scan without the report's formatting.
    const pOut = join(lab.tmpDir, 'prtip.jsonl');
    const cap = breakdown ? await lab.capture(`tcp[tcpflags] == tcp-syn and src ${lab.scannerV4}`, { snaplen: 64 }) : undefined;
    const wallStart = Date.now() / 1000;
    const p = await timed(lab, `${PRTIP} scan -sS -n -Pn -p ${ports} -oD - ${targets} > ${pOut}; grep -c '"state":"open"' ${pOut}; grep -c '"state":"closed"' ${pOut}; tail -1 ${pOut}`);
    const wallEnd = wallStart + p.seconds;
    const [po, pc, trailer] = p.out.split('\n');
    const pace = (JSON.parse(trailer!) as { counters: { send: Record<string, number | undefined> } }).counters.send;
    let note = `retries ${pace.retries ?? 0} of ${pace.probes} probes, final pace ${pace.rate} pps, cuts ${pace.congestionCuts ?? 0}, drops ${pace.drops ?? 0}`;
    if (cap) {
      const syns = await cap.stop();
      const seen = new Set<string>();
      let lastFirst = 0;
      for (const s of syns) {
        const k = `${s.dst}:${s.dport}`;
        if (!seen.has(k)) { seen.add(k); lastFirst = s.time; }
      }
      const first = syns[0]?.time ?? wallStart, last = syns.at(-1)?.time ?? wallStart;
      note += `; start-up ${(first - wallStart).toFixed(2)} s, first pass ${(lastFirst - first).toFixed(2)} s, ` +
        `retransmissions ${(last - lastFirst).toFixed(2)} s, tail ${(wallEnd - last).toFixed(2)} s (${syns.length} SYNs on the wire` +
        `${cap.dropped ? `, ${cap.dropped} not captured` : ''})`;
    }
    add('prtip -sS -oD - (records)', p.seconds, Number(po), Number(pc), note);
  }

  if (tools.has('masscan')) {
    const m = await timed(lab, masscanCmd(lab, targets, ports, probes, join(lab.tmpDir, 'masscan.txt')));
    add('masscan --rate 1000000', m.seconds, Number(m.out.split('\n').at(-1)));
  }

  if (sweep && tools.has('zmap')) {
    const blocklist = join(lab.tmpDir, 'empty-blocklist.conf');
    writeFileSync(blocklist, '');
    const z = await timed(lab, `zmap -q -p 80 -i ${lab.scannerIf} -S ${lab.scannerV4} -G ${lab.targetMac} -r 1000000 --cooldown-time=1 -b ${blocklist} -o ${lab.tmpDir}/zmap.csv ${targets} >/dev/null 2>&1; sort -u ${lab.tmpDir}/zmap.csv | grep -c .`);
    add('zmap -r 1000000', z.seconds, Number(z.out));
  }

  if (tools.has('nmap')) {
    const n = await timed(lab, `timeout 170 nmap -sS -n -Pn --min-rate 100000 -p ${ports} -oG - ${targets} > ${lab.tmpDir}/nmap.gnmap; ` +
      `grep -o '[0-9]*/open/' ${lab.tmpDir}/nmap.gnmap | wc -l; grep -o 'Closed: [0-9]*\\|[0-9]*/closed/' ${lab.tmpDir}/nmap.gnmap | head -1`);
    const [no, nc] = n.out.split('\n');
    const closedN = nc?.startsWith('Closed: ') ? Number(nc.slice(8)) : undefined;
    add('nmap --min-rate 100000', n.seconds, Number(no), closedN, n.code !== 0 ? `exit ${n.code}` : undefined);
  }

  results[`${name}@${rate}`] = { capacitySeconds: capacity, openTruth, rows };
  log(`\n${name === 'sweep' ? '/16 × port 80' : 'one host × 65535 ports'} over tbf ${rate}: capacity allows ${capacity.toFixed(2)} s (${openTruth} open${sweep ? '' : ', 65532 closed'})`);
  for (const r of rows) {
    log(`  ${r.tool.padEnd(28)} ${r.seconds.toFixed(2).padStart(7)} s  ${(r.ratio).toFixed(2)}× capacity  open ${r.open}/${openTruth}` +
      `${r.closed !== undefined ? `  closed ${r.closed}` : ''}${r.note ? `  (${r.note})` : ''}`);
  }
}

const lab = await createLab({ tcpListeners: [80, 8080, 31337], anyIpV4: '198.19.0.0/16' });
try {
  const v = await timed(lab, `${PRTIP} --version`);
  results.startupSeconds = v.seconds;
  log(`prtip start-up (prtip --version): ${v.seconds.toFixed(2)} s`);
  for (const rate of rates) {
    const bits = await shapeTarget(lab, rate);
    for (const c of cases) await runCase(lab, c, rate, bits);
  }
} finally {
  await lab.teardown();
}
if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
