// The SYN engine's pure parts, checked against independent JS references: SipHash-2-4 (paper
// vectors and a BigInt implementation), SYN frame templates and their checksums (IPv4 header,
// TCP over the IPv4 and IPv6 pseudo-headers), and reply parsing of hand-made packets.
import t from 'tap';
import { loadNative, type WireSpec } from '../../native/index.js';

const native = loadNative();
const M64 = (1n << 64n) - 1n;

/** SipHash-2-4 written from the paper, in BigInt: slow, independent of the C++ one. */
function sipRef(key: Uint8Array, msg: Uint8Array): bigint {
  const le = (b: Uint8Array, o: number, n = 8) => { let v = 0n; for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[o + i]!); return v; };
  const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M64;
  const k0 = le(key, 0), k1 = le(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n, v1 = k1 ^ 0x646f72616e646f6dn, v2 = k0 ^ 0x6c7967656e657261n, v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & M64; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M64; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & M64; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & M64; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const whole = msg.length - (msg.length % 8);
  for (let i = 0; i < whole; i += 8) { const m = le(msg, i); v3 ^= m; round(); round(); v0 ^= m; }
  let b = BigInt(msg.length & 0xff) << 56n;
  for (let i = 0; i < msg.length % 8; i++) b |= BigInt(msg[whole + i]!) << BigInt(8 * i);
  v3 ^= b; round(); round(); v0 ^= b; v2 ^= 0xffn; round(); round(); round(); round();
  return v0 ^ v1 ^ v2 ^ v3;
}

/** RFC 1071 checksum, plain JS. */
function csum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

t.test('SipHash-2-4: the paper\'s vectors and a BigInt reference', async (t) => {
  const key = seq(16);
  t.equal(native.sipHash(key, seq(0)), 0x726fdb47dd0e0e31n, 'empty message');
  t.equal(native.sipHash(key, seq(15)), 0xa129ca6149be45e5n, '15 bytes (paper, appendix A)');
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  for (let n = 0; n < 64; n++) {
    const k = Uint8Array.from({ length: 16 }, rnd);
    const m = Uint8Array.from({ length: n }, rnd);
    if (native.sipHash(k, m) !== sipRef(k, m)) { t.fail(`length ${n} differs`); return; }
  }
  t.pass('64 random keys and lengths 0-63 agree with the reference');
  t.throws(() => native.sipHash(seq(8), seq(1)), /16 bytes/);
});

const cfg: WireSpec = {
  srcMac: Uint8Array.from([2, 0, 0, 0, 0, 1]),
  dstMac4: Uint8Array.from([2, 0, 0, 0, 0, 2]),
  dstMac6: Uint8Array.from([2, 0, 0, 0, 0, 3]),
  src4: Uint8Array.from([198, 18, 0, 1]),
  src6: Uint8Array.from([0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  sourcePort: 61234,
  ttl: 55,
  window: 1024,
  key: Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i),
};

t.test('IPv4 SYN frame: headers, options, checksums, cookie', async (t) => {
  const dst = Uint8Array.from([198, 19, 7, 9]);
  const f = native.buildSynFrame(cfg, 4, dst, 443, 0x123456);
  t.equal(f.length, 14 + 20 + 24);
  t.same([...f.subarray(0, 6)], [...cfg.dstMac4!], 'Ethernet destination: the IPv4 next hop');
  t.same([...f.subarray(6, 12)], [...cfg.srcMac]);
  t.equal(f.readUInt16BE(12), 0x0800);
  const ip = f.subarray(14, 34);
  t.equal(ip[0], 0x45);
  t.equal(ip.readUInt16BE(2), 44, 'total length');
  t.equal(ip[8], 55, 'TTL');
  t.equal(ip[9], 6, 'protocol TCP');
  t.equal(ip.readUInt16BE(6), 0, 'no DF, not a fragment');
  t.same([...ip.subarray(12, 16)], [...cfg.src4!]);
  t.same([...ip.subarray(16, 20)], [...dst]);
  t.equal(csum(ip), 0, 'IPv4 header checksum verifies');
  const tcp = f.subarray(34);
  t.equal(tcp.readUInt16BE(0), 61234, 'source port');
  t.equal(tcp.readUInt16BE(2), 443);
  t.equal(tcp[12]! >> 4, 6, 'data offset: 24 bytes');
  t.equal(tcp[13], 0x02, 'SYN only');
  t.equal(tcp.readUInt16BE(14), 1024, 'window');
  t.same([...tcp.subarray(20, 24)], [2, 4, 0x05, 0xb4], 'options: MSS 1460');
  const pseudo = Buffer.concat([Buffer.from(cfg.src4!), Buffer.from(dst), Buffer.from([0, 6, 0, 24])]);
  t.equal(csum(pseudo, tcp), 0, 'TCP checksum over the IPv4 pseudo-header verifies');
  const cookie = native.probeCookie(cfg.key!, 4, cfg.src4!, dst, 61234, 443);
  t.equal(tcp.readUInt32BE(4), (cookie + 0x123456) >>> 0, 'seq = cookie + tag');
  const msg = Buffer.concat([Buffer.from(cfg.src4!), Buffer.from(dst), Buffer.from([61234 >> 8, 61234 & 255, 1, 0xbb])]);
  t.equal(BigInt(cookie), sipRef(cfg.key!, msg) & 0xffffffffn, 'cookie = SipHash(key, saddr‖daddr‖sport‖dport), low 32 bits');
  t.equal(tcp.readUInt32BE(8), 0, 'ack 0');
  const other = native.buildSynFrame({ ...cfg, key: new Uint8Array(16) }, 4, dst, 443, 0x123456);
  t.not(other.readUInt32BE(38), tcp.readUInt32BE(4), 'another key, another sequence number');
});

t.test('a SYN frame built with a given MAC (a host on the local link) differs only in the Ethernet destination', async (t) => {
  t.equal(native.selfTest(), null, 'native self-tests pass (they build frames with a given MAC too)');
  const hostMac = Uint8Array.from([0x02, 0x00, 0xc6, 0x12, 0x00, 0x37]);
  for (const [family, dst] of [
    [4, Uint8Array.from([198, 18, 0, 55])],
    [6, Uint8Array.from([0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x37])],
  ] as const) {
    const viaTemplate = native.buildSynFrame(cfg, family, dst, 80, 42);
    const viaHost = native.buildSynFrame(cfg, family, dst, 80, 42, hostMac);
    t.same([...viaHost.subarray(0, 6)], [...hostMac], `IPv${family}: Ethernet destination is the given MAC`);
    t.same([...viaTemplate.subarray(0, 6)], [...(family === 4 ? cfg.dstMac4! : cfg.dstMac6!)], `IPv${family}: without one, the template's next hop`);
    t.same(viaHost.subarray(6), viaTemplate.subarray(6), `IPv${family}: source MAC, IP and TCP (checksums, cookie) unchanged`);
  }
  t.throws(() => native.buildSynFrame(cfg, 4, Uint8Array.from([198, 18, 0, 55]), 80, 1, new Uint8Array(5)), /dstMac must be 6 bytes/);
});

t.test('IPv6 SYN frame: header and the IPv6 pseudo-header checksum', async (t) => {
  const dst = Uint8Array.from([0x20, 1, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x42]);
  const f = native.buildSynFrame(cfg, 6, dst, 22, 7);
  t.equal(f.length, 14 + 40 + 24);
  t.same([...f.subarray(0, 6)], [...cfg.dstMac6!], 'Ethernet destination: the IPv6 next hop');
  t.equal(f.readUInt16BE(12), 0x86dd);
  const ip = f.subarray(14, 54);
  t.equal(ip[0]! >> 4, 6);
  t.equal(ip.readUInt16BE(4), 24, 'payload length');
  t.equal(ip[6], 6, 'next header TCP');
  t.equal(ip[7], 55, 'hop limit');
  const tcp = f.subarray(54);
  const pseudo = Buffer.concat([Buffer.from(cfg.src6!), Buffer.from(dst), Buffer.from([0, 0, 0, 24, 0, 0, 0, 6])]);
  t.equal(csum(pseudo, tcp), 0, 'TCP checksum over the IPv6 pseudo-header verifies');
  t.equal(tcp.readUInt32BE(4), (native.probeCookie(cfg.key!, 6, cfg.src6!, dst, 61234, 22) + 7) >>> 0);
  t.throws(() => native.buildSynFrame(cfg, 6, Uint8Array.from([1, 2, 3, 4]), 22, 7), /disagree/);
});

/** A hand-made reply frame: Ethernet + IPv4/IPv6 + the given L4 bytes. */
function frame(family: 4 | 6, src: Uint8Array, dst: Uint8Array, proto: number, l4: Buffer, ttl = 61): Buffer {
  const eth = Buffer.from([...cfg.srcMac, ...cfg.dstMac4!, family === 4 ? 0x08 : 0x86, family === 4 ? 0x00 : 0xdd]);
  if (family === 4) {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45; ip.writeUInt16BE(20 + l4.length, 2); ip[8] = ttl; ip[9] = proto;
    ip.set(src, 12); ip.set(dst, 16);
    ip.writeUInt16BE(csum(ip), 10);
    return Buffer.concat([eth, ip, l4]);
  }
  const ip = Buffer.alloc(40);
  ip[0] = 0x60; ip.writeUInt16BE(l4.length, 4); ip[6] = proto; ip[7] = ttl;
  ip.set(src, 8); ip.set(dst, 24);
  return Buffer.concat([eth, ip, l4]);
}

function tcpSeg(sport: number, dport: number, seq: number, ack: number, flags: number, window: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(sport, 0); b.writeUInt16BE(dport, 2); b.writeUInt32BE(seq >>> 0, 4); b.writeUInt32BE(ack >>> 0, 8);
  b[12] = 0x50; b[13] = flags; b.writeUInt16BE(window, 14);
  return b;
}

t.test('reply parsing: SYN-ACK, RST, ICMP unreachables, and what is not a reply', async (t) => {
  const target = Uint8Array.from([198, 19, 0, 5]);
  const probeSeq = 0xfffffff0; // ack = seq + 1 wraps nowhere here, but close to the edge
  const synack = native.parseReply(frame(4, target, cfg.src4!, 6, tcpSeg(80, 61234, 999, probeSeq + 1, 0x12, 29200)));
  t.match(synack, { kind: 'syn-ack', family: 4, peerPort: 80, localPort: 61234, probeSeq, ttl: 61, window: 29200 });
  t.same([...synack!.peer], [...target]);
  t.same([...synack!.local], [...cfg.src4!]);
  const wrap = native.parseReply(frame(4, target, cfg.src4!, 6, tcpSeg(80, 61234, 1, 0, 0x12, 1)));
  t.equal(wrap!.probeSeq, 0xffffffff, 'ack 0 means the probe\'s seq was 2^32 - 1');

  const t6 = Uint8Array.from([0x20, 1, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x42]);
  const rst = native.parseReply(frame(6, t6, cfg.src6!, 6, tcpSeg(22, 61234, 0, 12346, 0x14, 0), 64));
  t.match(rst, { kind: 'rst', family: 6, peerPort: 22, localPort: 61234, probeSeq: 12345, ttl: 64 });

  // ICMP port unreachable quoting our probe: IPv4 header of the probe + 8 bytes of its TCP header.
  const probe = native.buildSynFrame(cfg, 4, target, 8443, 3);
  const quoted = probe.subarray(14, 14 + 28);
  const icmp = Buffer.concat([Buffer.from([3, 13, 0, 0, 0, 0, 0, 0]), quoted]);
  const router = Uint8Array.from([198, 18, 0, 254]);
  const un = native.parseReply(frame(4, router, cfg.src4!, 1, icmp));
  t.match(un, { kind: 'icmp', family: 4, peerPort: 8443, localPort: 61234, icmpType: 3, icmpCode: 13, probeSeq: probe.readUInt32BE(38) });
  t.same([...un!.peer], [...target], 'the target is the quoted destination, not the router');

  const probe6 = native.buildSynFrame(cfg, 6, t6, 25, 1);
  const icmp6 = Buffer.concat([Buffer.from([1, 4, 0, 0, 0, 0, 0, 0]), probe6.subarray(14, 14 + 48)]);
  t.match(native.parseReply(frame(6, t6, cfg.src6!, 58, icmp6)), { kind: 'icmp', family: 6, peerPort: 25, icmpType: 1, icmpCode: 4 });

  // Not replies: a bare ACK, a SYN without ACK, an echo reply, a fragment, truncations, ARP.
  t.equal(native.parseReply(frame(4, target, cfg.src4!, 6, tcpSeg(80, 61234, 1, 2, 0x10, 1))), null, 'bare ACK');
  t.equal(native.parseReply(frame(4, target, cfg.src4!, 6, tcpSeg(80, 61234, 1, 0, 0x02, 1))), null, 'SYN without ACK');
  t.equal(native.parseReply(frame(4, target, cfg.src4!, 1, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]))), null, 'echo reply');
  const frag = frame(4, target, cfg.src4!, 6, tcpSeg(80, 61234, 1, 2, 0x12, 1));
  frag.writeUInt16BE(0x2000, 14 + 6);
  t.equal(native.parseReply(frag), null, 'IPv4 fragment');
  const full = frame(4, target, cfg.src4!, 6, tcpSeg(80, 61234, 1, 2, 0x12, 1));
  for (let n = 0; n < full.length; n++) {
    if (native.parseReply(full.subarray(0, n)) !== null) { t.fail(`truncated to ${n} bytes parsed`); return; }
  }
  t.pass('every truncation of a SYN-ACK is refused');
  t.equal(native.parseReply(Buffer.from([...cfg.srcMac, ...cfg.dstMac4!, 0x08, 0x06, ...new Array(28).fill(0)])), null, 'ARP');
  let seed = 99;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.from(full);
    for (let k = 0; k < 1 + (i % 6); k++) b[rnd() % b.length] = rnd();
    native.parseReply(b.subarray(0, rnd() % (b.length + 1)));
  }
  t.pass('20000 mutated frames parse without a crash');
});

t.test('RawEngine refuses bad configurations', async (t) => {
  const cb = () => {};
  t.throws(() => new native.RawEngine({ ...cfg, ifname: 'lo', sourcePort: 0 }, cb), /sourcePort/);
  t.throws(() => new native.RawEngine({ ...cfg, ifname: 'lo', srcMac: new Uint8Array(5) }, cb), /srcMac must be 6 bytes/);
  t.throws(() => new native.RawEngine({ srcMac: cfg.srcMac, sourcePort: 1, ifname: 'lo' }, cb), /src4 and\/or src6/);
  t.throws(() => new native.RawEngine({ srcMac: cfg.srcMac, src4: cfg.src4, sourcePort: 1, ifname: 'lo' }, cb), /needs dstMac4/);
  const e = new native.RawEngine({ ...cfg, ifname: 'lo' }, cb);
  t.throws(() => e.enqueue(4, 0, new Uint8Array(4), new Uint8Array(2)), /not running/);
  await e.stop();
});
