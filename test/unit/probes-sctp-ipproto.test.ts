// The SCTP scans (-sY, -sZ) and the IP protocol scan (-sO) without a network: what native builds
// for each (chunks, checksums checked by a CRC32c written here, per-protocol headers), how
// hand-made replies parse and classify, and how -sO reads -p and nmap-protocols.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadNative, PROTO_SCAN, type WireSpec } from '../../native/index.js';
import { probeModule, ReplyView, replyLayout } from '../../stages/probes/index.js';
import { selectPorts } from '../../stages/targets/index.js';
import { loadServicesTable, parseProtocols } from '../../stages/datafiles/index.js';

const native = loadNative();
const base: WireSpec = {
  srcMac: Uint8Array.from([2, 0, 0, 0, 0, 1]), dstMac4: Uint8Array.from([2, 0, 0, 0, 0, 2]),
  src4: Uint8Array.from([198, 18, 0, 1]), sourcePort: 61234, key: Uint8Array.from({ length: 16 }, (_, i) => i),
};
const dst = Uint8Array.from([198, 18, 0, 2]);

/** CRC32c, bit by bit (RFC 9260 appendix A's polynomial, reflected). */
function crc32c(b: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of b) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
/** An SCTP packet's checksum is right: CRC32c over it with the field zeroed, least significant byte first. */
function sctpChecksumOk(sctp: Buffer): boolean {
  const copy = Buffer.from(sctp);
  copy.fill(0, 8, 12);
  return sctp.readUInt32LE(8) === crc32c(copy);
}

t.test('the test\'s CRC32c is the standard one', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

t.test('-sY: one INIT chunk, vtag 0, nmap\'s stream counts, a valid CRC32c; -sZ: a COOKIE-ECHO under a non-zero vtag', async (t) => {
  const init = native.buildProbeFrames({ ...base, ...probeModule('sctpinit')!.wire({}) }, 4, dst, 80, 1);
  t.equal(init.length, 1);
  const ip = init[0]!.subarray(14);
  t.equal(ip[9], 132, 'IP protocol 132');
  const s = ip.subarray(20);
  t.equal(s.readUInt16BE(0), 61234, 'source port');
  t.equal(s.readUInt16BE(2), 80, 'destination port');
  t.equal(s.readUInt32BE(4), 0, 'vtag 0 in an INIT');
  t.equal(s[12], 1, 'chunk INIT');
  t.equal(s.readUInt16BE(14), 20, 'chunk length 20');
  t.not(s.readUInt32BE(16), 0, 'an initiate tag');
  t.equal(s.readUInt32BE(20), 32768, 'a_rwnd');
  t.equal(s.readUInt16BE(24), 10, 'outbound streams');
  t.equal(s.readUInt16BE(26), 2048, 'inbound streams');
  t.ok(sctpChecksumOk(s), 'CRC32c verifies');
  const bad = native.buildProbeFrames({ ...base, ...probeModule('sctpinit')!.wire({}), badsum: true }, 4, dst, 80, 1)[0]!.subarray(34);
  t.notOk(sctpChecksumOk(bad), '--badsum breaks it');
  const ce = native.buildProbeFrames({ ...base, ...probeModule('sctpcookieecho')!.wire({}) }, 4, dst, 80, 1)[0]!.subarray(34);
  t.equal(ce[12], 10, 'chunk COOKIE-ECHO');
  t.equal(ce.readUInt16BE(14), 8, 'with a 4-byte cookie');
  t.not(ce.readUInt32BE(4), 0, 'under a vtag');
  t.ok(sctpChecksumOk(ce), 'CRC32c verifies');
  const v6 = native.buildProbeFrames({ ...base, src6: new Uint8Array(16).fill(1), dstMac6: base.dstMac4, ...probeModule('sctpinit')!.wire({}) }, 6, new Uint8Array(16).fill(2), 80, 1)[0]!;
  t.equal(v6[14 + 6], 132, 'IPv6 next header 132');
  t.ok(sctpChecksumOk(v6.subarray(54)), 'IPv6: CRC32c verifies (no pseudo-header in SCTP)');
});

/** An Ethernet+IPv4 frame from dst to us carrying `l4` in protocol `proto`. */
function frame(proto: number, l4: Buffer): Buffer {
  const f = Buffer.alloc(34 + l4.length);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; f.writeUInt16BE(20 + l4.length, 16); f[22] = 64; f[23] = proto;
  Buffer.from(dst).copy(f, 26); Buffer.from(base.src4!).copy(f, 30);
  l4.copy(f, 34);
  return f;
}
const sctpReply = (chunk: number) => {
  const s = Buffer.alloc(16);
  s.writeUInt16BE(80, 0); s.writeUInt16BE(61234, 2); s[12] = chunk; s.writeUInt16BE(4, 14);
  return frame(132, s);
};

t.test('SCTP replies parse with their chunk type', async (t) => {
  const spec = { ...base, ...probeModule('sctpinit')!.wire({}) };
  t.match(native.parseReply(sctpReply(2), spec), { kind: 'sctp', sctpChunk: 2, peerPort: 80, localPort: 61234 });
  t.match(native.parseReply(sctpReply(6), spec), { kind: 'sctp', sctpChunk: 6 });
  t.equal(native.parseReply(sctpReply(2), base), null, 'a TCP scan takes no SCTP');
});

t.test('-sO: a header fit for each protocol, the protocol number in the IP header', async (t) => {
  const spec = { ...base, ...probeModule('ipproto')!.wire({}) };
  t.equal(spec.ipProto, PROTO_SCAN);
  const one = (p: number) => { const f = native.buildProbeFrames(spec, 4, dst, p, 0); t.equal(f.length, 1, `protocol ${p}: one frame`); return f[0]!.subarray(14); };
  const icmp = one(1);
  t.equal(icmp[9], 1);
  t.equal(icmp[20], 8, 'ICMP: echo request');
  t.equal(native.checksum(icmp.subarray(20)), 0, 'ICMP checksum');
  t.not(icmp.readUInt16BE(24), 0, 'a non-zero identifier');
  const igmp = one(2);
  t.equal(igmp[20], 0x11, 'IGMP: membership query');
  t.equal(native.checksum(igmp.subarray(20)), 0, 'IGMP checksum');
  const tcp = one(6);
  t.equal(tcp.readUInt16BE(22), 80, 'TCP: to port 80');
  t.equal(tcp[33], 0x10, 'TCP: ACK');
  const udp = one(17);
  t.equal(udp.readUInt16BE(22), 40125, 'UDP: to port 40125');
  t.equal(udp.readUInt16BE(24), 8, 'UDP: empty');
  const sctp = one(132);
  t.equal(sctp[32], 1, 'SCTP: INIT');
  t.ok(sctpChecksumOk(sctp.subarray(20)), 'SCTP: CRC32c');
  for (const p of [0, 47, 99, 255]) {
    const ip = one(p);
    t.equal(ip[9], p, `protocol ${p} in the header`);
    t.equal(ip.length, 20, `protocol ${p}: the IP header alone`);
  }
  const data = native.buildProbeFrames({ ...spec, payload: Buffer.from('abc') }, 4, dst, 99, 0)[0]!.subarray(34);
  t.equal(data.toString(), 'abc', '--data… after the header');
  const v6 = native.buildProbeFrames({ ...spec, src6: new Uint8Array(16).fill(1), dstMac6: base.dstMac4 }, 6, new Uint8Array(16).fill(2), 58, 0)[0]!;
  t.equal(v6[14 + 6], 58, 'IPv6: next header 58');
  t.equal(v6[54], 128, 'ICMPv6 echo request');
});

/** An ICMP error from dst quoting a probe of protocol `quoted` from us to dst. */
function icmpError(type: number, code: number, quoted: number): Buffer {
  const q = Buffer.alloc(28);
  q[0] = 0x45; q.writeUInt16BE(20, 2); q[8] = 64; q[9] = quoted;
  Buffer.from(base.src4!).copy(q, 12); Buffer.from(dst).copy(q, 16);
  const icmp = Buffer.concat([Buffer.from([type, code, 0, 0, 0, 0, 0, 0]), q.subarray(0, 20)]);
  return frame(1, icmp);
}

t.test('-sO: replies name the protocol they answer, and classify as nmap does', async (t) => {
  const spec = { ...base, ...probeModule('ipproto')!.wire({}) };
  t.match(native.parseReply(icmpError(3, 2, 99), spec), { kind: 'icmp', peerPort: 99, ipProto: 99, icmpCode: 2 }, 'proto unreachable for 99');
  t.match(native.parseReply(icmpError(3, 3, 17), spec), { kind: 'icmp', peerPort: 17 }, 'port unreachable quoting the UDP probe');
  t.match(native.parseReply(frame(1, Buffer.from([0, 0, 0, 0, 0, 1, 0, 0])), spec), { kind: 'proto', peerPort: 1 }, 'echo reply');
  t.equal(native.parseReply(frame(1, Buffer.from([8, 0, 0, 0, 0, 1, 0, 0])), spec), null, 'an echo request answers nothing');
  const rst = Buffer.alloc(20);
  rst.writeUInt16BE(80, 0); rst.writeUInt16BE(61234, 2); rst[12] = 0x50; rst[13] = 0x04;
  t.match(native.parseReply(frame(6, rst), spec), { kind: 'rst', peerPort: 6 }, 'a RST to our port answers protocol 6');
  rst.writeUInt16BE(1234, 2);
  t.equal(native.parseReply(frame(6, rst), spec), null, 'to another port: not ours');
  t.match(native.parseReply(frame(47, Buffer.alloc(4)), spec), { kind: 'proto', peerPort: 47 }, 'any packet of another protocol');

  const K = replyLayout();
  const packed = (fields: Record<string, number | number[]>) => {
    const b = Buffer.alloc(K.size);
    for (const [name, v] of Object.entries(fields)) {
      const [off] = K.fields[name as keyof typeof K.fields];
      if (Array.isArray(v)) Buffer.from(v).copy(b, off); else b[off] = v;
    }
    return b;
  };
  const target = [198, 18, 0, 2], router = [198, 18, 0, 254];
  const c = (name: string, f: Record<string, number | number[]>) => {
    const v = probeModule(name)!.classify(new ReplyView(packed({ family: 4, addr: target, from: target, ...f })).at(0));
    return v && `${v.state} ${v.reason}`;
  };
  t.equal(c('ipproto', { kind: K.kinds.icmp, icmpType: 3, icmpCode: 2, ipProto: 99 }), 'closed proto-unreach');
  t.equal(c('ipproto', { kind: K.kinds.icmp, icmpType: 3, icmpCode: 2, from: router }), 'filtered proto-unreach', 'from a router: filtered');
  t.equal(c('ipproto', { kind: K.kinds.icmp, icmpType: 3, icmpCode: 3 }), 'open port-unreach', 'a UDP stack answered');
  t.equal(c('ipproto', { kind: K.kinds.icmp, icmpType: 3, icmpCode: 13 }), 'filtered admin-prohibited');
  t.equal(c('ipproto', { kind: K.kinds.tcp, tcpFlags: 4, ipProto: 6 }), 'open proto-response');
  t.equal(c('ipproto', { kind: K.kinds.proto, ipProto: 1 }), 'open proto-response', 'an echo reply');
  t.equal(c('ipproto', { kind: K.kinds.icmp, family: 6, icmpType: 4, icmpCode: 1 }), 'closed param-problem', 'ICMPv6 unrecognized next header');
  t.equal(c('ipproto', { kind: K.kinds.icmp, family: 6, icmpType: 4, icmpCode: 0 }), 'open param-problem', 'ICMPv6 erroneous header field: the host read it');
  t.equal(probeModule('ipproto')!.noAnswer.state, 'open|filtered');
  t.equal(c('sctpinit', { kind: K.kinds.sctp, sctpChunk: 2 }), 'open init-ack');
  t.equal(c('sctpinit', { kind: K.kinds.sctp, sctpChunk: 6 }), 'closed abort');
  t.equal(c('sctpinit', { kind: K.kinds.icmp, icmpType: 3, icmpCode: 13 }), 'filtered admin-prohibited');
  t.equal(probeModule('sctpinit')!.noAnswer.state, 'filtered');
  t.equal(c('sctpcookieecho', { kind: K.kinds.sctp, sctpChunk: 6 }), 'closed abort');
  t.equal(c('sctpcookieecho', { kind: K.kinds.sctp, sctpChunk: 2 }), undefined, 'an INIT-ACK answers no COOKIE-ECHO');
  t.equal(probeModule('sctpcookieecho')!.noAnswer.state, 'open|filtered');
});

t.test('-sO ports: protocol numbers 0-255, names from nmap-protocols, all 256 by default', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-protocols-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'nmap-services'), 'http\t80/tcp\t0.5\n');
  fs.writeFileSync(path.join(dir, 'nmap-protocols'), '# hand-written\nicmp 1 # Internet Control\nudp 17\nbroken x\ntcp 6\n');
  const services = () => loadServicesTable(dir);
  const sel = (o: Parameters<typeof selectPorts>[0]) => selectPorts({ protocols: ['ip'], ...o }, services);
  const all = sel({});
  t.equal(all.count, 256);
  t.equal(all.lists.ip, '0-255');
  t.ok([...all.protos].every((p) => p === 0), 'entries marked as protocol-scan probes');
  t.same([...sel({ ports: 'udp,1-2,255' }).ports], [1, 2, 17, 255], 'names, ranges, numbers');
  t.same([...sel({ fast: true }).ports], [1, 6, 17], '-F: the protocols nmap-protocols names');
  t.throws(() => sel({ ports: '256' }), /0-255/);
  t.throws(() => sel({ ports: 'nosuch' }), /nosuch/);
  t.throws(() => sel({ topPorts: 5 }), /--top-ports does not apply to -sO/);
  t.throws(() => selectPorts({ protocols: ['ip', 'tcp'] }, services), /runs alone/);
  t.same([...parseProtocols('a 1\nb 300\nc 2 # x\n')], [[1, 'a'], [2, 'c']], 'numbers above 255 are skipped');
  t.equal(services().serviceName(17, 'ip'), 'udp', 'the SERVICE column of -sO comes from nmap-protocols');
});
