// The probe-module registry and what each module asks native to build: flags on the wire (from
// native's own frames), classification of hand-made replies, --scanflags syntax, the CLI table
// generated from the registry.
import fs from 'node:fs';
import t from 'tap';
import { loadNative, type WireSpec } from '../../native/index.js';
import {
  IcmpRateLimitWatch, parseScanFlags, PLANNED_SCAN_TYPES, PROBE_MODULES, ReplyView, replyLayout, SCAN_TYPES, probeModule,
} from '../../stages/probes/index.js';
import { FLAGS } from '../../packages/oclif-cli/lib/flags.js';

const native = loadNative();
const base: WireSpec = {
  srcMac: Uint8Array.from([2, 0, 0, 0, 0, 1]), dstMac4: Uint8Array.from([2, 0, 0, 0, 0, 2]),
  src4: Uint8Array.from([198, 18, 0, 1]), sourcePort: 61234, key: Uint8Array.from({ length: 16 }, (_, i) => i),
};
const dst = Uint8Array.from([198, 18, 0, 2]);

t.test('registry: every name is an nmap.dtd scan type; every flag is in the CLI table', async (t) => {
  const dtd = fs.readFileSync('/usr/share/nmap/nmap.dtd', 'utf8');
  const types = /<!ENTITY % scan_types "\(([^)]+)\)"/.exec(dtd)![1]!.split('|');
  for (const m of SCAN_TYPES) {
    // nmap.dtd has no idle type: nmap writes no <scaninfo> for -sI, nor does prtip (idle-lab.test.ts)
    t.ok(types.includes(m.name) || m.name === 'idle', `${m.name} is an nmap.dtd scan type`);
    const spec = FLAGS.find((f) => f.names.includes(m.flag));
    t.equal(spec?.help, m.help, `${m.flag}: the CLI's help line comes from the module`);
  }
  t.equal(new Set(SCAN_TYPES.map((m) => m.flag)).size, SCAN_TYPES.length, 'flags are unique');
  for (const p of PLANNED_SCAN_TYPES) t.notOk(FLAGS.some((f) => f.names.includes(p.flag)), `${p.flag} is not accepted (refused by name)`);
});

const LETTERS: Record<string, string> = { syn: 'S', fin: 'F', null: '', xmas: 'FPU', maimon: 'FA', ack: 'A', window: 'A' };
const letters = (b: number) => [[1, 'F'], [2, 'S'], [4, 'R'], [8, 'P'], [16, 'A'], [32, 'U']].filter(([bit]) => b & (bit as number)).map(([, l]) => l).join('');

t.test('TCP modules: the frame native builds carries exactly the module\'s flags', async (t) => {
  for (const [name, want] of Object.entries(LETTERS)) {
    const m = probeModule(name)!;
    const frames = native.buildProbeFrames({ ...base, ...m.wire({}) }, 4, dst, 80, 1);
    t.equal(frames.length, 1, `${name}: one frame`);
    const tcp = frames[0]!.subarray(34);
    t.equal(letters(tcp[13]!), want, `${name}: flags ${want || 'none'}`);
    t.equal((tcp[12]! >> 4) * 4, name === 'syn' ? 24 : 20, `${name}: ${name === 'syn' ? 'MSS option' : 'no options'}`);
    const ackField = tcp.readUInt32BE(8);
    t.equal(ackField !== 0, want.includes('A'), `${name}: the ack field carries the cookie only with ACK`);
  }
});

/** An Ethernet+IPv4+TCP reply from dst to us. */
function tcpReply(flags: number, seq: number, ack: number, window: number): Buffer {
  const f = Buffer.alloc(54);
  Buffer.from(base.srcMac).copy(f, 0);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; f.writeUInt16BE(40, 16); f[22] = 64; f[23] = 6;
  Buffer.from(dst).copy(f, 26); Buffer.from(base.src4!).copy(f, 30);
  f.writeUInt16BE(80, 34); f.writeUInt16BE(61234, 36); f.writeUInt32BE(seq >>> 0, 38); f.writeUInt32BE(ack >>> 0, 42);
  f[46] = 0x50; f[47] = flags; f.writeUInt16BE(window, 48);
  return f;
}

t.test('parseReply finds the probe in RSTs with and without ACK (RFC 9293 reset generation)', async (t) => {
  const cookie = native.probeCookie(base.key!, 4, base.src4!, dst, 61234, 80);
  const fin = { ...base, ...probeModule('fin')!.wire({}) };
  t.equal(native.parseReply(tcpReply(0x14, 0, cookie + 7 + 1, 0), fin)?.probeSeq, (cookie + 7) >>> 0, 'FIN probe: RST-ACK acks seq + 1');
  const nul = { ...base, ...probeModule('null')!.wire({}) };
  t.equal(native.parseReply(tcpReply(0x14, 0, cookie + 7, 0), nul)?.probeSeq, (cookie + 7) >>> 0, 'NULL probe: RST-ACK acks seq + 0');
  const ack = { ...base, ...probeModule('ack')!.wire({}) };
  t.equal(native.parseReply(tcpReply(0x04, cookie + 7, 0, 0), ack)?.probeSeq, (cookie + 7) >>> 0, 'ACK probe: bare RST takes seq from our ack');
  t.equal(native.parseReply(tcpReply(0x10, 1, 2, 0), ack), null, 'a bare ACK answers nothing');
});

/** Packs one reply the way native lays it out (replyLayout), to classify without a network. */
function packed(fields: Record<string, number | number[]>): Buffer {
  const l = replyLayout();
  const b = Buffer.alloc(l.size);
  for (const [name, v] of Object.entries(fields)) {
    const [off, type] = l.fields[name as keyof typeof l.fields];
    if (Array.isArray(v)) Buffer.from(v).copy(b, off);
    else if (type === 'u8') b[off] = v;
    else if (type === 'u16') b.writeUInt16LE(v, off);
    else if (type === 'u32') b.writeUInt32LE(v, off);
    else if (type === 'f32') b.writeFloatLE(v, off);
    else b.writeDoubleLE(v, off);
  }
  return b;
}

t.test('classify: nmap\'s table for every module', async (t) => {
  const K = replyLayout().kinds;
  const target = [198, 18, 0, 2], router = [198, 18, 0, 254];
  const rst0 = packed({ kind: K.tcp, family: 4, tcpFlags: 0x04, window: 0, addr: target, from: target });
  const rstW = packed({ kind: K.tcp, family: 4, tcpFlags: 0x04, window: 512, addr: target, from: target });
  const synack = packed({ kind: K.tcp, family: 4, tcpFlags: 0x12, addr: target, from: target });
  const prohibited = packed({ kind: K.icmp, family: 4, icmpType: 3, icmpCode: 13, addr: target, from: router });
  const portUnreach = packed({ kind: K.icmp, family: 4, icmpType: 3, icmpCode: 3, addr: target, from: target });
  const portUnreachRouter = packed({ kind: K.icmp, family: 4, icmpType: 3, icmpCode: 3, addr: target, from: router });
  const udp = packed({ kind: K.udp, family: 4, addr: target, from: target, payloadLength: 4 });
  const c = (name: string, b: Buffer) => { const v = probeModule(name)!.classify(new ReplyView(b).at(0)); return v && `${v.state} ${v.reason}`; };
  t.equal(c('syn', synack), 'open syn-ack');
  t.equal(c('syn', rst0), 'closed reset');
  t.equal(c('syn', prohibited), 'filtered admin-prohibited');
  for (const n of ['fin', 'null', 'xmas', 'maimon']) {
    t.equal(c(n, rst0), 'closed reset', `${n}: RST`);
    t.equal(c(n, prohibited), 'filtered admin-prohibited', `${n}: ICMP`);
    t.equal(probeModule(n)!.noAnswer.state, 'open|filtered', `${n}: silence`);
  }
  t.equal(c('ack', rst0), 'unfiltered reset');
  t.equal(probeModule('ack')!.noAnswer.state, 'filtered');
  t.equal(c('window', rstW), 'open reset', 'window: RST with a window');
  t.equal(c('window', rst0), 'closed reset', 'window: RST with window 0');
  t.equal(c('udp', udp), 'open udp-response');
  t.equal(c('udp', portUnreach), 'closed port-unreach', 'port unreachable from the target');
  t.equal(c('udp', portUnreachRouter), 'filtered port-unreach', 'port unreachable from someone else');
  t.equal(c('udp', prohibited), 'filtered admin-prohibited');
  t.equal(probeModule('udp')!.noAnswer.state, 'open|filtered');
  t.equal(PROBE_MODULES.filter((m) => m.icmpRateLimited).map((m) => m.name).join(), 'udp', 'only UDP waits out ICMP rate limits');
});

t.test('--scanflags: names in any order or a number, as nmap', async (t) => {
  t.equal(parseScanFlags('URGACKPSHRSTSYNFIN'), 0x3f);
  t.equal(parseScanFlags('synfin'), 0x03);
  t.equal(parseScanFlags('ALL'), 0xff);
  t.equal(parseScanFlags('NONE'), 0);
  t.equal(parseScanFlags('9'), 9);
  t.equal(parseScanFlags('0x29'), 0x29);
  t.throws(() => parseScanFlags('SYNX'), /unknown flag at "X"/);
  t.throws(() => parseScanFlags('300'), /0-255/);
});

t.test('ICMP rate-limit pacing: slows down only on evidence, never below the floor, bounded rounds', async (t) => {
  const w = new IcmpRateLimitWatch({ maxDelayMs: 1000 });
  const r = (o: Partial<Parameters<IcmpRateLimitWatch['nextPace']>[0]>) => w.nextPace({ sent: 1000, answered: 0, seconds: 0.01, rounds: 0, totalAnswered: 0, totalSeconds: 1, emptyRounds: 0, ...o });
  t.equal(r({ answered: 1000 }), undefined, 'all answered');
  t.equal(r({ answered: 0 }), undefined, 'nothing answered: silence, not a limit');
  t.equal(r({ sent: 100, answered: 95 }), undefined, 'few drops');
  const p1 = r({ answered: 60 })!;
  t.equal(Math.round(p1), 7200, '1.2 × the measured answer rate (60 in 10 ms)');
  const p2 = r({ sent: 940, answered: 180, seconds: 0.13, pace: p1, rounds: 1 })!;
  t.equal(Math.round(p2), Math.round(1.2 * 180 / 0.13), 'the next round: 1.2 × what this one measured');
  t.equal(r({ sent: 900, answered: 500, seconds: 0.1, pace: 1000, rounds: 1 }), 1000, 'never faster than the round before');
  t.equal(Math.round(r({ sent: 5, answered: 4, seconds: 1, pace: 10, rounds: 3 })!), 5, 'once paced, down to the last probes while rounds bring answers');
  t.equal(r({ sent: 5, answered: 5, seconds: 1, pace: 10, rounds: 3 }), undefined, 'all answered: done');
  t.equal(r({ sent: 900, answered: 1, seconds: 100, pace: 2, rounds: 2 }), 1, 'floor: one probe per --max-scan-delay');
  t.equal(r({ sent: 900, answered: 100, seconds: 1, pace: 100, rounds: 12 }), undefined, 'at most 12 paced rounds');
  t.equal(Math.round(r({ sent: 18, answered: 0, pace: 3600, rounds: 1, totalAnswered: 6, totalSeconds: 0.3 })!), 24, 'limited, an empty round: the long-run rate (6 in 0.3 s) × 1.2');
  t.equal(r({ sent: 18, answered: 0, pace: 24, rounds: 2, totalAnswered: 6, totalSeconds: 2, emptyRounds: 1 }), undefined, 'a second empty paced round: the rest is silence');
});
