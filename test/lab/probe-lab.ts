/**
 * Lab helpers for the raw probe modules' tests (beside lab.ts): nftables rules of a test's own in
 * the target namespace, UDP responders that answer from the asked address, the target's ICMP rate
 * limits, and nmap run in the scanner namespace with its XML reduced to (port, state, reason).
 */
import type { Lab } from './lab.js';

/** Adds a table of the test's own to the target's input hook (only packets arriving on the veth). */
export async function targetRules(lab: Lab, rules: string[], table = 'prtip_probes'): Promise<void> {
  const text = [
    `table inet ${table} {`,
    '  chain input {',
    '    type filter hook input priority -5; policy accept;',
    ...rules.map((r) => `    iifname "${lab.targetIf}" ${r}`),
    '  }',
    '}',
  ].join('\n');
  const r = await lab.exec(['nft', '-f', '-'], { ns: 'target', input: `${text}\n` });
  if (r.code !== 0) throw new Error(`nft: ${r.stderr}`);
}

/** nftables counters of the test's table (rule comment → packets), to prove rules matched. */
export async function ruleCounters(lab: Lab, table = 'prtip_probes'): Promise<string> {
  const r = await lab.exec(['nft', 'list', 'table', 'inet', table], { ns: 'target' });
  return r.stdout.toString();
}

const RESPONDER_JS = `
import dgram from 'node:dgram';
const [addrs, ...ports] = process.argv.slice(1);
let ready = 0;
const total = ports.length * addrs.split(',').length;
for (const a of addrs.split(',')) for (const p of ports) {
  const s = dgram.createSocket(a.includes(':') ? 'udp6' : 'udp4');
  s.on('message', (msg, rinfo) => s.send(Buffer.concat([Buffer.from('prtip-lab '), msg.subarray(0, 16)]), rinfo.port, rinfo.address));
  s.bind(Number(p), a, () => { if (++ready === total) console.log('ready'); });
}
`;

/**
 * UDP services in the target namespace: each port answers any datagram (from the address it was
 * asked on: the sockets bind the target's own addresses). Resolves once all are bound.
 */
export async function udpResponders(lab: Lab, ports: number[]): Promise<void> {
  const child = lab.spawn(
    [process.execPath, '--input-type=module', '-e', RESPONDER_JS, '--', `${lab.targetV4},${lab.targetV6}`, ...ports.map(String)],
    { ns: 'target', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('UDP responders did not start')), 10_000);
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(timer); resolve(); } });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`UDP responders exited (${code})`)); });
  });
}

/**
 * The target's ICMP rate limits. `perDestMs`: net.ipv4.icmp_ratelimit (Linux default 1000 ms;
 * the lab sets 0); `global`: net.ipv4.icmp_msgs_per_sec / _burst (Linux default 1000 / 50; the
 * lab raises them).
 */
export async function icmpRateLimit(lab: Lab, opts: { perDestMs: number; global?: { perSec: number; burst: number } }): Promise<void> {
  const settings = [`net.ipv4.icmp_ratelimit=${opts.perDestMs}`, `net.ipv6.icmp.ratelimit=${opts.perDestMs}`];
  if (opts.global) settings.push(`net.ipv4.icmp_msgs_per_sec=${opts.global.perSec}`, `net.ipv4.icmp_msgs_burst=${opts.global.burst}`);
  const r = await lab.exec(['sysctl', '-q', '-w', ...settings], { ns: 'target' });
  if (r.code !== 0) throw new Error(`sysctl: ${r.stderr}`);
}

export interface PortVerdict {
  ip: string;
  port: number;
  proto: string;
  state: string;
  reason: string;
}

/** (ip, port, proto, state, reason) of every <port> in nmap's XML. */
export function nmapXmlPorts(xml: string): PortVerdict[] {
  const out: PortVerdict[] = [];
  for (const host of xml.split('<host ').slice(1)) {
    const ip = /<address addr="([^"]+)" addrtype="ipv[46]"/.exec(host)?.[1] ?? '';
    for (const m of host.matchAll(/<port protocol="(\w+)" portid="(\d+)"><state state="([^"]+)" reason="([^"]+)"/g)) {
      out.push({ ip, proto: m[1]!, port: Number(m[2]), state: m[3]!, reason: m[4]! });
    }
  }
  return out;
}

/** nmap in the scanner namespace, XML on stdout. */
export async function runNmap(lab: Lab, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; ports: PortVerdict[]; stderr: string; ms: number }> {
  const t0 = Date.now();
  const r = await lab.exec(['nmap', '-n', '-Pn', '-oX', '-', ...args], { timeoutMs });
  return { code: r.code, ports: nmapXmlPorts(r.stdout.toString()), stderr: r.stderr, ms: Date.now() - t0 };
}

/** "port/proto state reason" lines, sorted, for comparing two scanners. */
export function verdictLines(rows: PortVerdict[]): string[] {
  return rows.map((r) => `${r.ip} ${r.port}/${r.proto} ${r.state} ${r.reason}`).sort();
}
