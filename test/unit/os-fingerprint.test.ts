// Fingerprint computation from hand-written replies. Every expected value below was worked out
// by hand from nmap's formulas (see stages/os/fingerprint.ts's header; the arithmetic is in the comments),
// not produced by the code under test.
import t from 'tap';
import {
  classifyIpIds, computeFingerprint, crc32, decodeIpv4Reply, decodeTcpOptions, initialTtlGuess, ipIdClassValue, tcpOptionString,
  type OsIcmpEchoReply, type OsIcmpUnreachReply, type OsProbeContext, type OsReplies, type OsTcpOption, type OsTcpReply,
} from '../../stages/os/index.js';
import { fingerprintText } from '../../stages/os/index.js';

const SYN = 0x02, RST = 0x04, ACK = 0x10, ECE = 0x40;

function tcp(over: Partial<OsTcpReply> & { ttl?: number; df?: boolean; id?: number }): OsTcpReply {
  const { ttl = 64, df = true, id = 0, ...rest } = over;
  return {
    ip: { id, ttl, df, totalLength: 60 }, sport: 22, dport: 40000, seq: 0, ack: 0, flags: 0, window: 0,
    urgentPointer: 0, reserved: 0, options: [], payload: new Uint8Array(0), ...rest,
  };
}

const LINUXISH: OsTcpOption[] = [
  { kind: 'mss', value: 1460 }, { kind: 'sackok' }, { kind: 'timestamp', tsval: 1, tsecr: 1 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 },
];

const ctx: OsProbeContext = {
  openTcpPort: 22, closedTcpPort: 1, closedTcpPortKnown: true, closedUdpPort: 33000,
  tcpSeqBase: 0x1000, tcpAck: 0xabcdef00,
  seqSentUs: [1e6, 1.1e6, 1.2e6, 1.3e6, 1.4e6, 1.5e6],
  seqSentUnixSeconds: 1_700_000_000,
  u1: { ttl: 64, ipId: 0x1042, udpChecksum: 0xbeef, patternByte: 0x43, sport: 40000, dport: 33000 },
};

// ISNs 0x10000000 then +1000, +2000, +3000, +4000, +5000 (sent 100 ms apart):
//   rates 10000 20000 30000 40000 50000 /s, mean 30000 → ISR = trunc(8·log2(30000) + 0.5) = trunc(119.48) = 119 = 0x77
//   GCD 1000 = 0x3E8 (> 9, so rates are divided by it): 10 20 30 40 50, mean 30,
//   squared deviations 400+100+0+100+400 = 1000, /(6−2) = 250, √ = 15.81, 8·log2 + 0.5 = 32.36 → SP = 32 = 0x20
const ISN = [0x10000000, 0x100003e8, 0x10000bb8, 0x10001770, 0x10002710, 0x10003a98];
// TSvals +10 every 100 ms → 100 Hz → TS = 7; uptime 360000/100 = 3600 s → lastboot 1_700_000_000 − 3600.
const seqReplies = ISN.map((isn, i): [number, OsTcpReply] => [i, tcp({
  flags: SYN | ACK, seq: isn, ack: 0x1000 + i + 1, window: 0xfaf0, id: 0x2000 + i,
  options: LINUXISH.map((o) => (o.kind === 'timestamp' ? { kind: 'timestamp', tsval: 360000 + 10 * i, tsecr: 0xffffffff } : o)),
})]);

const hello = new TextEncoder().encode('hello');
// A valid IPv4 header (checksum B861 is correct for these bytes), TTL 0x40, total length 0x73, id 0.
const QUOTED_IP = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7];
const quotedUdp = (checksum: number, data: number[]) => [0x9c, 0x40, 0x80, 0xe8, 0x00, 8 + data.length, checksum >> 8, checksum & 0xff, ...data];
const u1Reply = (quoted: number[]): OsIcmpUnreachReply => ({
  ip: { id: 7, ttl: 64, df: false, totalLength: 0x164 }, type: 3, code: 3, unused: 0, quoted: Uint8Array.from(quoted),
});
const echo = (code: number, id: number, ttl = 64, df = false): OsIcmpEchoReply => ({ ip: { id, ttl, df, totalLength: 148 }, type: 0, code, id: 1, seq: 295 });

function fullReplies(): OsReplies {
  return {
    seq: seqReplies,
    ecn: tcp({
      flags: SYN | ACK | ECE, window: 0xfaf0, reserved: 1, urgentPointer: 5,
      options: [{ kind: 'mss', value: 1460 }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'sackok' }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }],
    }),
    t: [
      null, null, null,
      tcp({ flags: RST, seq: 0xabcdef00 }), //                                T4: S=A (our ack), A=Z
      tcp({ flags: RST | ACK, seq: 0, ack: 0x1001, payload: hello }), //       T5: S=Z, A=S+, RD = CRC-32("hello") = 3610A686
      tcp({ flags: RST, seq: 0xabcdef01, ack: 0x1000, df: false }), //         T6: S=A+, A=S
      tcp({ flags: 0xff, seq: 12345, ack: 7, window: 0x100, urgentPointer: 9, //  T7: every flag, in nmap's order E U A P R S F
        options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', tsval: 0, tsecr: 0 }, { kind: 'eol' }, { kind: 'eol' }] }),
    ],
    u1: u1Reply([...QUOTED_IP, ...quotedUdp(0xbeef, Array(10).fill(0x43))]),
    ie: [echo(9, 0x2006), echo(0, 0x2007, 63)],
  };
}

t.test('a full round', async (t) => {
  const r = computeFingerprint(ctx, fullReplies());
  t.equal(fingerprintText(r.fingerprint), [
    // TI: IDs 2000..2005 step 1 → I; CI: T5–T7 IDs all 0 → Z; II: 2006, 2007 → I;
    // SS: step (2005−2000)/5 = 1, 2006 < 2005 + 3 → S
    'SEQ(SP=20%GCD=3E8%ISR=77%TI=I%CI=Z%II=I%SS=S%TS=7)',
    'OPS(O1=M5B4ST11NW7%O2=M5B4ST11NW7%O3=M5B4ST11NW7%O4=M5B4ST11NW7%O5=M5B4ST11NW7%O6=M5B4ST11NW7)',
    'WIN(W1=FAF0%W2=FAF0%W3=FAF0%W4=FAF0%W5=FAF0%W6=FAF0)',
    // ECE without CWR → CC=Y; reserved bits → R; urgent pointer without URG → U
    'ECN(R=Y%DF=Y%T=40%W=FAF0%O=M5B4NNSNW7%CC=Y%Q=RU)',
    // T1 is SEQ1's reply: ISN is not our ack → S=O; ack = base + 1 → S+
    'T1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)',
    'T2(R=N)',
    'T3(R=N)',
    'T4(R=Y%DF=Y%T=40%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)',
    'T5(R=Y%DF=Y%T=40%W=0%S=Z%A=S+%F=AR%O=%RD=3610A686%Q=)',
    'T6(R=Y%DF=N%T=40%W=0%S=A+%A=S%F=R%O=%RD=0%Q=)',
    'T7(R=Y%DF=Y%T=40%W=100%S=O%A=O%F=EUAPRSF%O=NNT00LL%RD=0%Q=)',
    // 356 = 0x164 back; quoted length 0x73 ≠ 328, id 0 ≠ 0x1042; its checksum verifies; UDP checksum and 'C's intact
    'U1(R=Y%DF=N%T=40%IPL=164%UN=0%RIPL=73%RID=0%RIPCK=G%RUCK=G%RUD=G)',
    // neither sets DF → N; codes 9 then 0 → S; T from IE1's TTL
    'IE(R=Y%DFI=N%T=40%CD=S)',
  ].join('\n'));
  t.equal(r.distance, 1, 'U1: sent TTL 64 − quoted TTL 64 + 1');
  t.equal(r.distanceGuess, 0, 'first TTL 64 starts at 64');
  t.equal(r.timingRatio, 1, '(1.5 s − 1.0 s) / 500 ms');
  t.same(r.seq, {
    responses: 6, seqs: ISN, ipids: [0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005],
    timestamps: [360000, 360010, 360020, 360030, 360040, 360050], index: 32, ipIdClass: { kind: 'incr' },
    tsClass: '100hz', tsHz: 100, lastboot: 1_699_996_400,
  });
});

t.test('distance known from U1 corrects T; hops beyond one show', async (t) => {
  const replies = fullReplies();
  // Quoted TTL 0x3E: the probe lost 2 on the way → distance 64 − 62 + 1 = 3; T = received + 2.
  const q = [...QUOTED_IP];
  q[8] = 0x3e;
  // Changing the TTL breaks the quoted checksum (B861 was for TTL 0x40) → RIPCK=I.
  replies.u1 = u1Reply([...q, ...quotedUdp(0x1234, [0x43, 0x44])]);
  replies.u1.ip.ttl = 62;
  replies.u1.unused = 0x00010002;
  const r = computeFingerprint(ctx, replies);
  t.equal(r.distance, 3);
  const u1 = r.fingerprint.tests.find((x) => x.name === 'U1')!;
  // T 62 + 3 − 1 = 64 = 0x40; UN is the low 16 bits of the unused word (nmap 7.93's %hX); RUCK shows the checksum; a 'D' → RUD=I
  t.same(u1.attrs, [['R', 'Y'], ['DF', 'N'], ['T', '40'], ['IPL', '164'], ['UN', '2'], ['RIPL', '73'], ['RID', '0'], ['RIPCK', 'I'], ['RUCK', '1234'], ['RUD', 'I']]);
  t.same(r.fingerprint.tests.find((x) => x.name === 'T1')!.attrs.find(([k]) => k === 'T'), ['T', '42'], 'T1: 64 + 3 − 1 = 66 = 0x42');
  const zeroCk = [...QUOTED_IP];
  zeroCk[10] = 0;
  zeroCk[11] = 0;
  replies.u1 = u1Reply([...zeroCk, ...quotedUdp(0xbeef, [])]);
  t.same(computeFingerprint(ctx, replies).fingerprint.tests.find((x) => x.name === 'U1')!.attrs.find(([k]) => k === 'RIPCK'), ['RIPCK', 'Z'], 'a zeroed checksum → Z');
  replies.u1 = u1Reply([...QUOTED_IP, 0x9c, 0x41, 0x80, 0xe8, 0, 8, 0xbe, 0xef]);
  t.equal(computeFingerprint(ctx, replies).fingerprint.tests.find((x) => x.name === 'U1')!.attrs[0]![1], 'N', 'an ICMP quoting another source port is not U1 → R=N');
});

t.test('partial replies: few SEQ answers, no U1, one echo, an unknown closed port', async (t) => {
  const partial: OsProbeContext = { ...ctx, closedTcpPortKnown: false };
  const noTs = (o: OsTcpOption[]) => o.filter((x) => x.kind !== 'timestamp');
  const r = computeFingerprint(partial, {
    // Three SYN/ACKs, IDs 100, 200, 300 (all differences 0x100 ≤ 5120 → BI), one without a timestamp → TS=U.
    seq: [
      [0, tcp({ flags: SYN | ACK, seq: 5, ack: 0x1001, id: 0x100, ttl: 57, window: 0x2000, options: LINUXISH })],
      [1, tcp({ flags: SYN | ACK, seq: 9, ack: 0x1002, id: 0x200, ttl: 57, window: 0x2000, options: noTs(LINUXISH) })],
      [2, tcp({ flags: SYN | ACK, seq: 20, ack: 0x1003, id: 0x300, ttl: 57, window: 0x2000, options: LINUXISH })],
    ],
    ecn: null,
    t: [null, null, null, null, null, null, null],
    u1: null,
    ie: [echo(0, 1), null],
  });
  t.equal(fingerprintText(r.fingerprint), [
    'SEQ(TI=BI%TS=U)', //             fewer than 4 replies: no SP/GCD/ISR; one echo: no II, no SS; OPS/WIN need all six
    'ECN(R=N)', //                    open port known → missing ECN and T1–T4 are R=N
    'T1(R=Y%DF=Y%TG=40%S=O%A=S+%F=AS%RD=0%Q=)', // no U1 → TG (57 → 64) in T's place
    'T2(R=N)',
    'T3(R=N)',
    'T4(R=N)', //                     the closed port was a guess → T5–T7 left out
    'U1(R=N)',
    'IE(R=N)',
  ].join('\n'));
  t.equal(r.distance, null);
  t.equal(r.distanceGuess, 7, '64 − 57');
});

t.test('what nmap discards: RSTs, repeated IP IDs, constant ISNs', async (t) => {
  // Every SEQ reply with IP ID 0x55: after the first, each looks like a duplicate → 1 sequencing sample,
  // no TI, no TS (fewer than 2) — the SEQ line is empty and left out. OPS/WIN still take all six.
  const dup = seqReplies.map(([i, r]): [number, OsTcpReply] => [i, { ...r, ip: { ...r.ip, id: 0x55 } }]);
  const r1 = computeFingerprint(ctx, { ...fullReplies(), seq: dup, t: [null, null, null, null, null, null, null], ie: [null, null] });
  t.equal(r1.fingerprint.tests[0]!.name, 'OPS', 'no SEQ test');
  t.equal(r1.seq.responses, 1);

  // A RST answering SEQ3 is no sequencing sample (5 left) but still gives O3 and W3.
  const withRst = seqReplies.map(([i, r]): [number, OsTcpReply] => [i, i === 2 ? tcp({ flags: RST | ACK, seq: 0, ack: 0x1003, id: 0x2002 }) : r]);
  const r2 = computeFingerprint(ctx, { ...fullReplies(), seq: withRst });
  t.equal(r2.seq.responses, 5);
  t.same(r2.fingerprint.tests.find((x) => x.name === 'OPS')!.attrs[2], ['O3', '']);
  t.same(r2.fingerprint.tests.find((x) => x.name === 'WIN')!.attrs[2], ['W3', '0']);

  // Constant ISN: every difference 0 → GCD 0 → SP = GCD = ISR = 0.
  const same = seqReplies.map(([i, r]): [number, OsTcpReply] => [i, { ...r, seq: 0x5000 }]);
  const seq = computeFingerprint(ctx, { ...fullReplies(), seq: same }).fingerprint.tests[0]!;
  t.same(seq.attrs.slice(0, 3), [['SP', '0'], ['GCD', '0'], ['ISR', '0']]);
});

t.test('IP ID classes', async (t) => {
  const v = (ids: number[]) => ipIdClassValue(classifyIpIds(ids));
  t.equal(v([0, 0, 0]), 'Z');
  t.equal(v([5, 30000, 6]), 'RD', '3 samples, a difference > 20000');
  t.equal(v([65534, 65535, 1]), 'RD', 'a 16-bit wrap is a huge 32-bit difference for nmap');
  t.equal(v([65535, 2]), 'I', 'two samples: no RD test; 3 after masking to 16 bits');
  t.equal(v([7, 7, 7]), '7', 'constant → the value');
  t.equal(v([1000, 3000, 5500]), 'RI', 'differences 2000, 2500: > 1000, not multiples of 256');
  t.equal(v([0, 25600, 51200]), 'RD', 'steps of 25600 are > 20000 with three samples');
  t.equal(v([0, 25600]), 'RI', 'two samples: a multiple of 256 ≥ 25600');
  t.equal(v([0x100, 0x200, 0x300]), 'BI');
  t.equal(v([100, 200, 300]), 'I', 'all even');
  t.equal(v([1, 4, 9]), 'I', 'odd but all ≤ 9');
  t.equal(v([1, 12, 25]), undefined, '11 and 13: no class, the attribute is left out');
  t.equal(ipIdClassValue(classifyIpIds([10, 12, 14], true)), 'I', 'localhost: each difference −1 → 1, 1');
  t.equal(classifyIpIds([4]).kind, 'unknown');
});

t.test('TCP options: decoding and the O string', async (t) => {
  // MSS 1460, SACK permitted, TS(1, 0), NOP, WS 7, then end-of-list and a padding zero.
  const bytes = Uint8Array.from([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, 0, 0]);
  const d = decodeTcpOptions(bytes);
  t.equal(d.malformed, false);
  t.equal(tcpOptionString(d), 'M5B4ST10NW7LL', 'each padding zero is another L');
  t.equal(tcpOptionString(decodeTcpOptions(Uint8Array.from([2, 4, 5]))), '', 'an option cut short → empty');
  t.equal(tcpOptionString(decodeTcpOptions(Uint8Array.from([3, 4, 7, 0]))), '', 'a window scale of length 4 → empty');
  t.equal(tcpOptionString(decodeTcpOptions(Uint8Array.from([30, 4, 1, 2, 1, 2, 4, 1, 0x09]))), 'NM109', 'an unknown option adds nothing');
});

t.test('small helpers', async (t) => {
  t.equal(crc32(hello), 0x3610a686, 'CRC-32 of "hello"');
  t.equal(crc32(new Uint8Array(0)), 0);
  t.same([1, 32, 33, 64, 65, 128, 129, 255].map(initialTtlGuess), [32, 32, 64, 64, 128, 128, 255, 255]);
});

t.test('decodeIpv4Reply: a raw SYN/ACK', async (t) => {
  const pkt = Uint8Array.from([
    0x45, 0, 0, 48, 0x12, 0x34, 0x40, 0, 57, 6, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1, // IPv4, id 0x1234, DF, TTL 57
    0, 22, 0x9c, 0x40, 0, 0, 0, 9, 0, 0, 0x10, 1, 0x71, 0x12, 0xfa, 0xf0, 0, 0, 0, 3, // 22 → 40000, seq 9, ack 0x1001, off 7, reserved 1, SYN|ACK, win FAF0, urp 3
    2, 4, 5, 0xb4, 1, 1, 4, 2, // MSS 1460, NOP, NOP, SACK permitted
  ]);
  const d = decodeIpv4Reply(pkt);
  if (d?.proto !== 'tcp') throw new Error('not decoded as TCP');
  t.same(d.reply.ip, { id: 0x1234, ttl: 57, df: true, totalLength: 48, checksum: 0 });
  t.same([d.src, d.dst, d.reply.sport, d.reply.dport, d.reply.seq, d.reply.ack], ['198.18.0.2', '198.18.0.1', 22, 40000, 9, 0x1001]);
  t.same([d.reply.reserved, d.reply.flags, d.reply.window, d.reply.urgentPointer], [1, 0x12, 0xfaf0, 3]);
  t.equal(tcpOptionString(d.reply), 'M5B4NNS');
  t.equal(decodeIpv4Reply(Uint8Array.from([0x60, 0, 0, 0])), undefined, 'not IPv4');
});

t.test('a SEQ probe without a reply in the middle leaves OPS and WIN out (no hole in the test)', async (t) => {
  const r = computeFingerprint(ctx, { ...fullReplies(), seq: seqReplies.filter(([i]) => i !== 2) });
  const names = r.fingerprint.tests.map((x) => x.name);
  t.notOk(names.includes('OPS'), 'five of six options strings: no OPS');
  t.notOk(names.includes('WIN'));
  for (const test of r.fingerprint.tests) t.ok(test.attrs.every((a) => Array.isArray(a)), `${test.name}: every attribute is a [name, value] pair`);
});
