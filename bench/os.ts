/**
 * OS detection beside nmap -O on the same lab path in the same run (root: both scanners run inside
 * the lab's scanner namespace, whose only link is the veth into the target).
 *
 *   npm run bench -- os [--case one,many] [--hosts N] [--rounds N] [--json]
 *
 *   one   -O on the lab's target (one open port 8080, one closed port 81, as nmap wants them)
 *   many  the same on --hosts N addresses of one target kernel (default 64, AnyIP)
 *
 * Both commands are timed as typed: `-sS -O -Pn -n -p 8080,81 HOSTS`, text report to stdout, plus
 * -oX FILE, from start to exit. The answers compared are each host's guesses from -oX: the top
 * match's name and accuracy, and the whole list of names with accuracies.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from '../test/lab/lab.js';

const root = path.join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const PRTIP = path.join(root, 'packages/oclif-cli/bin/run.js');
const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
const cases = (arg('--case') ?? 'one,many').split(',');
const HOSTS = Number(arg('--hosts') ?? 64);
const ROUNDS = Number(arg('--rounds') ?? 1);
const json = process.argv.includes('--json');
const log = (msg: string) => { if (!json) process.stdout.write(`${msg}\n`); };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-bench-os-'));
const RANGE = '198.19.0.0/24';

type Guesses = Map<string, Array<[string, number]>>;

/** Each host's <osmatch name accuracy> list from an -oX file (nmap's and prtip's are the same DTD). */
function guesses(xml: string): Guesses {
  const out: Guesses = new Map();
  for (const host of xml.split('<host ').slice(1)) {
    const ip = /<address addr="([^"]+)" addrtype="ipv[46]"/.exec(host)?.[1];
    if (!ip) continue;
    out.set(ip, [...host.matchAll(/<osmatch name="([^"]*)" accuracy="(\d+)"/g)].map((m) => [m[1]!, Number(m[2])]));
  }
  return out;
}

async function timed(lab: Lab, argv: string[], xmlFile: string) {
  const t0 = performance.now();
  const r = await lab.exec([...argv, '-oX', xmlFile], { timeoutMs: 900_000 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`bench: "${argv.join(' ').slice(0, 120)}" exited ${r.code}: ${r.stderr.toString().slice(-500)}`);
  return { seconds, guesses: guesses(fs.readFileSync(xmlFile, 'utf8')) };
}

const results: Record<string, unknown> = {};

async function compare(lab: Lab, name: string, targets: string[]) {
  const scan = ['-sS', '-O', '-Pn', '-n', '-p', '8080,81'];
  const rounds: Array<Record<string, unknown>> = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first: the machine is shared and its load drifts.
    const order = round % 2 === 0 ? ['prtip', 'nmap'] : ['nmap', 'prtip'];
    const got: Record<string, { seconds: number; guesses: Guesses }> = {};
    for (const tool of order) {
      const argv = tool === 'prtip' ? [process.execPath, PRTIP, 'scan', ...scan, ...targets] : ['nmap', ...scan, ...targets];
      got[tool] = await timed(lab, argv, path.join(tmp, `${tool}.xml`));
    }
    const p = got.prtip!, n = got.nmap!;
    const hosts = [...n.guesses.keys()];
    const topEqual = hosts.filter((ip) => JSON.stringify(p.guesses.get(ip)?.[0]) === JSON.stringify(n.guesses.get(ip)?.[0])).length;
    const listEqual = hosts.filter((ip) => JSON.stringify(p.guesses.get(ip)) === JSON.stringify(n.guesses.get(ip))).length;
    const top = (g: Guesses) => { const first = [...g.values()][0]?.[0]; return first ? `${first[0]} (${first[1]}%)` : 'none'; };
    rounds.push({ prtip: p.seconds, nmap: n.seconds, ratio: p.seconds / n.seconds, hosts: hosts.length, prtipHosts: p.guesses.size, topEqual, listEqual, prtipTop: top(p.guesses), nmapTop: top(n.guesses) });
    log(`${name} round ${round + 1}: prtip ${p.seconds.toFixed(2)} s, nmap -O ${n.seconds.toFixed(2)} s, ratio ${(p.seconds / n.seconds).toFixed(3)}; ` +
      `top guess equal on ${topEqual}/${hosts.length} hosts, whole guess list on ${listEqual}/${hosts.length} (prtip ${top(p.guesses)}, nmap ${top(n.guesses)})`);
  }
  results[name] = rounds;
}

const lab = await createLab({ anyIpV4: RANGE, tcpListeners: [8080] });
try {
  if (cases.includes('one')) await compare(lab, 'one host', [lab.targetV4]);
  if (cases.includes('many')) {
    const hosts = Array.from({ length: HOSTS }, (_, i) => `198.19.0.${i + 1}`);
    await compare(lab, `${HOSTS} hosts`, hosts);
  }
} finally {
  await lab.teardown();
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
