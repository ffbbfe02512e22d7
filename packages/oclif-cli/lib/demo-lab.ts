/**
 * The demo's embedded network. As root: two network namespaces joined by a veth (the scanner
 * side has no other link and no default route, so no packet can leave the machine); the target
 * namespace answers for a whole /16 of the benchmarking range (a local route), rejects the swept
 * ports with RST everywhere except on a few hosts, where small listeners speak like FTP, SSH,
 * SMTP and HTTP servers. Without root: the same listeners on 127.0.0.1. Everything it builds it
 * removes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';

export const DEMO_SCANNER = '198.18.0.1';
export const DEMO_GATEWAY = '198.18.0.2';
/** The swept /16: off the veth link, routed through the target namespace. */
export const DEMO_SWEEP = '198.19.0.0/16';
export const DEMO_PORTS = [21, 22, 25, 80, 8080];
/** What the sweep probes on every address of the /16 (each service host has one of them open). */
export const DEMO_SWEEP_PORTS = [22, 80, 8080];
/** The hosts of the /16 with services, and which. Every other (host, port) answers RST. */
export const DEMO_SERVICES: Readonly<Record<string, number[]>> = {
  '198.19.0.10': [22, 80],
  '198.19.1.20': [80, 8080],
  '198.19.7.7': [21, 22, 25],
  '198.19.200.3': [8080],
};

/**
 * Listeners that greet as the service on their port usually does (FTP, SSH, SMTP), or answer an
 * HTTP request; they say they are the prtip demo. argv: [offset, port…]; the listener for port P
 * binds P + offset (loopback demo: high ports), and speaks as P.
 */
export const LISTENER_SCRIPT = `
const net = require('net');
const [offset, ...ports] = process.argv.slice(1).map(Number);
const greet = { 21: '220 prtip demo FTP service ready\\r\\n', 22: 'SSH-2.0-prtip_demo_1.0\\r\\n', 25: '220 demo.prtip.lab ESMTP prtip demo\\r\\n' };
const http = 'HTTP/1.1 200 OK\\r\\nDate: Tue, 01 Dec 2026 00:00:00 GMT\\r\\nServer: prtip-demo/1.0\\r\\nContent-Type: text/html\\r\\nContent-Length: 25\\r\\nConnection: close\\r\\n\\r\\n<h1>prtip demo host</h1>\\n';
for (const p of ports) {
  net.createServer((s) => {
    s.on('error', () => {});
    setTimeout(() => s.destroy(), 30000).unref();
    if (greet[p]) s.end(greet[p]);
    else s.once('data', () => s.end(http));
  }).listen(p + offset, process.env.DEMO_BIND || '0.0.0.0');
}
process.stdout.write('ready\\n');
setInterval(() => {}, 1 << 30);
`;

function ip(args: string[], input?: string): void {
  execFileSync('ip', args, { stdio: ['pipe', 'ignore', 'pipe'], input });
}

export function canBuildNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface NamespaceLab {
  scannerNs: string;
  targetNs: string;
  teardown(): void;
}

/** The nftables rules of the target: the swept ports answer RST except where a service lives. */
function targetRules(): string {
  const pairs = Object.entries(DEMO_SERVICES).flatMap(([host, ports]) => ports.map((p) => `${host} . ${p}`));
  return `table inet prtip_demo {
  chain input {
    type filter hook input priority 0;
    ip daddr . tcp dport { ${pairs.join(', ')} } accept
    ip daddr ${DEMO_SWEEP} tcp dport { ${DEMO_PORTS.join(', ')} } reject with tcp reset
  }
}
`;
}

async function startListeners(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env });
  const ready = once(child.stdout!, 'data');
  const failed = once(child, 'exit').then(([code]) => { throw new Error(`demo listeners exited (${String(code)})`); });
  await Promise.race([ready, failed]);
  return child;
}

export async function buildNamespaceLab(): Promise<NamespaceLab> {
  const scannerNs = `prtip-demo-scan-${process.pid}`;
  const targetNs = `prtip-demo-tgt-${process.pid}`;
  let listener: ChildProcess | undefined;
  let done = false;
  const teardown = () => {
    if (done) return;
    done = true;
    listener?.kill('SIGKILL');
    for (const ns of [scannerNs, targetNs]) {
      try { ip(['netns', 'del', ns]); } catch { /* already gone */ }
    }
  };
  process.once('exit', teardown);
  try {
    ip(['netns', 'add', scannerNs]);
    ip(['netns', 'add', targetNs]);
    ip(['-n', scannerNs, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', targetNs]);
    for (const [ns, dev, addr] of [[scannerNs, 'veth0', DEMO_SCANNER], [targetNs, 'veth1', DEMO_GATEWAY]] as const) {
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    // Permanent neighbours: the first probes must not wait on ARP.
    const mac = (ns: string, dev: string) =>
      JSON.parse(execFileSync('ip', ['-j', '-n', ns, 'link', 'show', dev]).toString())[0].address as string;
    ip(['-n', scannerNs, 'neigh', 'replace', DEMO_GATEWAY, 'lladdr', mac(targetNs, 'veth1'), 'dev', 'veth0', 'nud', 'permanent']);
    ip(['-n', targetNs, 'neigh', 'replace', DEMO_SCANNER, 'lladdr', mac(scannerNs, 'veth0'), 'dev', 'veth1', 'nud', 'permanent']);
    // The /16: routed to the target namespace, which owns every address of it.
    ip(['-n', scannerNs, 'route', 'add', DEMO_SWEEP, 'via', DEMO_GATEWAY, 'dev', 'veth0']);
    ip(['-n', targetNs, 'route', 'add', 'local', DEMO_SWEEP, 'dev', 'lo']);
    execFileSync('ip', ['netns', 'exec', targetNs, 'sysctl', '-q', '-w', 'net.ipv4.icmp_ratelimit=0'], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'exec', targetNs, 'nft', '-f', '-'], { input: targetRules() });
    const ports = [...new Set(Object.values(DEMO_SERVICES).flat())].map(String);
    listener = await startListeners(['ip', 'netns', 'exec', targetNs, process.execPath, '-e', LISTENER_SCRIPT, '0', ...ports]);
    return { scannerNs, targetNs, teardown };
  } catch (err) {
    teardown();
    throw err;
  }
}

export interface LoopbackLab {
  /** Open ports on 127.0.0.1 and the service each speaks as. */
  open: Array<{ port: number; speaks: number }>;
  closed: number[];
  close(): void;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The demo's services on 127.0.0.1 (high ports: no root), and two closed ports beside them. */
export async function buildLoopbackLab(): Promise<LoopbackLab> {
  const speaks = [21, 22, 25, 80];
  // One offset for all, so port P listens on P + offset; retried if one of them is taken.
  for (let attempt = 0; ; attempt++) {
    const base = await freePort();
    const offset = Math.min(base, 60_000) - 21;
    try {
      const child = await startListeners([process.execPath, '-e', LISTENER_SCRIPT, String(offset), ...speaks.map(String)], { ...process.env, DEMO_BIND: '127.0.0.1' });
      const closed = [offset + 23, offset + 24];
      return { open: speaks.map((p) => ({ port: p + offset, speaks: p })), closed, close: () => child.kill('SIGKILL') };
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }
}
