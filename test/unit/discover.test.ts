// Host discovery without a network: the ping-port parser (property-tested), the discovery flags,
// the 2-bit host-state store against a Map, native's ICMP frames and the parse of their answers,
// and the stage's record flow with a stub prober at its edge (only live hosts' probes pass, indices
// kept, -sn passes none, host records with reasons).
import t from 'tap';
import fc from 'fast-check';
import { loadNative, type WireSpec } from '../../native/index.js';
import { parseArgs, type FlagGroup } from '../../packages/oclif-cli/lib/flags.js';
import { discoverOptions } from '../../packages/oclif-cli/lib/discover-options.js';
import { describePing, discoverRecords, HostStates, parsePingPorts, type DiscoverOptions, type HostProber, type HostVerdict } from '../../stages/discover/index.js';
import { icmpPing, ReplyView } from '../../stages/probes/index.js';
import { newHeader, newTrailer, type AnyRecord, type HostRecord, type ProbeBatch, type ScanHeader } from '../../stages/records/index.js';
import { probeBatches, planTargets } from '../../stages/targets/index.js';

const ALL: FlagGroup[] = ['targets', 'ports', 'scan', 'evasion', 'discovery', 'version', 'os', 'script', 'timing', 'output', 'database', 'interaction', 'misc'];
const scan = (...argv: string[]) => parseArgs(argv, ALL, 'scan', true);

t.test('parsePingPorts: lists and ranges as nmap takes them', async (t) => {
  t.same(parsePingPorts('-PS', '', 80), [80], 'no list: the default port');
  t.same(parsePingPorts('-PS', '22,80,1000-1003', 80), [22, 80, 1000, 1001, 1002, 1003]);
  t.same(parsePingPorts('-PU', '53,53,0', 40125), [53, 0], 'duplicates once, port 0 allowed');
  for (const bad of ['x', '22,', '5-3', '70000', '1-70000', ',', '22 80', '-5']) {
    t.throws(() => parsePingPorts('-PS', bad, 80), { message: new RegExp(`^-PS${bad.replace(/[-\\^$*+?.()|[\]{}]/g, '\\$&')}: ".*" is not a port or range`) }, bad);
  }
  // Property: any list of ports and ranges gives the ports in first-seen order, each once.
  const item = fc.oneof(fc.integer({ min: 0, max: 65535 }).map((p) => [p, p] as const),
    fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 40 })).map(([a, w]) => [a, Math.min(65535, a + w)] as const));
  fc.assert(fc.property(fc.array(item, { minLength: 1, maxLength: 12 }), (items) => {
    const text = items.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
    const want: number[] = [];
    for (const [a, b] of items) for (let p = a; p <= b; p++) if (!want.includes(p)) want.push(p);
    const got = parsePingPorts('-PS', text, 80);
    return got.length === want.length && got.every((p, i) => p === want[i]);
  }));
});

t.test('discovery flags parse into probes; -PS with a space takes no list', async (t) => {
  const o = scan('-PS22,80', '-PA', '-PU', '-PE', '-PP', '-PM', '-PR', '--disable-arp-ping', '--discovery-ignore-rst', '198.18.0.2');
  t.same(o.ping, { echo: true, timestamp: true, mask: true, syn: [22, 80], ack: [80], udp: [40125], sctp: [], ipProto: [], arp: true });
  const sctpProto = scan('-PY', '-PY2905,36412', '-PO', '-PO6,17,50-51', '198.18.0.2');
  t.same(sctpProto.ping.sctp, [80, 2905, 36412], '-PY alone: port 80 (nmap\'s default); attached list');
  t.same(sctpProto.ping.ipProto, [1, 2, 4, 6, 17, 50, 51], '-PO alone: protocols 1,2,4 (nmap\'s default); attached list');
  t.throws(() => scan('-PO256', '198.18.0.2'), /-PO256: "256" is not a protocol number or range \(0-255/);
  t.throws(() => scan('-PYx', '198.18.0.2'), /-PYx: "x" is not a port or range/);
  t.equal(describePing(sctpProto.ping), '-PY80,2905,36412 -PO1,2,4,6,17,50,51', 'described with nmap\'s flags');
  t.ok(o.disableArpPing && o.discoveryIgnoreRst);
  const spaced = scan('-PS', '22');
  t.same(spaced.ping.syn, [80], '-PS alone: port 80');
  t.same(spaced.targets, ['22'], 'the next word is a target, as in nmap');
  t.equal(scan('-sn', '198.18.0.2').pingOnly, true);
  const never = () => { throw new Error('must not be asked'); };
  const sig = new AbortController().signal;
  t.throws(() => discoverOptions(scan('-Pn', '-sn', '198.18.0.2'), [], sig, never, () => true), /-Pn and -sn together would probe nothing/);
  t.throws(() => discoverOptions(scan('-Pn', '-PE', '198.18.0.2'), [], sig, never, () => true), /-Pn skips host discovery/);
  t.throws(() => discoverOptions(scan('-sn', '-p', '80', '198.18.0.2'), [], sig, never, () => true), /-sn is a ping scan without port scan: drop -p/);
  t.throws(() => discoverOptions(scan('-PE', '198.18.0.2'), [], sig, never, () => '-sS needs root or CAP_NET_RAW'), /-PE\/-PP\/-PM\/-PS\/-PA\/-PU\/-PY\/-PO\/-PR send raw packets: they need root/);
  t.equal(discoverOptions(scan('-Pn', '198.18.0.2'), [], sig, never, () => true)?.assumeUp, true, '-Pn as root: only ARP/ND on the link (as nmap), every other host up');
  t.equal(discoverOptions(scan('-Pn', '--disable-arp-ping', '198.18.0.2'), [], sig, never, () => true), undefined, '-Pn --disable-arp-ping: no discovery stage');
  t.equal(discoverOptions(scan('-Pn', '198.18.0.2'), [], sig, never, () => 'no root'), undefined, '-Pn unprivileged: no discovery stage');
  const d = discoverOptions(scan('198.18.0.2'), [], sig, never, () => true)!;
  t.equal(d.privileged, true);
  t.equal(discoverOptions(scan('127.0.0.1'), [], sig, never, () => true)!.privileged, false, 'loopback only: no raw probes (nothing is sent to it)');
  t.equal(discoverOptions(scan('198.18.0.2'), [], sig, never, () => 'no root')!.privileged, false, 'unprivileged: connect() ping');
});

t.test('HostStates agrees with a Map on random IPv4 and IPv6 updates', async (t) => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 3 })), { maxLength: 200 }), (ops) => {
    const s = new HostStates();
    const model = new Map<string, number>();
    for (const [v6, low, state] of ops) {
      const family = v6 ? 6 : 4;
      const addr = v6 ? Uint8Array.from([0x20, 1, 0, 2, ...Array(10).fill(0), low >> 8, low & 0xff]) : Uint8Array.from([198, 19, low >> 8, low & 0xff]);
      s.set(family, addr, 0, state as 0 | 1 | 2 | 3);
      model.set(`${family}/${low}`, state);
    }
    for (const [k, v] of model) {
      const [f, low] = k.split('/').map(Number) as [number, number];
      const addr = f === 6 ? Uint8Array.from([0x20, 1, 0, 2, ...Array(10).fill(0), low >> 8, low & 0xff]) : Uint8Array.from([198, 19, low >> 8, low & 0xff]);
      if (s.get(f as 4 | 6, addr, 0) !== v) return false;
    }
    return true;
  }));
});

const native = loadNative();
const wire: WireSpec = {
  srcMac: Uint8Array.from([2, 0, 0, 0, 0, 1]), dstMac4: Uint8Array.from([2, 0, 0, 0, 0, 2]), dstMac6: Uint8Array.from([2, 0, 0, 0, 0, 2]),
  src4: Uint8Array.from([198, 18, 0, 1]), src6: Uint8Array.from([0x20, 1, 0, 2, ...Array(11).fill(0), 1]),
  sourcePort: 61234, key: Uint8Array.from({ length: 16 }, (_, i) => i), ...icmpPing.wire({}),
};
const dst4 = Uint8Array.from([198, 18, 0, 2]);
const dst6 = Uint8Array.from([0x20, 1, 0, 2, ...Array(11).fill(0), 2]);

function sum16(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

t.test('native ICMP probes: echo, timestamp, mask on IPv4, echo on IPv6; answers parse back to the probe', async (t) => {
  t.equal(native.selfTest(), null, 'native self-tests (proto-icmp.cc among them) pass');
  for (const [type, len] of [[8, 8], [13, 20], [17, 12]] as const) {
    const [f] = native.buildProbeFrames(wire, 4, dst4, type, 3);
    const ip = f!.subarray(14);
    t.equal(ip[9], 1, `type ${type}: IP protocol 1`);
    const icmp = ip.subarray(20, ip.readUInt16BE(2));
    t.equal(icmp[0], type, `request type ${type}`);
    t.equal(icmp.length, len, `type ${type}: ${len} bytes`);
    t.equal(sum16(icmp), 0xffff, `type ${type}: checksum valid`);
  }
  const [f6] = native.buildProbeFrames(wire, 6, dst6, 8, 3);
  t.equal(f6![14 + 6], 58, 'IPv6: next header ICMPv6');
  t.equal(f6![54], 128, 'IPv6: echo request 128');
  // An echo reply: the target sends back id/seq of the request.
  const [req] = native.buildProbeFrames(wire, 4, dst4, 8, 3);
  const reply = Buffer.from(req!);
  Buffer.from(wire.srcMac).copy(reply, 0);
  Buffer.from(dst4).copy(reply, 26); Buffer.from(wire.src4!).copy(reply, 30);
  reply[34] = 0; // echo reply
  const parsed = native.parseReply(reply, wire);
  t.equal(parsed?.kind, 'icmp-answer');
  t.equal(parsed?.peerPort, 8, 'the answer names its request type');
  t.equal(parsed?.probeSeq, reply.readUInt32BE(38), 'id:seq is the probe value');
  reply[34] = 8;
  t.equal(native.parseReply(reply, wire), null, 'a request is no answer');
  reply[34] = 14;
  t.equal(native.parseReply(reply, wire)?.peerPort, 13, 'timestamp reply → timestamp request');
});

t.test('icmpPing classifies answers with nmap\'s reasons', async (t) => {
  const layout = native.replyLayout();
  const rec = Buffer.alloc(layout.size);
  const put = (name: keyof typeof layout.fields, v: number) => rec.writeUInt8(v, layout.fields[name][0]);
  put('family', 4); put('kind', layout.kinds.icmpAnswer);
  for (const [type, reason] of [[0, 'echo-reply'], [14, 'timestamp-reply'], [18, 'addressmask-reply']] as const) {
    put('icmpType', type);
    t.same(icmpPing.classify(new ReplyView(rec).at(0)), { state: 'open', reason }, reason);
  }
});

/** A prober at the stage's edge: decides each host at once, up when `isUp` says so. */
class StubProber implements HostProber {
  private out: HostVerdict[] = [];
  readonly counters = {};
  probed = 0;
  constructor(private readonly isUp: (ip: string) => boolean) {}
  get undecided() { return 0; }
  async probe(family: 4 | 6, addrs: Uint8Array) {
    const w = family === 4 ? 4 : 16;
    for (let o = 0; o < addrs.length; o += w) {
      const ip = Array.from(addrs.subarray(o, o + 4)).join('.');
      this.probed++;
      this.out.push(this.isUp(ip) ? { ip, up: true, reason: 'echo-reply', rtt: 0.5 } : { ip, up: false, reason: 'no-response' });
    }
  }
  take() { return this.out.splice(0); }
  async step() {}
  async settle() {}
  async close() {}
}

async function run(opts: Partial<DiscoverOptions>, prober: StubProber, specs: string[], ports: string): Promise<AnyRecord[]> {
  const tp = await planTargets({ specs, ports, args: [], seed: 7 });
  async function* src(): AsyncGenerator<AnyRecord> {
    yield newHeader([], { plan: tp.plan });
    yield* probeBatches(tp);
    yield newTrailer();
  }
  const out: AnyRecord[] = [];
  const d: DiscoverOptions = {
    probes: { echo: true, timestamp: false, mask: false, syn: [], ack: [], udp: [], sctp: [], ipProto: [], arp: false }, privileged: true, arp: false,
    ignoreRst: false, pingOnly: false, maxRetries: 1, initialTimeoutMs: 1000, minTimeoutMs: 100, maxTimeoutMs: 1000, prober, ...opts,
  };
  for await (const r of discoverRecords(d)(src())) out.push(r);
  return out;
}

t.test('the stage: host records for all, probes of live hosts only, probe indices kept', async (t) => {
  const up = (ip: string) => Number(ip.split('.')[3]) % 3 === 0;
  const prober = new StubProber(up);
  const out = await run({}, prober, ['198.19.7.0/24'], '22,80,443');
  const header = out[0] as ScanHeader;
  t.equal(header.hostDiscovery, '-PE');
  const hosts = out.filter((r) => r.type === 'host') as HostRecord[];
  t.equal(hosts.length, 256, 'one host record per host');
  t.equal(prober.probed, 256, 'each host probed once, though it has three ports');
  t.equal(hosts.filter((h) => h.state === 'up').length, 86);
  t.ok(hosts.every((h) => (h.state === 'up') === up(h.ip) && h.reason === (up(h.ip) ? 'echo-reply' : 'no-response')));
  const batches = out.filter((r) => r.type === 'probes') as ProbeBatch[];
  let probes = 0;
  const tp = await planTargets({ specs: ['198.19.7.0/24'], ports: '22,80,443', args: [], seed: 7 });
  const truth = new Map<number, string>();
  for (const b of probeBatches(tp)) for (let i = 0; i < b.count; i++) truth.set(b.start + i, `${b.addrs.subarray(i * 4, i * 4 + 4).join('.')}:${(b.ports[i * 2]! << 8) | b.ports[i * 2 + 1]!}`);
  for (const b of batches) {
    for (let i = 0; i < b.count; i++) {
      const ip = b.addrs.subarray(i * 4, i * 4 + 4).join('.');
      const port = (b.ports[i * 2]! << 8) | b.ports[i * 2 + 1]!;
      if (!up(ip) || truth.get(b.start + i) !== `${ip}:${port}`) { t.fail(`entry ${b.start + i} ${ip}:${port}`); return; }
      probes++;
    }
  }
  t.equal(probes, 86 * 3, 'every probe of a live host, and only those, with its own index');
  const end = out.at(-1) as { type: string; counters: Record<string, Record<string, number>> };
  t.equal(end.type, 'end');
  t.equal(end.counters.discover!.up, 86);
});

t.test('-sn: no probe batch leaves, the plan says no ports', async (t) => {
  const out = await run({ pingOnly: true }, new StubProber(() => true), ['198.19.7.0/28'], '80');
  t.equal(out.filter((r) => r.type === 'probes').length, 0);
  t.equal(out.filter((r) => r.type === 'host').length, 16);
  t.equal((out[0] as ScanHeader).plan?.portsPerHost, 0);
});
