/**
 * Middleboxes that lie: a real /24 (the lab's AnyIP range, real daemons) and three /24s where every
 * port of every address answers SYN-ACK (test/lab/middlebox.ts). prtip -sS and masscan at the same
 * rate; printed: per range, SYN-ACKs found, ports marked proxied, ports at confidence 10, checks,
 * and the wall times, with prtip's pipe with and without the middlebox stage for its cost.
 *
 *   npx tsc -p . && node dist/bench/middlebox.js [--rate PPS] [--ports LIST] [--json]
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, labSkipReason, type Lab } from '../test/lab/lab.js';
import { addMiddleboxes } from '../test/lab/middlebox.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const PRTIP = join(root, 'packages/oclif-cli/bin/run.js');
const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
const RATE = Number(arg('--rate') ?? 20_000);
const PORTS = arg('--ports') ?? '1-100';
const json = process.argv.includes('--json');
const RANGES = { real: '198.19.1.0/24', synproxy: '198.19.2.0/24', tarpit: '198.19.3.0/24', silent: '198.19.4.0/24' };
const prefix = (cidr: string) => cidr.split('.').slice(0, 3).join('.') + '.';

async function timed(lab: Lab, cmd: string) {
  const t0 = performance.now();
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`bench: "${cmd.slice(0, 160)}" exited ${r.code}: ${r.stderr.slice(-400)}`);
  return (performance.now() - t0) / 1000;
}

const skip = labSkipReason();
if (skip) {
  console.log(`bench middlebox skipped: ${skip}`);
  process.exit(0);
}
const lab = await createLab({ daemons: ['nginx', 'sshd'], tcpListeners: [8080], anyIpV4: RANGES.real });
const mb = await addMiddleboxes(lab, { synproxy: RANGES.synproxy, tarpit: RANGES.tarpit, silent: RANGES.silent });
try {
  const targets = Object.values(RANGES).join(' ');
  const out = join(lab.tmpDir, 'prtip.jsonl');
  const scanSec = await timed(lab, `${PRTIP} scan -sS -n -Pn --max-rate ${RATE} -p ${PORTS} ${targets} -oD ${out} > /dev/null`);
  const recs = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const ports = recs.filter((r) => r.type === 'port');
  const pipe = async (mid: boolean) => timed(lab, `${PRTIP} targets -p ${PORTS} ${targets} | ${PRTIP} send -sS --max-rate ${RATE}${mid ? ` | ${PRTIP} middlebox` : ''} | ${PRTIP} format -oD /dev/null`);
  const pipeWithout = await pipe(false);
  const pipeWith = await pipe(true);
  const mOut = join(lab.tmpDir, 'masscan.txt');
  const ping = lab.spawn(['ping', '-q', '-i', '0.5', lab.targetV4]);
  let masscanSec: number;
  try {
    masscanSec = await timed(lab, `masscan --router-ip ${lab.targetV4} -e ${lab.scannerIf} --rate ${RATE} -p ${PORTS} ${targets} --wait 3 -oL ${mOut} 2>/dev/null`);
  } finally {
    if (ping.pid) try { process.kill(-ping.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  const mOpen = fs.readFileSync(mOut, 'utf8').split('\n').filter((l) => l.startsWith('open '));
  const rows = Object.entries(RANGES).map(([name, cidr]) => {
    const ps = ports.filter((p) => String(p.ip).startsWith(prefix(cidr)));
    return {
      range: `${name} ${cidr}`,
      prtipOpen: ps.filter((p) => p.state === 'open').length,
      proxied: ps.filter((p) => p.proxied === true).length,
      confidence10: ps.filter((p) => p.confidence === 10).length,
      checked: ps.filter((p) => p.check !== undefined).length,
      masscanOpen: mOpen.filter((l) => l.split(' ')[3]?.startsWith(prefix(cidr))).length,
    };
  });
  const result = { rate: RATE, ports: PORTS, scanSec, pipeWithout, pipeWith, masscanSec, rows, middlebox: (recs.at(-1) as { counters: Record<string, unknown> }).counters.middlebox };
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(`rate ${RATE} pps, -p ${PORTS}, 4 × /24`);
    for (const r of rows) console.log(`  ${r.range.padEnd(24)} prtip open ${r.prtipOpen}, proxied ${r.proxied}, confidence 10: ${r.confidence10}, checked ${r.checked} | masscan open ${r.masscanOpen}`);
    console.log(`  prtip scan ${scanSec.toFixed(1)} s; pipe without middlebox ${pipeWithout.toFixed(1)} s, with ${pipeWith.toFixed(1)} s (${(pipeWith / pipeWithout).toFixed(2)}×); masscan ${masscanSec.toFixed(1)} s`);
    console.log(`  middlebox counters: ${JSON.stringify(result.middlebox)}`);
  }
} finally {
  await mb.teardown();
  await lab.teardown();
}
