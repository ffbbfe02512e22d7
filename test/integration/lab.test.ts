// Tests of the test lab itself (test/lab/lab.ts): the network it builds must be isolated, its
// ground truth (open / closed / filtered) must be what a scanner would really see, captures must
// decode real kernel packets, and teardown must leave nothing behind.
import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createLab,
  labSkipReason,
  parsePcap,
  describePacket,
  formatIPv6,
  checkAnyIpV4,
  checkAnyIpV6,
  TCP_FLAGS,
  type Lab,
  type CapturedPacket,
} from '../lab/lab.js';

// ───────────────────────── helpers ─────────────────────────

interface Probe {
  host: string;
  port: number;
  timeoutMs?: number;
  /** Sent after connecting. */
  send?: string;
  /** Stop reading once the reply contains this. */
  until?: string;
}
interface ProbeResult extends Probe {
  result: 'open' | 'refused' | 'timeout' | string;
  data: string;
  ms: number;
}

// Runs inside a namespace: connects to every probe concurrently and reports what happened.
const CONNECT_JS = `
import net from 'node:net';
const probes = JSON.parse(process.argv[1]);
const one = (p) => new Promise((resolve) => {
  const t0 = Date.now();
  const sock = net.connect({ host: p.host, port: p.port });
  let data = '';
  let connected = false;
  let done = false;
  const finish = (result) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.destroy();
    resolve({ ...p, result, data, ms: Date.now() - t0 });
  };
  const timer = setTimeout(() => finish(connected ? 'open' : 'timeout'), p.timeoutMs ?? 3000);
  sock.once('connect', () => {
    connected = true;
    if (p.send !== undefined) sock.write(p.send);
    if (p.until === undefined) finish('open');
  });
  sock.on('data', (d) => {
    data += d.toString('latin1');
    if (p.until !== undefined && data.includes(p.until)) finish('open');
  });
  sock.on('close', () => { if (connected) finish('open'); });
  sock.on('error', (e) => finish(connected ? 'open' : e.code === 'ECONNREFUSED' ? 'refused' : e.code || e.message));
});
console.log(JSON.stringify(await Promise.all(probes.map(one))));
`;

async function probe(lab: Lab, probes: Probe[], ns: 'scanner' | 'target' = 'scanner'): Promise<ProbeResult[]> {
  const r = await lab.execNode(CONNECT_JS, [JSON.stringify(probes)], { ns, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`connect probe failed (${r.code}, timedOut=${r.timedOut}): ${r.stderr}`);
  return JSON.parse(r.stdout.toString()) as ProbeResult[];
}

// Sends one UDP datagram of `size` bytes (bigger than the MTU → the kernel fragments it).
const UDP_JS = `
import dgram from 'node:dgram';
const [host, port, size] = process.argv.slice(1);
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
s.send(Buffer.alloc(Number(size), 0x61), Number(port), host, (e) => { if (e) { console.error(e.message); process.exit(1); } s.close(); });
`;

// Sends n small UDP datagrams, paced so no socket buffer overflows.
const UDP_BURST_JS = `
import dgram from 'node:dgram';
const [host, port, n] = process.argv.slice(1);
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
for (let i = 0; i < Number(n); i++) {
  await new Promise((res, rej) => s.send(Buffer.from('x' + i), Number(port), host, (e) => (e ? rej(e) : res())));
}
s.close();
`;

async function waitGone(pids: number[], ms = 3000): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const left = pids.filter((p) => !pidGone(p));
    if (left.length === 0 || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

function ourNamespaces(): string[] {
  return netnsList().filter((n) => n.startsWith(`prtip-scan-${process.pid}-`) || n.startsWith(`prtip-tgt-${process.pid}-`));
}

function nsPids(ns: string): number[] {
  return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
}

function pidGone(pid: number): boolean {
  return !existsSync(`/proc/${pid}`);
}

const show = (ps: CapturedPacket[]) => ps.map(describePacket).join('\n');

// ───────────────────────── pcap parser (no root needed) ─────────────────────────

function pcapFile(frames: Buffer[], opts: { bigEndian?: boolean; nanos?: boolean } = {}): Buffer {
  const w32 = (b: Buffer, v: number, o: number) => (opts.bigEndian ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  const w16 = (b: Buffer, v: number, o: number) => (opts.bigEndian ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const g = Buffer.alloc(24);
  w32(g, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(g, 2, 4);
  w16(g, 4, 6);
  w32(g, 262144, 16);
  w32(g, 1, 20);
  const parts: Buffer[] = [g];
  frames.forEach((f, i) => {
    const h = Buffer.alloc(16);
    w32(h, 1700000000 + i, 0);
    w32(h, opts.nanos ? 500_000_000 : 500_000, 4);
    w32(h, f.length, 8);
    w32(h, f.length, 12);
    parts.push(h, f);
  });
  return Buffer.concat(parts);
}

function ether(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  Buffer.from([2, 0, 0xc6, 0x12, 0, 2, 2, 0, 0xc6, 0x12, 0, 1]).copy(h);
  h.writeUInt16BE(type, 12);
  const f = Buffer.concat([h, payload]);
  return f.length < 60 ? Buffer.concat([f, Buffer.alloc(60 - f.length, 0xee)]) : f; // Ethernet padding
}

function ipv4(proto: number, l4: Buffer, o: { ttl?: number; id?: number; df?: boolean; mf?: boolean; fragOff?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h.writeUInt16BE(o.id ?? 0x1234, 4);
  h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOff ?? 0) >> 3), 6);
  h[8] = o.ttl ?? 64;
  h[9] = proto;
  Buffer.from([198, 18, 0, 1, 198, 18, 0, 2]).copy(h, 12);
  return Buffer.concat([h, l4]);
}

function ipv6(next: number, payload: Buffer, hop = 64): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = hop;
  Buffer.from('20010002000000000000000000000001', 'hex').copy(h, 8);
  Buffer.from('20010002000000000000000000000002', 'hex').copy(h, 24);
  return Buffer.concat([h, payload]);
}

function tcp(sport: number, dport: number, flags: number, opts = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20 + opts.length);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(0xdeadbeef, 4);
  h.writeUInt32BE(0, 8);
  h[12] = ((20 + opts.length) / 4) << 4;
  h[13] = flags;
  h.writeUInt16BE(1024, 14);
  opts.copy(h, 20);
  return h;
}

function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

t.test('pcap parser decodes Ethernet/IPv4/IPv6/TCP/UDP/fragments', async (t) => {
  const mss = Buffer.from([2, 4, 0x05, 0xb4]);
  const frames = [
    ether(0x0800, ipv4(6, tcp(40000, 80, TCP_FLAGS.SYN, mss), { ttl: 7, id: 4321, df: true })),
    ether(0x0806, Buffer.alloc(28)), // ARP: skipped
    ether(0x0800, ipv4(17, udp(5353, 53, Buffer.from('hello')), { mf: true, id: 77 })),
    ether(0x0800, ipv4(17, Buffer.from('tail-of-datagram'), { fragOff: 1480, id: 77 })),
    ether(0x86dd, ipv6(6, tcp(443, 50000, TCP_FLAGS.SYN | TCP_FLAGS.ACK), 63)),
    // IPv6 first fragment carrying UDP, then a later fragment
    ether(0x86dd, ipv6(44, Buffer.concat([Buffer.from([17, 0, 0x00, 0x01, 0, 0, 0, 9]), udp(1, 2, Buffer.from('x'))]))),
    ether(0x86dd, ipv6(44, Buffer.concat([Buffer.from([17, 0, 0x05, 0xa8, 0, 0, 0, 9]), Buffer.from('yy')]))),
    ether(0x0800, ipv4(1, Buffer.from([3, 3, 0, 0, 0, 0, 0, 0]))),
  ];
  for (const variant of [{}, { bigEndian: true }, { nanos: true }, { bigEndian: true, nanos: true }]) {
    const ps = parsePcap(pcapFile(frames, variant));
    t.equal(ps.length, 7, `7 IP packets (ARP skipped) ${JSON.stringify(variant)}`);
    const [syn, frag1, frag2, synack, v6f1, v6f2, icmp] = ps as [CapturedPacket, CapturedPacket, CapturedPacket, CapturedPacket, CapturedPacket, CapturedPacket, CapturedPacket];
    t.match(syn, { family: 4, src: '198.18.0.1', dst: '198.18.0.2', proto: 'tcp', sport: 40000, dport: 80, flags: 'S', tcpFlags: TCP_FLAGS.SYN, ttl: 7, ipId: 4321, dontFragment: true, length: 44, seq: 0xdeadbeef, window: 1024 });
    t.same(syn.tcpOptions, mss);
    t.equal(syn.payload?.length, 0, 'Ethernet padding is not payload');
    t.equal(syn.fragment, undefined);
    t.equal(syn.time, 1700000000.5);
    t.match(frag1, { proto: 'udp', sport: 5353, dport: 53, fragment: { id: 77, offset: 0, moreFragments: true } });
    t.match(frag2, { proto: 'udp', sport: undefined, fragment: { id: 77, offset: 1480, moreFragments: false } });
    t.match(synack, { family: 6, src: '2001:2::1', dst: '2001:2::2', flags: 'SA', ttl: 63, sport: 443, dport: 50000, length: 60 });
    t.match(v6f1, { family: 6, proto: 'udp', protoNumber: 17, sport: 1, dport: 2, ipId: 9, fragment: { id: 9, offset: 0, moreFragments: true } });
    t.match(v6f2, { proto: 'udp', sport: undefined, fragment: { id: 9, offset: 1448, moreFragments: false } });
    t.match(icmp, { proto: 'icmp', icmpType: 3, icmpCode: 3 });
  }
  // A capture killed mid-record: the partial record is ignored.
  const whole = pcapFile(frames.slice(0, 2));
  t.equal(parsePcap(whole.subarray(0, whole.length - 5)).length, 1);
  t.throws(() => parsePcap(Buffer.from('0a0d0d0a00000000000000000000000000000000000000000000', 'hex')), /pcapng/);
  t.throws(() => parsePcap(Buffer.alloc(10)), /too short/);
});

t.test('IPv6 text form (RFC 5952)', async (t) => {
  const f = (hex: string) => formatIPv6(Buffer.from(hex, 'hex'), 0);
  t.equal(f('20010002000000000000000000000001'), '2001:2::1');
  t.equal(f('00000000000000000000000000000001'), '::1');
  t.equal(f('00000000000000000000000000000000'), '::');
  t.equal(f('20010db8000000010001000100010001'), '2001:db8:0:1:1:1:1:1', 'a single zero group is not compressed');
  t.equal(f('00010000000000020000000000000003'), '1:0:0:2::3', 'the longest run is compressed');
  t.equal(f('fe800000000000000000000000000000'), 'fe80::');
});

t.test('AnyIP ranges must stay inside the benchmarking ranges, off the link', async (t) => {
  t.equal(checkAnyIpV4('198.19.0.0/16'), '198.19.0.0/16');
  t.equal(checkAnyIpV4('198.19.7.9/24'), '198.19.7.0/24', 'host bits cleared');
  t.equal(checkAnyIpV4('198.18.1.0/24'), '198.18.1.0/24');
  t.throws(() => checkAnyIpV4('10.0.0.0/8'), /outside/);
  t.throws(() => checkAnyIpV4('0.0.0.0/0'), /outside/);
  t.throws(() => checkAnyIpV4('198.19.0.0'), /CIDR/);
  t.throws(() => checkAnyIpV4('198.18.0.0/24'), /overlaps/);
  t.throws(() => checkAnyIpV4('198.18.0.0/16'), /overlaps/);
  t.throws(() => checkAnyIpV4('198.20.0.0/16'), /outside/);
  t.equal(checkAnyIpV6('2001:2:0:100::/64'), '2001:2:0:100::/64');
  t.equal(checkAnyIpV6('2001:2:0:100::7/120'), '2001:2:0:100::/120');
  t.throws(() => checkAnyIpV6('2001:db8::/64'), /outside/);
  t.throws(() => checkAnyIpV6('2001:2::/48'), /overlaps/);
  t.throws(() => checkAnyIpV6('2001:2::/64'), /overlaps/);
  t.throws(() => checkAnyIpV6('::/0'), /outside/);
  t.throws(() => checkAnyIpV6('2001:2:1::/x'), /CIDR/);
  t.throws(() => checkAnyIpV6('2001:2:::1/64'), /bad IPv6/);
});

// ───────────────────────── the lab itself (root) ─────────────────────────

const skipReason = labSkipReason();
if (skipReason) {
  if (process.env.CI) {
    t.fail(`the lab must run in CI, but: ${skipReason}`);
  } else {
    t.comment(`LAB SKIPPED: ${skipReason}`);
    t.pass(`lab skipped: ${skipReason}`);
  }
} else {
  labTests();
}

function labTests(): void {
  t.test('full lab: nginx, sshd, redis, a filtered port', async (t) => {
    const nsBefore = ourNamespaces();
    const t0 = performance.now();
    const lab = await createLab({ daemons: ['nginx', 'sshd', 'redis'], filteredTcpPorts: [9999] });
    const buildMs = performance.now() - t0;
    t.teardown(() => lab.teardown());
    t.comment(`lab built in ${buildMs.toFixed(0)} ms: ${lab.scannerNs} ⇄ ${lab.targetNs}`);

    t.same(lab.tcpOpen, [22, 80, 6379, 8080, 31337], 'ground truth: open ports');
    t.same(lab.tcpFiltered, [9999], 'ground truth: filtered ports');
    t.match(lab.scannerNs, new RegExp(`^prtip-scan-${process.pid}-\\d+$`));
    t.match(lab.targetNs, new RegExp(`^prtip-tgt-${process.pid}-\\d+$`));
    t.ok(netnsList().includes(lab.scannerNs) && netnsList().includes(lab.targetNs), 'both namespaces exist');

    await t.test('the scanner namespace is sealed: no default route, only lo and the veth', async (t) => {
      const ex = async (argv: string[]) => {
        const r = await lab.exec(argv, { timeoutMs: 10_000 });
        return { ...r, out: r.stdout.toString().trim() };
      };
      t.equal((await ex(['ip', 'route', 'show', 'default'])).out, '', 'no IPv4 default route');
      t.equal((await ex(['ip', '-6', 'route', 'show', 'default'])).out, '', 'no IPv6 default route');
      t.equal((await ex(['ip', '-4', 'route', 'show', 'table', 'all', 'default'])).out, '', 'no IPv4 default route in any table');
      t.equal((await ex(['ip', '-6', 'route', 'show', 'table', 'all', 'default'])).out, '', 'no IPv6 default route in any table');
      const links = JSON.parse((await ex(['ip', '-j', 'link', 'show'])).out) as Array<{ ifname: string; flags: string[]; link_type: string }>;
      // Some kernels put fallback tunnel devices (sit0, tunl0, …) in every new namespace when
      // their modules are loaded; they are down and address-less. Anything else is a failure.
      const fallback = /^(tunl0|sit0|ip6tnl0|gre0|gretap0|erspan0|ip6gre0|ip_vti0|ip6_vti0)$/;
      const real = links.filter((l) => !fallback.test(l.ifname));
      t.same(real.map((l) => l.ifname).sort(), ['lo', lab.scannerIf].sort(), 'exactly lo and the veth');
      for (const l of links.filter((l) => fallback.test(l.ifname))) {
        t.notOk(l.flags.includes('UP'), `fallback device ${l.ifname} is down`);
      }
      const veth = JSON.parse((await ex(['ip', '-j', '-d', 'link', 'show', lab.scannerIf])).out) as Array<{ linkinfo?: { info_kind?: string }; address?: string }>;
      t.equal(veth[0]?.linkinfo?.info_kind, 'veth', 'the link is a veth');
      t.equal(veth[0]?.address, lab.scannerMac);
      for (const [argv, what] of [
        [['ip', 'route', 'get', '8.8.8.8'], 'IPv4 Internet'],
        [['ip', 'route', 'get', '10.0.0.1'], 'IPv4 private'],
        [['ip', '-6', 'route', 'get', '2001:4860:4860::8888'], 'IPv6 Internet'],
      ] as const) {
        const r = await ex([...argv]);
        t.not(r.code, 0, `${what} is unreachable from the scanner`);
        t.match(r.stderr, /unreachable/i);
      }
      const r = await ex(['ip', 'route', 'get', lab.targetV4]);
      t.match(r.out, new RegExp(`dev ${lab.scannerIf}`), 'the target is on the veth');
      const neigh = (await ex(['ip', 'neigh', 'show', 'dev', lab.scannerIf])).out;
      t.match(neigh, new RegExp(`${lab.targetV4} lladdr ${lab.targetMac} PERMANENT`), 'permanent IPv4 neighbour');
      t.match(neigh, new RegExp(`${lab.targetV6} lladdr ${lab.targetMac} PERMANENT`), 'permanent IPv6 neighbour');
      const tneigh = await lab.exec(['ip', 'neigh', 'show', 'dev', lab.targetIf], { ns: 'target' });
      t.match(tneigh.stdout.toString(), new RegExp(`${lab.scannerV4} lladdr ${lab.scannerMac} PERMANENT`), 'permanent neighbour on the target side');
      const rl = await lab.exec(['sysctl', '-n', 'net.ipv4.icmp_ratelimit', 'net.ipv6.icmp.ratelimit'], { ns: 'target' });
      t.same(rl.stdout.toString().trim().split('\n'), ['0', '0'], 'ICMP rate limits off in the target');
    });

    await t.test('IPv4: open ports accept, closed ports refuse, filtered ports time out', async (t) => {
      const h = lab.targetV4;
      const res = await probe(lab, [
        ...lab.tcpOpen.map((port) => ({ host: h, port })),
        { host: h, port: 81 },
        { host: h, port: 23 },
        { host: h, port: 65535 },
        { host: h, port: 9999, timeoutMs: 1500 },
        { host: h, port: 22, until: '\n' },
        { host: h, port: 80, send: 'GET / HTTP/1.0\r\n\r\n', until: '</html>' },
        { host: h, port: 6379, send: 'PING\r\n', until: '\r\n' },
        { host: h, port: 8080, send: 'hello lab\n', until: '\n' },
      ]);
      const at = (port: number, extra?: (r: ProbeResult) => boolean) => res.find((r) => r.port === port && (!extra || extra(r)))!;
      for (const port of lab.tcpOpen) t.equal(at(port).result, 'open', `${h}:${port} open`);
      for (const port of [81, 23, 65535]) t.equal(at(port).result, 'refused', `${h}:${port} closed (ECONNREFUSED)`);
      const f = at(9999);
      t.equal(f.result, 'timeout', `${h}:9999 filtered (no answer)`);
      t.ok(f.ms >= 1400, `filtered probe waited the full timeout (${f.ms} ms)`);
      t.match(at(22, (r) => r.until === '\n').data, /^SSH-2\.0-OpenSSH/, 'sshd banner');
      const http = at(80, (r) => r.send !== undefined).data;
      t.match(http, /^HTTP\/1\.1 200 OK/, 'nginx answers HTTP');
      t.match(http, /Server: nginx/);
      t.match(http, /prtip lab nginx/, 'nginx serves the lab page');
      t.match(at(6379, (r) => r.send !== undefined).data, /^\+PONG/, 'redis answers PING');
      t.equal(at(8080, (r) => r.send !== undefined).data, 'hello lab\n', 'plain listener echoes');
    });

    await t.test('IPv6 reachability', async (t) => {
      const h = lab.targetV6;
      const res = await probe(lab, [
        ...lab.tcpOpen.map((port) => ({ host: h, port })),
        { host: h, port: 81 },
        { host: h, port: 9999, timeoutMs: 1500 },
        { host: h, port: 22, until: '\n' },
        { host: h, port: 6379, send: 'PING\r\n', until: '\r\n' },
      ]);
      for (const port of lab.tcpOpen) t.equal(res.find((r) => r.port === port)!.result, 'open', `[${h}]:${port} open`);
      t.equal(res.find((r) => r.port === 81)!.result, 'refused', 'closed over IPv6');
      t.equal(res.find((r) => r.port === 9999)!.result, 'timeout', 'filtered over IPv6');
      t.match(res.find((r) => r.port === 22 && r.until)!.data, /^SSH-2\.0-OpenSSH/, 'sshd over IPv6');
      t.match(res.find((r) => r.port === 6379 && r.send)!.data, /^\+PONG/, 'redis over IPv6');
    });

    await t.test('capture sees the handshake on the wire (IPv4 and IPv6)', async (t) => {
      const cap = await lab.capture('tcp port 8080 or tcp port 81 or tcp port 9999');
      await probe(lab, [
        { host: lab.targetV4, port: 8080 },
        { host: lab.targetV6, port: 8080 },
        { host: lab.targetV4, port: 81 },
        { host: lab.targetV4, port: 9999, timeoutMs: 500 },
      ]);
      const ps = await cap.stop();
      t.comment(`captured ${ps.length} packets, kernel dropped ${cap.dropped}`);
      const syn4 = ps.find((p) => p.family === 4 && p.dport === 8080 && p.flags === 'S');
      t.ok(syn4, 'IPv4 SYN to 8080 captured') || t.comment(show(ps));
      t.match(syn4, { src: lab.scannerV4, dst: lab.targetV4, proto: 'tcp', ttl: 64, tcpFlags: TCP_FLAGS.SYN, dontFragment: true });
      t.ok(ps.some((p) => p.family === 4 && p.sport === 8080 && p.dst === lab.scannerV4 && p.flags === 'SA'), 'SYN-ACK from the target');
      const syn6 = ps.find((p) => p.family === 6 && p.dport === 8080 && p.flags === 'S');
      t.match(syn6, { src: lab.scannerV6, dst: lab.targetV6, ttl: 64 }, 'IPv6 SYN captured with hop limit 64');
      t.ok(ps.some((p) => p.sport === 81 && p.flags === 'RA'), 'closed port answers RST-ACK');
      t.ok(ps.some((p) => p.dport === 9999 && p.flags === 'S'), 'SYN to the filtered port reaches the target');
      t.notOk(ps.some((p) => p.sport === 9999), 'and nothing answers it');
    });

    await t.test('capture decodes kernel fragments and ICMP port unreachable', async (t) => {
      const cap = await lab.capture(`host ${lab.scannerV4} or host ${lab.scannerV6}`);
      for (const host of [lab.targetV4, lab.targetV6]) {
        const r = await lab.execNode(UDP_JS, [host, '9', '3000']);
        t.equal(r.code, 0, `sent 3000-byte UDP to ${host}: ${r.stderr}`);
      }
      const ps = await cap.stop({ settleMs: 300 });
      const f4 = ps.filter((p) => p.family === 4 && p.fragment && p.src === lab.scannerV4);
      t.ok(f4.length >= 3, `IPv4 datagram arrived in ${f4.length} fragments`) || t.comment(show(ps));
      t.ok(f4.some((p) => p.fragment!.offset === 0 && p.fragment!.moreFragments && p.dport === 9), 'first IPv4 fragment carries the UDP header');
      t.ok(f4.some((p) => p.fragment!.offset > 0 && !p.fragment!.moreFragments && p.dport === undefined), 'last IPv4 fragment');
      t.ok(new Set(f4.map((p) => p.fragment!.id)).size === 1, 'fragments share one IP id');
      const f6 = ps.filter((p) => p.family === 6 && p.fragment && p.src === lab.scannerV6);
      t.ok(f6.length >= 3, `IPv6 datagram arrived in ${f6.length} fragments`);
      t.ok(f6.some((p) => p.fragment!.offset === 0 && p.dport === 9 && p.proto === 'udp'), 'first IPv6 fragment carries the UDP header');
      t.ok(ps.some((p) => p.proto === 'icmp' && p.icmpType === 3 && p.icmpCode === 3 && p.src === lab.targetV4), 'ICMP port unreachable from the target');
      t.ok(ps.some((p) => p.proto === 'icmpv6' && p.icmpType === 1 && p.icmpCode === 4 && p.src === lab.targetV6), 'ICMPv6 port unreachable from the target');
    });

    await t.test('exec: argv, stdin, env, exit codes, timeout', async (t) => {
      const cat = await lab.exec(['cat'], { input: 'from stdin' });
      t.equal(cat.stdout.toString(), 'from stdin');
      const env = await lab.exec(['bash', '-c', 'echo "$LAB_X"; exit 3'], { env: { LAB_X: 'x y' } });
      t.match(env, { code: 3, timedOut: false });
      t.equal(env.stdout.toString(), 'x y\n');
      const t1 = performance.now();
      const slow = await lab.exec(['sleep', '30'], { timeoutMs: 300 });
      t.ok(slow.timedOut && slow.code === null && slow.signal === 'SIGKILL', 'timeout kills the command');
      t.ok(performance.now() - t1 < 5000, 'and returns promptly');
      const inTarget = await lab.exec(['ip', '-o', 'addr', 'show', 'dev', lab.targetIf], { ns: 'target' });
      t.match(inTarget.stdout.toString(), lab.targetV4, 'ns: target runs in the target namespace');
    });

    await t.test('teardown leaves nothing behind', async (t) => {
      const bg = lab.spawn(['sleep', '600']);
      await new Promise((r) => bg.once('spawn', r));
      const pids = [...nsPids(lab.targetNs), ...nsPids(lab.scannerNs)];
      t.ok(pids.includes(bg.pid!), 'spawn() runs in the scanner namespace');
      t.ok(pids.length >= 6, `lab processes running (${pids.length})`);
      const tmp = lab.tmpDir;
      t.ok(existsSync(tmp));
      const t1 = performance.now();
      await lab.teardown();
      t.comment(`teardown took ${(performance.now() - t1).toFixed(0)} ms`);
      await lab.teardown(); // idempotent
      const left = netnsList();
      t.notOk(left.includes(lab.scannerNs), 'scanner namespace deleted');
      t.notOk(left.includes(lab.targetNs), 'target namespace deleted');
      t.same(ourNamespaces(), nsBefore, 'no namespace of this process left');
      t.same(pids.filter((p) => !pidGone(p)), [], 'every lab process is gone');
      t.equal(bg.signalCode, 'SIGTERM', 'the spawned process was stopped by teardown');
      t.notOk(existsSync(tmp), 'temp dir removed');
      await t.rejects(lab.exec(['true']), /torn down/, 'a torn-down lab refuses work');
    });
  });

  t.test('AnyIP and loss labs, three built in parallel', async (t) => {
    const t0 = performance.now();
    const built = await Promise.allSettled([
      createLab({ anyIpV4: '198.19.0.0/16', anyIpV6: '2001:2:0:100::/64' }),
      createLab({ lossPercent: 100, tcpListeners: [8080] }),
      createLab({ lossPercent: 30, tcpListeners: [] }),
    ]);
    const labs = built.flatMap((b) => (b.status === 'fulfilled' ? [b.value] : []));
    t.teardown(() => Promise.all(labs.map((l) => l.teardown())));
    for (const b of built) if (b.status === 'rejected') throw b.reason;
    const [any, lossy, some] = labs as [Lab, Lab, Lab];
    t.comment(`three labs built in parallel in ${(performance.now() - t0).toFixed(0)} ms`);
    const names = labs.flatMap((l) => [l.scannerNs, l.targetNs]);
    t.equal(new Set(names).size, 6, `distinct namespace names: ${names.join(' ')}`);
    t.same(any.tcpOpen, [8080, 31337]);
    t.same(lossy.tcpOpen, [8080]);

    await t.test('AnyIP: the target answers for a whole range', async (t) => {
      const cap = await any.capture('tcp and dst port 8080');
      const res = await probe(any, [
        { host: '198.19.3.4', port: 8080, send: 'any\n', until: '\n' },
        { host: '198.19.200.1', port: 31337 },
        { host: '198.19.255.254', port: 8080 },
        { host: '198.19.3.4', port: 81 },
        { host: '2001:2:0:100::42', port: 8080 },
        { host: '2001:2:0:100:ffff::1', port: 31337 },
        { host: '2001:2:0:100::42', port: 81 },
      ]);
      t.match(res[0], { result: 'open', data: 'any\n' }, '198.19.3.4:8080 open and echoing');
      t.equal(res[1]!.result, 'open', '198.19.200.1:31337');
      t.equal(res[2]!.result, 'open', '198.19.255.254:8080');
      t.equal(res[3]!.result, 'refused', '198.19.3.4:81 closed');
      t.equal(res[4]!.result, 'open', '[2001:2:0:100::42]:8080');
      t.equal(res[5]!.result, 'open', '[2001:2:0:100:ffff::1]:31337');
      t.equal(res[6]!.result, 'refused', '[2001:2:0:100::42]:81 closed');
      const ps = await cap.stop();
      t.ok(ps.some((p) => p.dst === '198.19.3.4' && p.src === any.scannerV4 && p.flags === 'S'), 'SYN to the AnyIP address on the wire');
      t.ok(ps.some((p) => p.dst === '2001:2:0:100::42' && p.flags === 'S'), 'IPv6 SYN to the AnyIP address on the wire');
      const rt = await any.exec(['ip', 'route', 'get', '198.19.3.4']);
      t.match(rt.stdout.toString(), new RegExp(`via ${any.targetV4} dev ${any.scannerIf}`), 'scanner routes the range via the target');
      const none = await any.exec(['ip', 'route', 'show', 'default']);
      t.equal(none.stdout.toString().trim(), '', 'still no default route');
      const outside = await any.exec(['ip', 'route', 'get', '198.20.0.1']);
      t.not(outside.code, 0, 'outside the range is unreachable');
    });

    await t.test('lossPercent 100 drops everything inbound', async (t) => {
      const res = await probe(lossy, [
        { host: lossy.targetV4, port: 8080, timeoutMs: 1000 },
        { host: lossy.targetV6, port: 8080, timeoutMs: 1000 },
        { host: lossy.targetV4, port: 81, timeoutMs: 1000 },
      ]);
      t.same(res.map((r) => r.result), ['timeout', 'timeout', 'timeout'], 'open and closed ports look filtered');
      const rules = await lossy.exec(['nft', 'list', 'ruleset'], { ns: 'target' });
      t.match(rules.stdout.toString(), /iifname "veth-tgt" counter packets [1-9]\d* bytes \d+ drop comment "loss 100%"/, 'the loss rule dropped them');
      const host = await probe(lossy, [{ host: '127.0.0.1', port: 8080 }], 'target');
      t.equal(host[0]!.result, 'open', 'the listener itself is up (loss applies to the veth only)');
    });

    await t.test('lossPercent 30 drops about 30% of inbound packets', async (t) => {
      const n = 1000;
      const r = await some.execNode(UDP_BURST_JS, [some.targetV4, '9', String(n)]);
      t.equal(r.code, 0, r.stderr);
      const rules = await some.exec(['nft', 'list', 'ruleset'], { ns: 'target' });
      const m = /numgen random mod 100 < 30 counter packets (\d+)/.exec(rules.stdout.toString());
      t.ok(m, 'the loss rule counts') || t.comment(rules.stdout.toString());
      const dropped = Number(m?.[1]);
      t.ok(dropped > n * 0.2 && dropped < n * 0.4, `${dropped} of ${n} datagrams dropped`);
    });
  });

  t.test('build failures clean up and say why', async (t) => {
    const before = ourNamespaces();
    await t.rejects(createLab({ anyIpV4: '10.0.0.0/8' }), /outside 198\.18\.0\.0\/15/, 'refuses addresses outside the lab range');
    await t.rejects(createLab({ daemons: ['nginx'], tcpListeners: [80] }), /clash/, 'refuses a listener on a daemon port');
    // A daemon that cannot start: hide redis-server from PATH (ip, sysctl, nft live in /usr/sbin).
    const path = process.env.PATH;
    process.env.PATH = '/usr/sbin:/sbin';
    try {
      await t.rejects(createLab({ daemons: ['redis'], tcpListeners: [] }), /redis \(port 6379\) exited[\s\S]*redis-server/, 'names the daemon and shows its output');
    } finally {
      process.env.PATH = path;
    }
    t.same(ourNamespaces(), before, 'no namespace left after failed builds');
  });

  t.test('exit and SIGTERM tear the lab down', async (t) => {
    const labUrl = new URL('../lab/lab.ts', import.meta.url).href;
    for (const how of ['exit', 'SIGTERM'] as const) {
      const code = `
        const { createLab } = await import(${JSON.stringify(labUrl)});
        const lab = await createLab({ tcpListeners: [8080] });
        console.log(JSON.stringify({ ns: [lab.scannerNs, lab.targetNs], tmp: lab.tmpDir }));
        if (${JSON.stringify(how)} === 'exit') process.stdin.once('data', () => process.exit(0));
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], {
        stdio: ['pipe', 'pipe', 'pipe'],
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const info = await new Promise<{ ns: string[]; tmp: string }>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line) as { ns: string[]; tmp: string });
        });
        child.once('exit', (c) => reject(new Error(`child exited ${c} before building a lab: ${err}`)));
      });
      const pids = info.ns.flatMap((ns) => nsPids(ns));
      t.ok(pids.length > 0, `${how}: child's lab has processes`);
      if (how === 'SIGTERM') child.kill('SIGTERM');
      else child.stdin.write('go\n');
      const [exitCode, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode]);
        else child.once('exit', (c, s) => resolve([c, s]));
      });
      if (how === 'SIGTERM') t.equal(sig, 'SIGTERM', 'the signal still ends the process');
      else t.equal(exitCode, 0);
      const left = netnsList();
      t.notOk(info.ns.some((ns) => left.includes(ns)), `${how}: namespaces deleted`);
      t.same(await waitGone(pids), [], `${how}: lab processes gone`);
      t.notOk(existsSync(info.tmp), `${how}: temp dir removed`);
    }
  });
}
