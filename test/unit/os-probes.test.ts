// The OS probe table and the reply collector that pairs replies with probes.
import t from 'tap';
import { OS_PROBES, OS_TCP_OPTION_SETS, OsReplyCollector, computeFingerprint, type DecodedOsReply, type OsTcpReply } from '../../stages/os/index.js';

t.test('the probe table', async (t) => {
  t.same(OS_PROBES.map((p) => p.name), ['SEQ1', 'SEQ2', 'SEQ3', 'SEQ4', 'SEQ5', 'SEQ6', 'ECN', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'IE1', 'IE2', 'U1']);
  // Option set sizes: 20 20 20 16 20 16, ECN 12, T2–T7 20 each.
  t.same(OS_TCP_OPTION_SETS.map((o) => o.length), [20, 20, 20, 16, 20, 16, 12, 20, 20, 20, 20, 20, 20]);
  t.same(Array.from(OS_TCP_OPTION_SETS[12]!.subarray(0, 3)), [3, 3, 15], 'T7 scales its window by 15');
  const ecn = OS_PROBES.find((p) => p.name === 'ECN');
  t.match(ecn, { kind: 'tcp', flags: 0xc2, window: 3, urgentPointer: 63477, reserved: 8, ack: 'zero', df: false });
  t.same(OS_PROBES.filter((p) => p.kind === 'tcp' && p.df).map((p) => p.name), ['T2', 'T4', 'T6']);
});

const tcp = (sport: number, dport: number, flags: number, seq = 1): DecodedOsReply => ({
  proto: 'tcp', src: '198.18.0.2', dst: '198.18.0.1',
  reply: { ip: { id: 0, ttl: 64, df: true, totalLength: 40 }, sport, dport, seq, ack: 0, flags, window: 0, urgentPointer: 0, reserved: 0, options: [], payload: new Uint8Array(0) } as OsTcpReply,
});

t.test('the collector pairs replies by ports and ids, first reply only', async (t) => {
  const c = new OsReplyCollector({
    tcpSource: { SEQ1: 40000, SEQ2: 40001, ECN: 40012, T5: 40017 }, openTcpPort: 22, closedTcpPort: 1, icmpId: 0xffff, udpSource: 50000, udpDest: 33000,
  });
  t.equal(c.offer(tcp(22, 40001, 0x12)), 'SEQ2');
  t.equal(c.offer(tcp(22, 40000, 0x12)), 'SEQ1');
  t.equal(c.offer(tcp(22, 40000, 0x12, 99)), undefined, 'a duplicate is dropped');
  t.equal(c.offer(tcp(1, 40000, 0x14)), undefined, 'right port pair only: closed port to a SEQ source');
  t.equal(c.offer(tcp(1, 40017, 0x14)), 'T5');
  t.equal(c.offer({ proto: 'icmp-echo-reply', src: '', dst: '', reply: { ip: { id: 5, ttl: 64, df: false, totalLength: 148 }, type: 0, code: 0, id: 0, seq: 296 } }), 'IE2', 'IE2 is id + 1 (wrapping)');
  const quoted = Uint8Array.from([0x45, 0, 1, 0x48, 0x10, 0x42, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3, 0x50, 0x80, 0xe8, 1, 0x34, 0, 0]);
  t.equal(c.offer({ proto: 'icmp-unreach', src: '', dst: '', reply: { ip: { id: 1, ttl: 64, df: false, totalLength: 56 }, type: 3, code: 3, unused: 0, quoted } }), 'U1');
  t.equal(c.offer({ proto: 'other', src: '', dst: '' }), undefined);
  t.same(c.missing(), ['SEQ3', 'SEQ4', 'SEQ5', 'SEQ6', 'ECN', 'T2', 'T3', 'T4', 'T6', 'T7', 'IE1']);
  const r = c.replies();
  t.same(r.seq.map(([i]) => i), [1, 0], 'SEQ replies in arrival order');
  t.equal(r.t[4]?.flags, 0x14);
  t.equal(r.ie[0], null);
  t.ok(r.u1);
  t.ok(computeFingerprint({
    openTcpPort: 22, closedTcpPort: 1, closedTcpPortKnown: true, closedUdpPort: 33000, tcpSeqBase: 0, tcpAck: 0, seqSentUs: [0, 1, 2, 3, 4, 5],
    u1: { ttl: 64, ipId: 0x1042, udpChecksum: 0, patternByte: 0x43, sport: 50000, dport: 33000 },
  }, r).fingerprint.tests.length > 0, 'what it collects is what computeFingerprint takes');
});
