// A routed lab for traceroute: four namespaces in a line, so probes cross real routers whose
// kernels decrement the TTL and answer ICMP time-exceeded.
//
//   scanner [198.18.20.1] ── [198.18.20.2] router1 [198.18.21.1] ── [198.18.21.2] router2 [198.18.22.1] ── [198.18.22.2] target
//                                                                                                   (+ 198.18.23.0/24 AnyIP)
//
// The scanner has routes to the lab's 198.18.20.0/22 through router1 only (no default route, no
// other link); every namespace routes only lab ranges. Routers forward (ip_forward=1) and do not
// rate-limit ICMP (icmp_ratelimit=0), so every expired probe gets its answer. Neighbour entries
// are permanent (no ARP). TCP listeners run in the target namespace. Namespaces are named like
// lab.ts's (prtip-scan-…, prtip-tgt-…) so leftover checks see them; teardown() deletes them.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parsePcap, type CapturedPacket } from './pcap.js';

export type RoutedNs = 'scanner' | 'router1' | 'router2' | 'target';

export interface RoutedLab {
  ns: Record<RoutedNs, string>;
  scanner: string;
  router1: string;
  router2: string;
  /** The target's address on its link, and an AnyIP address behind the same path. */
  target: string;
  targetAny: string;
  /** What each router's ICMP time-exceeded comes from (its address toward the scanner). */
  hops: [string, string];
  /** The same path over IPv6 (2001:2:20::/64 … 2001:2:22::/64, each link's ::1 and ::2). */
  v6: { scanner: string; target: string; hops: [string, string] };
  tmpDir: string;
  exec(argv: string[], opts?: { ns?: RoutedNs; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  spawn(argv: string[], ns: RoutedNs, stdio?: StdioOptions): ChildProcess;
  /** tcpdump on an interface of a namespace (router1's link from the scanner by default). */
  capture(filter: string, opts?: { ns?: RoutedNs; iface?: string }): Promise<{ stop(): Promise<CapturedPacket[]> }>;
  teardown(): Promise<void>;
}

let seq = 0;

function ip(ns: string, lines: string[]): void {
  const r = spawnSync('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`routed lab: ip -n ${ns}: ${r.stderr}`);
}

function sysctl(ns: string, settings: string[]): void {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`routed lab: sysctl in ${ns}: ${r.stderr}`);
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(-child.pid, sig); } catch { /* gone */ }
}

export async function createRoutedLab(opts: { tcpListeners?: number[] } = {}): Promise<RoutedLab> {
  const id = `${process.pid}-r${++seq}`;
  const ns: Record<RoutedNs, string> = { scanner: `prtip-scan-${id}`, router1: `prtip-tgt-${id}-a`, router2: `prtip-tgt-${id}-b`, target: `prtip-tgt-${id}` };
  const tmpDir = mkdtempSync(`/run/prtip-routed-${id}-`);
  const procs = new Set<ChildProcess>();
  const made: string[] = [];
  const teardown = async () => {
    for (const p of procs) killGroup(p, 'SIGKILL');
    for (const n of made.splice(0).reverse()) {
      const pids = spawnSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const pid of pids) try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      spawnSync('ip', ['netns', 'del', n]);
    }
    rmSync(tmpDir, { recursive: true, force: true });
  };
  const onExit = () => { for (const p of procs) killGroup(p, 'SIGKILL'); for (const n of made) spawnSync('ip', ['netns', 'del', n]); };
  process.once('exit', onExit);
  const mac = (link: number, end: number) => `02:00:c6:12:${(0x20 + link).toString(16)}:0${end}`;
  try {
    for (const n of Object.values(ns)) {
      const r = spawnSync('ip', ['netns', 'add', n], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`routed lab: netns add ${n}: ${r.stderr}`);
      made.push(n);
      ip(n, ['link set lo up']);
    }
    for (const n of [ns.router1, ns.router2]) sysctl(n, ['net.ipv4.ip_forward=1', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.icmp.ratelimit=0']);
    sysctl(ns.target, ['net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0']);
    // Links: 0 scanner–router1 (198.18.20.0/24), 1 router1–router2 (.21), 2 router2–target (.22).
    const links: Array<[string, string]> = [[ns.scanner, ns.router1], [ns.router1, ns.router2], [ns.router2, ns.target]];
    links.forEach(([a, b], k) => {
      const [ia, ib] = [`l${k}a`, `l${k}b`];
      ip(a, [`link add ${ia} address ${mac(k, 1)} type veth peer name ${ib} address ${mac(k, 2)} netns ${b}`, `addr add 198.18.${20 + k}.1/24 dev ${ia}`, `link set ${ia} up`, `neigh replace 198.18.${20 + k}.2 lladdr ${mac(k, 2)} nud permanent dev ${ia}`]);
      ip(b, [`addr add 198.18.${20 + k}.2/24 dev ${ib}`, `link set ${ib} up`, `neigh replace 198.18.${20 + k}.1 lladdr ${mac(k, 1)} nud permanent dev ${ib}`]);
      // IPv6 on the same links: no DAD, permanent neighbours (no NDP).
      ip(a, [`addr add 2001:2:${20 + k}::1/64 dev ${ia} nodad`, `neigh replace 2001:2:${20 + k}::2 lladdr ${mac(k, 2)} nud permanent dev ${ia}`]);
      ip(b, [`addr add 2001:2:${20 + k}::2/64 dev ${ib} nodad`, `neigh replace 2001:2:${20 + k}::1 lladdr ${mac(k, 1)} nud permanent dev ${ib}`]);
    });
    ip(ns.scanner, ['route add 2001:2:21::/64 via 2001:2:20::2 dev l0a', 'route add 2001:2:22::/64 via 2001:2:20::2 dev l0a']);
    ip(ns.router1, ['route add 2001:2:22::/64 via 2001:2:21::2 dev l1a']);
    ip(ns.router2, ['route add 2001:2:20::/64 via 2001:2:21::1 dev l1b']);
    ip(ns.target, ['route add 2001:2:20::/64 via 2001:2:22::1 dev l2b', 'route add 2001:2:21::/64 via 2001:2:22::1 dev l2b']);
    // scanner: l0a; router1: l0b (to scanner), l1a; router2: l1b, l2a; target: l2b.
    ip(ns.scanner, ['route add 198.18.21.0/24 via 198.18.20.2 dev l0a', 'route add 198.18.22.0/24 via 198.18.20.2 dev l0a', 'route add 198.18.23.0/24 via 198.18.20.2 dev l0a']);
    ip(ns.router1, ['route add 198.18.22.0/24 via 198.18.21.2 dev l1a', 'route add 198.18.23.0/24 via 198.18.21.2 dev l1a']);
    ip(ns.router2, ['route add 198.18.20.0/24 via 198.18.21.1 dev l1b', 'route add 198.18.23.0/24 via 198.18.22.2 dev l2a']);
    ip(ns.target, ['route add 198.18.20.0/24 via 198.18.22.1 dev l2b', 'route add 198.18.21.0/24 via 198.18.22.1 dev l2b', 'route add local 198.18.23.0/24 dev lo']);
  } catch (err) {
    await teardown();
    throw err;
  }
  const lab: RoutedLab = {
    ns, tmpDir,
    scanner: '198.18.20.1', router1: '198.18.20.2', router2: '198.18.21.2', target: '198.18.22.2', targetAny: '198.18.23.5',
    hops: ['198.18.20.2', '198.18.21.2'],
    v6: { scanner: '2001:2:20::1', target: '2001:2:22::2', hops: ['2001:2:20::2', '2001:2:21::2'] },
    exec(argv, o = {}) {
      return new Promise((resolve) => {
        const child = spawn('ip', ['netns', 'exec', ns[o.ns ?? 'scanner'], ...argv], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        procs.add(child);
        let stdout = '', stderr = '';
        child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
        child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), o.timeoutMs ?? 60_000);
        child.once('close', (code) => { clearTimeout(timer); procs.delete(child); resolve({ code, stdout, stderr }); });
      });
    },
    spawn(argv, n, stdio = 'ignore') {
      const child = spawn('ip', ['netns', 'exec', ns[n], ...argv], { detached: true, stdio });
      procs.add(child);
      child.once('exit', () => procs.delete(child));
      return child;
    },
    async capture(filter, o = {}) {
      const file = join(tmpDir, `capture-${++seq}.pcap`);
      const child = spawn('ip', ['netns', 'exec', ns[o.ns ?? 'router1'], 'tcpdump', '-i', o.iface ?? 'l0b', '-n', '-U', '--immediate-mode', '-Z', 'root', '-w', file, filter], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      procs.add(child);
      let err = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`routed lab: tcpdump did not start: ${err}`)), 10_000);
        child.stderr!.on('data', (c: Buffer) => { err += c.toString(); if (err.includes('listening on')) { clearTimeout(timer); resolve(); } });
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`routed lab: tcpdump exited ${code}: ${err}`)); });
      });
      return {
        async stop() {
          await new Promise((r) => setTimeout(r, 200));
          const gone = new Promise((r) => child.once('exit', r));
          killGroup(child, 'SIGINT');
          await gone;
          procs.delete(child);
          if (!existsSync(file)) throw new Error(`routed lab: no capture file: ${err}`);
          return parsePcap(readFileSync(file));
        },
      };
    },
    async teardown() {
      process.off('exit', onExit);
      await teardown();
    },
  };
  // Plain TCP listeners in the target namespace (they answer on the AnyIP range too).
  for (const port of opts.tcpListeners ?? [8080]) {
    lab.spawn([process.execPath, '-e', `require('net').createServer((s) => s.end()).listen(${port}, '0.0.0.0')`], 'target');
  }
  for (let i = 0; i < 100; i++) {
    const r = await lab.exec(['bash', '-c', `exec 3<>/dev/tcp/${lab.target}/${(opts.tcpListeners ?? [8080])[0] ?? 8080}`], { timeoutMs: 2000 });
    if (r.code === 0 || (opts.tcpListeners ?? [8080]).length === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return lab;
}
