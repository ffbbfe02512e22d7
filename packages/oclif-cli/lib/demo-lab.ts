/**
 * The demo's embedded target: as root, two network namespaces joined by a veth (the scanner side
 * has no other link and no default route, so no packet can leave the machine); without root,
 * listeners on loopback. Everything it builds it removes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';

export const DEMO_OPEN_PORTS = [22, 80, 443, 8080];
export const DEMO_FILTERED_PORT = 8443;
export const DEMO_TARGET = '198.18.0.2';
const DEMO_SCANNER = '198.18.0.1';

/** A tiny TCP service: greets like the service on that port would, then closes. */
export const LISTENER_SCRIPT = `
const net = require('net');
const banners = { 22: 'SSH-2.0-prtip_demo\\r\\n', 21: '220 prtip demo ftp\\r\\n' };
for (const p of process.argv.slice(1).map(Number)) {
  net.createServer((s) => { s.on('error', () => {}); s.end(banners[p] || ''); }).listen(p, '0.0.0.0');
}
process.stdout.write('ready\\n');
setInterval(() => {}, 1 << 30);
`;

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function canBuildNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface NamespaceLab {
  scannerNs: string;
  target: string;
  teardown(): void;
}

export async function buildNamespaceLab(): Promise<NamespaceLab> {
  const scannerNs = `prtip-demo-scan-${process.pid}`;
  const targetNs = `prtip-demo-tgt-${process.pid}`;
  let listener: ChildProcess | undefined;
  const teardown = () => {
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
    for (const [ns, dev, addr] of [[scannerNs, 'veth0', DEMO_SCANNER], [targetNs, 'veth1', DEMO_TARGET]] as const) {
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    // Permanent neighbours: the first probes must not wait on ARP.
    const mac = (ns: string, dev: string) =>
      JSON.parse(execFileSync('ip', ['-j', '-n', ns, 'link', 'show', dev]).toString())[0].address as string;
    ip(['-n', scannerNs, 'neigh', 'replace', DEMO_TARGET, 'lladdr', mac(targetNs, 'veth1'), 'dev', 'veth0', 'nud', 'permanent']);
    ip(['-n', targetNs, 'neigh', 'replace', DEMO_SCANNER, 'lladdr', mac(scannerNs, 'veth0'), 'dev', 'veth1', 'nud', 'permanent']);
    execFileSync('ip', ['netns', 'exec', targetNs, 'nft', '-f', '-'], {
      input: `table inet prtip_demo {\n  chain input {\n    type filter hook input priority 0;\n    tcp dport ${DEMO_FILTERED_PORT} drop\n  }\n}\n`,
    });
    listener = spawn('ip', ['netns', 'exec', targetNs, process.execPath, '-e', LISTENER_SCRIPT, ...DEMO_OPEN_PORTS.map(String)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(listener.stdout!, 'data');
    return { scannerNs, target: DEMO_TARGET, teardown };
  } catch (err) {
    teardown();
    throw err;
  }
}

export interface LoopbackLab {
  open: number[];
  closed: number[];
  close(): void;
}

/** Three listeners and two closed ports on 127.0.0.1 (closed ports: bound, then released). */
export async function buildLoopbackLab(): Promise<LoopbackLab> {
  const listen = async (): Promise<net.Server> => {
    const s = net.createServer((c) => { c.on('error', () => {}); c.end(); });
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  };
  const servers = await Promise.all([listen(), listen(), listen()]);
  const released = await Promise.all([listen(), listen()]);
  const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
  const closed = released.map(port);
  await Promise.all(released.map((s) => new Promise((r) => s.close(r))));
  return { open: servers.map(port), closed, close: () => servers.forEach((s) => s.close()) };
}
