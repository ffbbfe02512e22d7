// The test lab: a private two-namespace network for integration tests.
//
//   scanner ns  [lo] [veth-scan 198.18.0.1/24 2001:2::1/64] ──veth── [veth-tgt 198.18.0.2/24 2001:2::2/64] [lo]  target ns
//
// The scanner namespace has no default route and no link except its lo and the veth into the
// target namespace, so nothing a test runs there can reach any other network, even when the code
// under test is wrong. The veth is created inside the scanner namespace with its peer placed
// straight into the target namespace: the host's namespace is never touched. Only the benchmarking
// ranges 198.18.0.0/15 and 2001:2::/48 are used.
//
// The target namespace runs real Debian daemons (nginx, sshd, redis) and a plain node TCP listener,
// all bound to 0.0.0.0 / ::, with their state under a temp dir in /run. nftables makes chosen ports
// filtered and can drop a share of inbound packets. `tcpOpen` / `tcpFiltered` are the ground truth
// a scan result is compared with. `capture()` runs tcpdump in the target namespace and parses the
// pcap here (see pcap.ts) so tests can assert what went over the wire.
//
// Everything a lab starts is stopped by teardown(), which is also run (synchronously, best effort)
// on process exit and on SIGINT/SIGTERM.

import { spawn, spawnSync, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readdirSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatIPv6, parsePcap, type CapturedPacket } from './pcap.js';
import { prepareMariadb, prepareSnmpd } from './db-snmp-daemons.js';

export { parsePcap, describePacket, tcpFlagLetters, formatIPv4, formatIPv6, TCP_FLAGS } from './pcap.js';
export type { CapturedPacket, CapturedProto } from './pcap.js';

export type DaemonName =
  | 'nginx' | 'sshd' | 'redis'
  // service-detection targets: nginx with TLS on 443 (self-signed cert made at lab start), vsftpd,
  // postfix, memcached, postgresql, dnsmasq (DNS on UDP and TCP 53; replies from the asked address)
  | 'nginx-tls' | 'vsftpd' | 'postfix' | 'memcached' | 'postgresql' | 'dnsmasq'
  // script targets (db-snmp-daemons.ts): MariaDB 3306, snmpd on UDP 161 (and TCP 161)
  | 'mariadb' | 'snmpd';

export interface LabOptions {
  /** Real Debian daemons in the target namespace, bound to 0.0.0.0 and ::. Ports: nginx 80, sshd 22, redis 6379. */
  daemons?: DaemonName[];
  /** nftables in the target namespace drops inbound TCP to these ports (→ filtered). */
  filteredTcpPorts?: number[];
  /** nftables `numgen random mod 100 < N drop` on inbound packets from the veth in the target namespace. */
  lossPercent?: number;
  /** A range inside 198.18.0.0/15 (not 198.18.0.0/24) the target answers for entirely, e.g. '198.19.0.0/16'. */
  anyIpV4?: string;
  /** A range inside 2001:2::/48 (not 2001:2::/64) the target answers for entirely, e.g. '2001:2:0:100::/64'. */
  anyIpV6?: string;
  /** Plain TCP listeners (a node echo server) in the target namespace. Default [8080, 31337]; [] for none. */
  tcpListeners?: number[];
  /** Overall limit for daemons and listeners to accept connections. Default 20000 ms. */
  startTimeoutMs?: number;
}

export interface ExecOptions {
  /** Namespace to run in. Default 'scanner'. */
  ns?: 'scanner' | 'target';
  /** Kill the command's process group after this long. Default 30000 ms. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed (stdin is always closed). */
  input?: Buffer | string;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
}

export interface ExecResult {
  /** Exit code, or null when killed by a signal (including the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

export interface SpawnOptions {
  ns?: 'scanner' | 'target';
  env?: Record<string, string>;
  stdio?: StdioOptions;
}

export interface CaptureOptions {
  /** Namespace to capture in. Default 'target' (on the target veth). */
  ns?: 'scanner' | 'target';
  /** Snapshot length. Default 262144. */
  snaplen?: number;
  /** Interface to capture on, default the namespace's veth (e.g. a tun a test made). */
  iface?: string;
}

export interface Capture {
  /** The pcap file tcpdump writes (under the lab's temp dir, removed by teardown). */
  readonly file: string;
  /** Packets the kernel dropped before tcpdump read them (known after stop()). */
  readonly dropped: number | undefined;
  /** Waits settleMs (default 100) for packets in flight, stops tcpdump and parses its file. */
  stop(opts?: { settleMs?: number }): Promise<CapturedPacket[]>;
}

export interface Lab {
  scannerNs: string;
  targetNs: string;
  scannerV4: string;
  targetV4: string;
  scannerV6: string;
  targetV6: string;
  scannerIf: string;
  targetIf: string;
  scannerMac: string;
  targetMac: string;
  /** Normalised AnyIP ranges, when asked for. */
  anyIpV4?: string;
  anyIpV6?: string;
  /** Ground truth: TCP ports with a listener that the scanner can reach (daemons + plain listeners, minus filtered). Sorted. */
  tcpOpen: number[];
  /** Ground truth: TCP ports nftables drops. Sorted. Every other port in 1–65535 is closed (RST). */
  tcpFiltered: number[];
  /** Which port each requested daemon listens on. */
  daemonPorts: Partial<Record<DaemonName, number>>;
  /** UDP ports of requested daemons that answer on UDP (dnsmasq 53). Sorted. */
  udpOpen: number[];
  /** The lab's temp dir under /run (daemon state, pcaps). Removed by teardown. */
  tmpDir: string;
  /** Run a command (argv form, no shell) inside a namespace, scanner by default. Never rejects for a non-zero exit. */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Run an ES-module node script (`node --input-type=module -e script -- ...args`) inside a namespace. */
  execNode(script: string, args?: string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Start a long-running process in a namespace (own process group); teardown kills it if still
   * running. stdio defaults to 'ignore'; pass 'pipe' and read the streams if you want output.
   */
  spawn(argv: string[], opts?: SpawnOptions): ChildProcess;
  /** Start tcpdump (BPF filter) on the target veth, writing a pcap file; stop() returns the parsed packets. */
  capture(filter: string, opts?: CaptureOptions): Promise<Capture>;
  /** Stop everything the lab started and delete both namespaces and the temp dir. Idempotent. */
  teardown(): Promise<void>;
}

const SCANNER_V4 = '198.18.0.1';
const TARGET_V4 = '198.18.0.2';
const LINK_V4_PREFIX = 24;
const SCANNER_V6 = '2001:2::1';
const TARGET_V6 = '2001:2::2';
const LINK_V6_PREFIX = 64;
// Locally administered MACs, fixed so neighbour entries need no lookup. Each lab has its own
// namespaces, so parallel labs using the same values never meet.
const SCANNER_MAC = '02:00:c6:12:00:01';
const TARGET_MAC = '02:00:c6:12:00:02';
const SCANNER_IF = 'veth-scan';
const TARGET_IF = 'veth-tgt';
const DEFAULT_LISTENERS = [8080, 31337];
const DAEMON_PORTS: Record<DaemonName, number> = {
  nginx: 80, sshd: 22, redis: 6379,
  'nginx-tls': 443, vsftpd: 21, postfix: 25, memcached: 11211, postgresql: 5432, dnsmasq: 53,
  mariadb: 3306, snmpd: 161,
};
/** Daemons that also answer on UDP, and where. */
const DAEMON_UDP_PORTS: Partial<Record<DaemonName, number>> = { dnsmasq: 53, snmpd: 161 };
const STDERR_KEEP = 64 * 1024;

// ───────────────────────────── skip check ─────────────────────────────

let skipReasonCache: string | null | undefined;

/** Why the lab cannot run here, or undefined when it can (root, Linux, `ip netns` works). */
export function labSkipReason(): string | undefined {
  if (skipReasonCache !== undefined) return skipReasonCache ?? undefined;
  skipReasonCache = computeSkipReason() ?? null;
  return skipReasonCache ?? undefined;
}

function computeSkipReason(): string | undefined {
  const needRoot = 'needs root (CAP_NET_ADMIN) to build network namespaces';
  if (process.platform !== 'linux') return `${needRoot}; network namespaces need Linux`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return needRoot;
  const probe = `prtip-probe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } catch (e) {
    return `${needRoot}: \`ip netns add\` failed (${firstLine(errText(e))})`;
  }
  try {
    execFileSync('ip', ['netns', 'del', probe], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } catch {
    /* best effort */
  }
  return undefined;
}

// ───────────────────────────── address checks ─────────────────────────────

function parseV4(a: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) throw new Error(`lab: bad IPv4 address ${JSON.stringify(a)}`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new Error(`lab: bad IPv4 address ${JSON.stringify(a)}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function parseV6(a: string): bigint {
  if (!/^[0-9a-fA-F:]+$/.test(a) || a.split('::').length > 2) throw new Error(`lab: bad IPv6 address ${JSON.stringify(a)}`);
  const [head, tail] = a.split('::') as [string, string | undefined];
  const hg = head ? head.split(':') : [];
  const tg = tail ? tail.split(':') : [];
  const missing = 8 - hg.length - tg.length;
  if ((tail === undefined && missing !== 0) || (tail !== undefined && missing < 1)) {
    throw new Error(`lab: bad IPv6 address ${JSON.stringify(a)}`);
  }
  const groups = [...hg, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tg];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`lab: bad IPv6 address ${JSON.stringify(a)}`);
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

function formatV6(v: bigint): string {
  const b = Buffer.alloc(16);
  for (let i = 15; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return formatIPv6(b, 0);
}

/** Checks an AnyIP range lies inside the lab range and off the veth link; returns it normalised. */
export function checkAnyIpV4(cidr: string): string {
  const [addr, lenText, extra] = cidr.split('/');
  const len = Number(lenText);
  if (extra !== undefined || lenText === undefined || !/^\d+$/.test(lenText) || len > 32) {
    throw new Error(`lab: anyIpV4 must be a CIDR (a.b.c.d/len) inside 198.18.0.0/15, got ${JSON.stringify(cidr)}`);
  }
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0; // (x << 32) is x in JS
  const net = (parseV4(addr!) & mask) >>> 0;
  const labNet = parseV4('198.18.0.0');
  const labMask = (0xffffffff << 17) >>> 0;
  if (len < 15 || ((net & labMask) >>> 0) !== labNet) {
    throw new Error(`lab: anyIpV4 ${cidr} is outside 198.18.0.0/15 — the lab only uses the benchmarking range`);
  }
  const linkMask = (0xffffffff << (32 - LINK_V4_PREFIX)) >>> 0;
  const overlaps = ((net & linkMask) >>> 0) === ((parseV4(SCANNER_V4) & linkMask) >>> 0) || ((parseV4(SCANNER_V4) & mask) >>> 0) === net;
  if (overlaps) throw new Error(`lab: anyIpV4 ${cidr} overlaps the veth link 198.18.0.0/${LINK_V4_PREFIX}`);
  return `${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join('.')}/${len}`;
}

export function checkAnyIpV6(cidr: string): string {
  const [addr, lenText, extra] = cidr.split('/');
  const len = Number(lenText);
  if (extra !== undefined || lenText === undefined || !/^\d+$/.test(lenText) || len > 128) {
    throw new Error(`lab: anyIpV6 must be a CIDR (addr/len) inside 2001:2::/48, got ${JSON.stringify(cidr)}`);
  }
  const all = (1n << 128n) - 1n;
  const maskOf = (l: number) => (all << BigInt(128 - l)) & all;
  const net = parseV6(addr!) & maskOf(len);
  if (len < 48 || (net & maskOf(48)) !== parseV6('2001:2::')) {
    throw new Error(`lab: anyIpV6 ${cidr} is outside 2001:2::/48 — the lab only uses the benchmarking range`);
  }
  if ((net & maskOf(LINK_V6_PREFIX)) === (parseV6(SCANNER_V6) & maskOf(LINK_V6_PREFIX))) {
    throw new Error(`lab: anyIpV6 ${cidr} overlaps the veth link 2001:2::/${LINK_V6_PREFIX}`);
  }
  return `${formatV6(net)}/${len}`;
}

function checkPorts(what: string, ports: number[]): number[] {
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`lab: ${what}: bad port ${p}`);
  }
  return [...new Set(ports)].sort((a, b) => a - b);
}

// ───────────────────────────── process helpers ─────────────────────────────

function errText(e: unknown): string {
  const err = e as { stderr?: Buffer | string; message?: string };
  const s = err?.stderr ? err.stderr.toString().trim() : '';
  return s || String(err?.message ?? e);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* group already gone */
  }
}

function childExited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}

function waitExit(c: ChildProcess, ms: number): Promise<boolean> {
  if (childExited(c)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    c.once('exit', onExit);
  });
}

/** Keep the last STDERR_KEEP chars of a stream. */
function tailCollector(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.on('data', (d: Buffer) => {
    text += d.toString();
    if (text.length > STDERR_KEEP) text = text.slice(-STDERR_KEEP);
  });
  return () => text;
}

interface RunOptions {
  timeoutMs?: number;
  input?: Buffer | string;
  env?: Record<string, string>;
}

/** Run argv (no shell) as its own process group; never rejects for exit status, kills the group on timeout. */
function run(argv: string[], opts: RunOptions = {}, track?: Set<ChildProcess>): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
    track?.add(child);
    const out: Buffer[] = [];
    let err = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin!.on('error', () => {
      /* command did not read its stdin */
    });
    child.stdin!.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      track?.delete(child);
      reject(new Error(`lab: cannot run ${argv[0]}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      track?.delete(child);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err, timedOut });
    });
  });
}

/** run() that throws with the command's stderr on failure — for lab plumbing. */
async function must(argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs ?? 30_000} ms` : `exit ${r.code ?? r.signal}`;
    throw new Error(`lab: \`${argv.join(' ')}\` failed (${why}): ${r.stderr.trim()}`);
  }
  return r;
}

function nsPidsSync(ns: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return out.toString().split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
  } catch {
    return [];
  }
}

// ───────────────────────────── scripts run inside the namespaces ─────────────────────────────

// A plain TCP echo server on every given port, dual stack (:: with ipv6Only off).
const LISTENER_JS = `
import net from 'node:net';
const ports = process.argv.slice(2).map(Number);
for (const port of ports) {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    s.setTimeout(60000, () => s.destroy());
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
  });
  srv.on('error', (e) => { console.error('listener ' + port + ': ' + e.message); process.exit(1); });
  srv.listen({ port, host: '::', ipv6Only: false, backlog: 4096 }, () => console.log('listening ' + port));
}
`;

// Waits until every port accepts on 127.0.0.1 and ::1; prints each ready port; exit 1 on deadline.
const WAIT_PORTS_JS = `
import net from 'node:net';
const [deadlineMs, ...ports] = process.argv.slice(2).map(Number);
const end = Date.now() + deadlineMs;
const pending = new Set(ports);
const tryOne = (host, port) => new Promise((res) => {
  const s = net.connect({ host, port });
  const done = (ok) => { s.destroy(); res(ok); };
  s.once('connect', () => done(true));
  s.once('error', () => done(false));
  s.setTimeout(1000, () => done(false));
});
while (pending.size > 0 && Date.now() < end) {
  await Promise.all([...pending].map(async (p) => {
    const ok = (await tryOne('127.0.0.1', p)) && (await tryOne('::1', p));
    if (ok) { pending.delete(p); console.log(p); }
  }));
  if (pending.size > 0) await new Promise((r) => setTimeout(r, 50));
}
if (pending.size > 0) { console.error('not ready: ' + [...pending].join(' ')); process.exit(1); }
`;

// ───────────────────────────── daemons ─────────────────────────────

interface Started {
  name: string;
  port?: number;
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
}

let nginxTempDirectives: string[] | undefined;

function nginxTempPathModules(): string[] {
  if (nginxTempDirectives) return nginxTempDirectives;
  // `nginx -V` prints its configure arguments on stderr; nginx-light may lack some modules, and
  // naming a temp path for a module that is not built in is a config error.
  const r = spawnSync('nginx', ['-V'], { encoding: 'utf8', timeout: 10_000 });
  const v = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  nginxTempDirectives = ['fastcgi', 'uwsgi', 'scgi', 'proxy'].filter((m) => !v.includes(`--without-http_${m}_module`));
  return nginxTempDirectives;
}

function nginxConfig(dir: string): string {
  const temps = ['client_body', ...nginxTempPathModules()]
    .map((m) => `  ${m}_temp_path ${join(dir, 'temp', m)};`)
    .join('\n');
  return `# prtip test lab — generated
daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
${temps}
  default_type text/html;
  server {
    listen 80 default_server;
    listen [::]:80 default_server;
    server_name prtip-lab;
    root ${join(dir, 'www')};
    location / { index index.html; }
  }
}
`;
}

/** The newest installed PostgreSQL server's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
function postgresBin(): string {
  const majors = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((d) => /^\d+$/.test(d) && existsSync(`/usr/lib/postgresql/${d}/bin/postgres`)).map(Number)
    : [];
  if (majors.length === 0) throw new Error('lab: postgresql is not installed (apt-get install postgresql)');
  return `/usr/lib/postgresql/${Math.max(...majors)}/bin`;
}

async function prepareDaemon(name: DaemonName, tmp: string): Promise<string[]> {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  switch (name) {
    case 'nginx': {
      mkdirSync(join(dir, 'www'), { recursive: true, mode: 0o755 });
      mkdirSync(join(dir, 'temp'), { recursive: true, mode: 0o755 });
      writeFileSync(
        join(dir, 'www', 'index.html'),
        '<!doctype html>\n<html><head><title>prtip lab</title></head><body><h1>prtip lab nginx</h1></body></html>\n',
        { mode: 0o644 },
      );
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, nginxConfig(dir));
      return ['nginx', '-e', 'stderr', '-p', dir + '/', '-c', conf];
    }
    case 'sshd': {
      // sshd's privilege separation directory; shared with the system sshd, so created if missing and left in place.
      if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
      const keys = ['ed25519', 'ecdsa', 'rsa'].map((t) => join(dir, `ssh_host_${t}_key`));
      await Promise.all(
        ['ed25519', 'ecdsa', 'rsa'].map((t, i) => must(['ssh-keygen', '-q', '-t', t, '-N', '', '-C', 'prtip-lab', '-f', keys[i]!], { timeoutMs: 30_000 })),
      );
      const conf = join(dir, 'sshd_config');
      writeFileSync(
        conf,
        [
          '# prtip test lab — generated',
          'Port 22',
          'ListenAddress 0.0.0.0',
          'ListenAddress ::',
          ...keys.map((k) => `HostKey ${k}`),
          `PidFile ${join(dir, 'sshd.pid')}`,
          'UsePAM no',
          'PermitRootLogin no',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          // publickey is offered (scripts list it), but no key is ever accepted: AuthorizedKeysFile none
          'PubkeyAuthentication yes',
          'AuthorizedKeysFile none',
          'StrictModes no',
          'UseDNS no',
          'MaxStartups 1000:30:2000',
          'LoginGraceTime 30',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      return ['/usr/sbin/sshd', '-D', '-e', '-f', conf, '-p', '22'];
    }
    case 'nginx-tls': {
      mkdirSync(join(dir, 'www'), { recursive: true, mode: 0o755 });
      mkdirSync(join(dir, 'temp'), { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, 'www', 'index.html'), '<!doctype html>\n<html><head><title>prtip lab tls</title></head><body>tls</body></html>\n', { mode: 0o644 });
      const crt = join(dir, 'lab.crt');
      const key = join(dir, 'lab.key');
      await must(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '30',
        '-subj', '/CN=prtip-lab/O=prtip test lab', '-addext', `subjectAltName=DNS:prtip-lab,IP:${TARGET_V4}`], { timeoutMs: 30_000 });
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, nginxConfig(dir)
        .replace('listen 80 default_server;', 'listen 443 ssl default_server;')
        .replace('listen [::]:80 default_server;', `listen [::]:443 ssl default_server;\n    ssl_certificate ${crt};\n    ssl_certificate_key ${key};`));
      return ['nginx', '-e', 'stderr', '-p', dir + '/', '-c', conf];
    }
    case 'vsftpd': {
      const empty = join(dir, 'empty');
      mkdirSync(empty, { recursive: true, mode: 0o555 });
      const conf = join(dir, 'vsftpd.conf');
      writeFileSync(conf, [
        '# prtip test lab — generated',
        'listen=NO', 'listen_ipv6=YES', 'listen_port=21', 'background=NO',
        'anonymous_enable=NO', 'local_enable=NO', 'write_enable=NO',
        `secure_chroot_dir=${empty}`, 'xferlog_enable=NO', 'vsftpd_log_file=/dev/null',
        'isolate=NO', 'isolate_network=NO', 'seccomp_sandbox=NO', 'max_per_ip=0', 'max_clients=0', '',
      ].join('\n'), { mode: 0o600 });
      return ['/usr/sbin/vsftpd', conf];
    }
    case 'postfix': {
      const etc = join(dir, 'etc');
      const spool = join(dir, 'spool');
      const data = join(dir, 'lib');
      for (const d of [etc, spool, data]) mkdirSync(d, { recursive: true, mode: 0o755 });
      execFileSync('chown', ['postfix', data]);
      writeFileSync(join(etc, 'master.cf'), readFileSync('/etc/postfix/master.cf'));
      // postfix-script refuses to start without the dynamic map registry next to main.cf.
      for (const f of ['dynamicmaps.cf', 'dynamicmaps.cf.d']) {
        if (existsSync(join('/etc/postfix', f))) cpSync(join('/etc/postfix', f), join(etc, f), { recursive: true });
      }
      writeFileSync(join(etc, 'main.cf'), [
        '# prtip test lab — generated',
        'compatibility_level = 3.6',
        `queue_directory = ${spool}`,
        `data_directory = ${data}`,
        'myhostname = prtip-lab.test',
        'mydestination =',
        'relay_domains =',
        'mynetworks = 127.0.0.0/8',
        'inet_interfaces = all',
        'inet_protocols = all',
        `maillog_file = ${join(dir, 'maillog')}`,
        `maillog_file_prefixes = /var, /dev/stdout, ${dir}`,
        'smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)',
        '',
      ].join('\n'));
      await run(['postfix', '-c', etc, 'set-permissions'], { timeoutMs: 30_000 });
      return ['/usr/lib/postfix/sbin/master', '-c', etc, '-d'];
    }
    case 'memcached':
      return ['memcached', '-u', 'memcache', '-l', '0.0.0.0,[::]', '-p', '11211', '-U', '0', '-P', join(dir, 'memcached.pid')];
    case 'postgresql': {
      const data = join(dir, 'data');
      execFileSync('chown', ['postgres', dir]);
      const bin = postgresBin();
      await must(['runuser', '-u', 'postgres', '--', join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], { timeoutMs: 60_000 });
      return ['runuser', '-u', 'postgres', '--', join(bin, 'postgres'), '-D', data,
        '-c', "listen_addresses=*", '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', '-c', 'logging_collector=off'];
    }
    case 'dnsmasq':
      // Bound to the wildcard address, dnsmasq answers from the address it was asked on (IP_PKTINFO).
      return ['dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=53', '--no-resolv', '--no-hosts',
        '--address=/lab.test/198.18.0.2', `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--user=nobody', '--group=nogroup', '--log-facility=-'];
    case 'mariadb': return prepareMariadb(dir);
    case 'snmpd': return prepareSnmpd(dir);
    case 'redis':
      return [
        'redis-server',
        '--port', '6379',
        '--bind', '0.0.0.0', '::',
        '--save', '',
        '--appendonly', 'no',
        '--dir', dir,
        '--protected-mode', 'no',
        '--daemonize', 'no',
        '--logfile', '',
        '--pidfile', join(dir, 'redis.pid'),
      ];
  }
}

interface Plan {
  daemons: DaemonName[];
  listeners: number[];
  filtered: number[];
  loss: number;
  anyIpV4?: string;
  anyIpV6?: string;
}

/** Validate options before anything is built. */
function plan(opts: LabOptions): Plan {
  const daemons = [...new Set(opts.daemons ?? [])];
  for (const d of daemons) if (!(d in DAEMON_PORTS)) throw new Error(`lab: unknown daemon ${JSON.stringify(d)}`);
  const listeners = checkPorts('tcpListeners', opts.tcpListeners ?? DEFAULT_LISTENERS);
  const filtered = checkPorts('filteredTcpPorts', opts.filteredTcpPorts ?? []);
  const loss = opts.lossPercent ?? 0;
  if (!Number.isInteger(loss) || loss < 0 || loss > 100) throw new Error(`lab: lossPercent must be an integer 0–100, got ${loss}`);
  const clash = listeners.filter((p) => daemons.some((d) => DAEMON_PORTS[d] === p));
  if (clash.length) throw new Error(`lab: tcpListeners ${clash.join(',')} clash with daemon ports`);
  return {
    daemons,
    listeners,
    filtered,
    loss,
    anyIpV4: opts.anyIpV4 !== undefined ? checkAnyIpV4(opts.anyIpV4) : undefined,
    anyIpV6: opts.anyIpV6 !== undefined ? checkAnyIpV6(opts.anyIpV6) : undefined,
  };
}

// ───────────────────────────── the lab ─────────────────────────────

let instanceCounter = 0;
const liveLabs = new Set<LabImpl>();
let hooksInstalled = false;

function onSignal(sig: NodeJS.Signals): void {
  for (const lab of liveLabs) lab.teardownSync();
  uninstallHooks();
  // Re-raise so the default action (or other handlers such as tap's) still ends the process.
  process.kill(process.pid, sig);
}
const onSigint = () => onSignal('SIGINT');
const onSigterm = () => onSignal('SIGTERM');
const onExit = () => {
  for (const lab of liveLabs) lab.teardownSync();
};

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
}

function uninstallHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', onExit);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
}

class LabImpl implements Lab {
  scannerNs: string;
  targetNs: string;
  scannerV4 = SCANNER_V4;
  targetV4 = TARGET_V4;
  scannerV6 = SCANNER_V6;
  targetV6 = TARGET_V6;
  scannerIf = SCANNER_IF;
  targetIf = TARGET_IF;
  scannerMac = SCANNER_MAC;
  targetMac = TARGET_MAC;
  anyIpV4?: string;
  anyIpV6?: string;
  tcpOpen: number[] = [];
  tcpFiltered: number[] = [];
  daemonPorts: Partial<Record<DaemonName, number>> = {};
  udpOpen: number[] = [];
  tmpDir: string;

  /** Namespaces that exist (created by us). */
  private namespaces: string[] = [];
  /** Long-running children: daemons, listeners, captures, spawn(). */
  private procs = new Set<ChildProcess>();
  /** exec() children still running. */
  private execs = new Set<ChildProcess>();
  private tearingDown: Promise<void> | undefined;
  private captureSeq = 0;

  constructor(id: string) {
    this.scannerNs = `prtip-scan-${id}`;
    this.targetNs = `prtip-tgt-${id}`;
    this.tmpDir = mkdtempSync(`/run/prtip-lab-${id}-`);
    // Daemon workers (nginx runs them as nobody) must read the files below.
    chmodSync(this.tmpDir, 0o755);
  }

  private nsName(which: 'scanner' | 'target' | undefined): string {
    return which === 'target' ? this.targetNs : this.scannerNs;
  }

  private checkAlive(): void {
    if (this.tearingDown) throw new Error('lab: already torn down');
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.checkAlive();
    if (argv.length === 0) throw new Error('lab.exec: empty argv');
    return run(['ip', 'netns', 'exec', this.nsName(opts.ns), ...argv], opts, this.execs);
  }

  execNode(script: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec([process.execPath, '--input-type=module', '-e', script, '--', ...args], opts);
  }

  spawn(argv: string[], opts: SpawnOptions = {}): ChildProcess {
    this.checkAlive();
    if (argv.length === 0) throw new Error('lab.spawn: empty argv');
    const child = spawn('ip', ['netns', 'exec', this.nsName(opts.ns), ...argv], {
      detached: true,
      stdio: opts.stdio ?? 'ignore',
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
    this.procs.add(child);
    child.once('exit', () => this.procs.delete(child));
    child.on('error', () => this.procs.delete(child));
    return child;
  }

  /** Start a lab-owned background process; its stdio is drained and it does not hold the event loop. */
  private startBackground(name: string, ns: string, argv: string[], port?: number): Started {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: this.tmpDir,
    });
    this.procs.add(child);
    const stderr = tailCollector(child.stderr);
    const stdout = tailCollector(child.stdout);
    child.once('exit', () => this.procs.delete(child));
    child.on('error', () => this.procs.delete(child));
    // A forgotten teardown must not keep the test process alive: the exit hook cleans up.
    child.unref();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    return { name, port, child, stderr, stdout };
  }

  async build(plan: Plan, startTimeoutMs: number): Promise<void> {
    const { daemons, listeners, filtered, loss } = plan;
    this.anyIpV4 = plan.anyIpV4;
    this.anyIpV6 = plan.anyIpV6;
    const daemonPorts = daemons.map((d) => DAEMON_PORTS[d]);
    for (const d of daemons) this.daemonPorts[d] = DAEMON_PORTS[d];
    this.udpOpen = [...new Set(daemons.flatMap((d) => (DAEMON_UDP_PORTS[d] !== undefined ? [DAEMON_UDP_PORTS[d]!] : [])))].sort((a, b) => a - b);

    // Key generation and config writing overlap with the network plumbing.
    const prepared = Promise.all(daemons.map(async (d) => [d, await prepareDaemon(d, this.tmpDir)] as const));
    prepared.catch(() => {});

    // 1. namespaces
    for (const ns of [this.scannerNs, this.targetNs]) {
      await must(['ip', 'netns', 'add', ns]);
      this.namespaces.push(ns);
    }
    // 2. sysctls before links exist, so per-device defaults apply to the veth ends: no DAD, no RA/RS noise.
    const v6quiet = [
      'net.ipv6.conf.all.accept_ra=0',
      'net.ipv6.conf.default.accept_ra=0',
      'net.ipv6.conf.default.accept_dad=0',
      'net.ipv6.conf.default.router_solicitations=0',
    ];
    await Promise.all([
      must(['ip', 'netns', 'exec', this.scannerNs, 'sysctl', '-q', '-w', ...v6quiet]),
      must(['ip', 'netns', 'exec', this.targetNs, 'sysctl', '-q', '-w', ...v6quiet, 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0']),
    ]);
    // The global ICMP budget is per namespace on recent kernels only: raise it where it exists.
    await run(['ip', 'netns', 'exec', this.targetNs, 'sysctl', '-q', '-e', '-w', 'net.ipv4.icmp_msgs_per_sec=1000000', 'net.ipv4.icmp_msgs_burst=1000000']);

    // 3. the veth, created in the scanner namespace with its peer placed directly in the target namespace.
    const scannerBatch = [
      `link add ${SCANNER_IF} address ${SCANNER_MAC} type veth peer name ${TARGET_IF} address ${TARGET_MAC} netns ${this.targetNs}`,
      'link set lo up',
      `addr add ${SCANNER_V4}/${LINK_V4_PREFIX} dev ${SCANNER_IF}`,
      `addr add ${SCANNER_V6}/${LINK_V6_PREFIX} dev ${SCANNER_IF} nodad`,
      `link set ${SCANNER_IF} up`,
      `neigh replace ${TARGET_V4} lladdr ${TARGET_MAC} nud permanent dev ${SCANNER_IF}`,
      `neigh replace ${TARGET_V6} lladdr ${TARGET_MAC} nud permanent dev ${SCANNER_IF}`,
      ...(this.anyIpV4 ? [`route add ${this.anyIpV4} via ${TARGET_V4} dev ${SCANNER_IF}`] : []),
      ...(this.anyIpV6 ? [`route add ${this.anyIpV6} via ${TARGET_V6} dev ${SCANNER_IF}`] : []),
    ];
    await must(['ip', '-n', this.scannerNs, '-batch', '-'], { input: scannerBatch.join('\n') + '\n' });
    const targetBatch = [
      'link set lo up',
      `addr add ${TARGET_V4}/${LINK_V4_PREFIX} dev ${TARGET_IF}`,
      `addr add ${TARGET_V6}/${LINK_V6_PREFIX} dev ${TARGET_IF} nodad`,
      `link set ${TARGET_IF} up`,
      `neigh replace ${SCANNER_V4} lladdr ${SCANNER_MAC} nud permanent dev ${TARGET_IF}`,
      `neigh replace ${SCANNER_V6} lladdr ${SCANNER_MAC} nud permanent dev ${TARGET_IF}`,
      ...(this.anyIpV4 ? [`route add local ${this.anyIpV4} dev lo`] : []),
      ...(this.anyIpV6 ? [`route add local ${this.anyIpV6} dev lo`] : []),
    ];
    await must(['ip', '-n', this.targetNs, '-batch', '-'], { input: targetBatch.join('\n') + '\n' });

    // 4. nftables: filtered ports and random loss, only for packets arriving on the veth
    //    (so readiness checks over lo are never dropped).
    if (filtered.length > 0 || loss > 0) {
      const rules = [
        'table inet prtip_lab {',
        '  chain input {',
        '    type filter hook input priority -10; policy accept;',
        ...(loss >= 100
          ? [`    iifname "${TARGET_IF}" counter drop comment "loss 100%"`]
          : loss > 0
            ? [`    iifname "${TARGET_IF}" numgen random mod 100 < ${loss} counter drop comment "loss ${loss}%"`]
            : []),
        ...(filtered.length > 0 ? [`    iifname "${TARGET_IF}" tcp dport { ${filtered.join(', ')} } counter drop`] : []),
        '  }',
        '}',
      ];
      await must(['ip', 'netns', 'exec', this.targetNs, 'nft', '-f', '-'], { input: rules.join('\n') + '\n' });
    }

    // 5. listeners and daemons
    const started: Started[] = [];
    if (listeners.length > 0) {
      const script = join(this.tmpDir, 'listeners.mjs');
      writeFileSync(script, LISTENER_JS, { mode: 0o644 });
      started.push(this.startBackground(`node listener (${listeners.join(',')})`, this.targetNs, [process.execPath, script, ...listeners.map(String)]));
    }
    for (const [d, argv] of await prepared) {
      started.push(this.startBackground(d, this.targetNs, argv, DAEMON_PORTS[d]));
    }
    const allPorts = [...daemonPorts, ...listeners];
    if (allPorts.length > 0) await this.waitReady(started, allPorts, startTimeoutMs);

    const filteredSet = new Set(filtered);
    this.tcpOpen = [...new Set(allPorts)].filter((p) => !filteredSet.has(p)).sort((a, b) => a - b);
    this.tcpFiltered = filtered;
  }

  private async waitReady(started: Started[], ports: number[], timeoutMs: number): Promise<void> {
    const script = join(this.tmpDir, 'wait-ports.mjs');
    writeFileSync(script, WAIT_PORTS_JS, { mode: 0o644 });
    const waiter = run(['ip', 'netns', 'exec', this.targetNs, process.execPath, script, String(timeoutMs), ...ports.map(String)], {
      timeoutMs: timeoutMs + 5_000,
    }, this.execs);
    const describe = (s: Started) => {
      const c = s.child;
      const status = childExited(c) ? `exited (${c.exitCode ?? c.signalCode})` : 'running but not accepting';
      const err = (s.stderr() + s.stdout()).trim().split('\n').slice(-15).join('\n  ');
      return `${s.name}${s.port ? ` (port ${s.port})` : ''} ${status}; output:\n  ${err || '(none)'}`;
    };
    // Fail fast when a daemon dies during start-up.
    const died = new Promise<Started>((resolve) => {
      for (const s of started) {
        if (childExited(s.child)) resolve(s);
        s.child.once('exit', () => resolve(s));
        s.child.once('error', () => resolve(s));
      }
    });
    const first = await Promise.race([waiter.then((r) => ({ kind: 'waiter' as const, r })), died.then((s) => ({ kind: 'died' as const, s }))]);
    if (first.kind === 'died') {
      await sleep(50); // let its last stderr arrive
      throw new Error(`lab: ${describe(first.s)}`);
    }
    if (first.r.code !== 0) {
      const ready = new Set(first.r.stdout.toString().split('\n').filter(Boolean).map(Number));
      const bad = started.filter((s) => childExited(s.child) || (s.port !== undefined && !ready.has(s.port)));
      const list = bad.length ? bad : started;
      throw new Error(
        `lab: listeners not accepting connections within ${timeoutMs} ms (${first.r.stderr.trim()}):\n` + list.map(describe).join('\n'),
      );
    }
  }

  async capture(filter: string, opts: CaptureOptions = {}): Promise<Capture> {
    this.checkAlive();
    const ns = this.nsName(opts.ns ?? 'target');
    const iface = opts.iface ?? ((opts.ns ?? 'target') === 'target' ? TARGET_IF : SCANNER_IF);
    // The .pcap suffix keeps Debian's AppArmor profile for tcpdump happy; -Z root keeps it able to write here.
    const file = join(this.tmpDir, `capture-${++this.captureSeq}.pcap`);
    const argv = ['tcpdump', '-i', iface, '-n', '-U', '--immediate-mode', '-s', String(opts.snaplen ?? 262144), '-Z', 'root', '-w', file];
    if (filter.trim()) argv.push(filter);
    const s = this.startBackground(`tcpdump ${filter}`, ns, argv);
    // tcpdump prints "listening on …" once the socket is bound and the filter installed.
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (e?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.child.stderr?.off('data', onData);
        if (e) reject(e);
        else resolve();
      };
      const onData = () => {
        if (s.stderr().includes('listening on')) finish();
      };
      const timer = setTimeout(() => {
        killGroup(s.child.pid!, 'SIGKILL');
        finish(new Error(`lab: tcpdump did not start within 10 s: ${s.stderr().trim()}`));
      }, 10_000);
      s.child.stderr?.on('data', onData);
      s.child.once('exit', (code) => finish(new Error(`lab: tcpdump exited (${code}) with filter ${JSON.stringify(filter)}: ${s.stderr().trim()}`)));
      s.child.once('error', (e) => finish(new Error(`lab: cannot start tcpdump: ${e.message}`)));
      onData();
    });
    let stopping: Promise<CapturedPacket[]> | undefined;
    let dropped: number | undefined;
    return {
      file,
      get dropped() {
        return dropped;
      },
      stop: (stopOpts: { settleMs?: number } = {}) => {
        stopping ??= (async () => {
          await sleep(stopOpts.settleMs ?? 100);
          if (!childExited(s.child)) {
            killGroup(s.child.pid!, 'SIGINT'); // SIGINT: tcpdump flushes and writes its stats
            if (!(await waitExit(s.child, 5_000))) {
              killGroup(s.child.pid!, 'SIGKILL');
              await waitExit(s.child, 2_000);
            }
          }
          const m = /(\d+) packets? dropped by kernel/.exec(s.stderr());
          dropped = m ? Number(m[1]) : undefined;
          if (!existsSync(file)) throw new Error(`lab: tcpdump wrote no file: ${s.stderr().trim()}`);
          return parsePcap(readFileSync(file));
        })();
        return stopping;
      },
    };
  }

  teardown(): Promise<void> {
    this.tearingDown ??= this.doTeardown();
    return this.tearingDown;
  }

  private async doTeardown(): Promise<void> {
    const children = [...this.procs, ...this.execs].filter((c) => c.pid !== undefined && !childExited(c));
    for (const c of children) killGroup(c.pid!, 'SIGTERM');
    await Promise.all(
      children.map(async (c) => {
        if (!(await waitExit(c, 3_000))) {
          killGroup(c.pid!, 'SIGKILL');
          await waitExit(c, 2_000);
        }
      }),
    );
    // Anything else still inside our namespaces was started there by the lab or its callers
    // (e.g. a daemon that forked into its own session): these namespaces are ours alone.
    for (let round = 0; round < 20; round++) {
      const left = this.namespaces.flatMap((ns) => nsPidsSync(ns));
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await sleep(50);
    }
    const errors: string[] = [];
    for (const ns of [...this.namespaces].reverse()) {
      const r = await run(['ip', 'netns', 'del', ns], { timeoutMs: 10_000 });
      if (r.code !== 0 && !/No such file/.test(r.stderr)) errors.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }
    this.namespaces = [];
    try {
      rmSync(this.tmpDir, { recursive: true, force: true });
    } catch (e) {
      errors.push(`rm ${this.tmpDir}: ${errText(e)}`);
    }
    liveLabs.delete(this);
    if (liveLabs.size === 0) uninstallHooks();
    if (errors.length) throw new Error(`lab teardown: ${errors.join('; ')}`);
  }

  /** Synchronous best-effort cleanup for process exit and signals. */
  teardownSync(): void {
    for (const c of [...this.procs, ...this.execs]) if (c.pid !== undefined && !childExited(c)) killGroup(c.pid, 'SIGKILL');
    for (const ns of this.namespaces) {
      for (const pid of nsPidsSync(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const ns of this.namespaces) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
      } catch {
        /* best effort */
      }
    }
    this.namespaces = [];
    try {
      rmSync(this.tmpDir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    this.tearingDown ??= Promise.resolve();
    liveLabs.delete(this);
  }
}

/**
 * Build a lab. Rejects (after cleaning up whatever it had built) when a step fails, naming the
 * step — and for a daemon, its output. Always pair with `t.teardown(() => lab.teardown())`.
 */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const p = plan(opts);
  const reason = labSkipReason();
  if (reason) throw new Error(`lab: ${reason}`);
  for (let attempt = 0; ; attempt++) {
    const id = `${process.pid}-${instanceCounter++}`;
    // A leftover namespace of the same name (a killed earlier run with a recycled pid) is not
    // ours to delete: pick the next name instead.
    if (existsSync(`/run/netns/prtip-scan-${id}`) || existsSync(`/run/netns/prtip-tgt-${id}`)) {
      if (attempt > 100) throw new Error('lab: cannot find a free namespace name');
      continue;
    }
    const lab = new LabImpl(id);
    liveLabs.add(lab);
    installHooks();
    try {
      await lab.build(p, opts.startTimeoutMs ?? 20_000);
      return lab;
    } catch (e) {
      await lab.teardown().catch(() => {});
      throw e;
    }
  }
}
