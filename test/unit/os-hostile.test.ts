// Hostile and broken input: a host answering every probe with the same RST, malformed replies,
// and a fuzzed database and expressions. Nothing may crash; the RST host's print is worked out by hand.
import t from 'tap';
import { existsSync } from 'node:fs';
import { OsDbError, compileOsExpr, loadOsDb, parseOsDb, parseOsExpr } from '../../stages/datafiles/index.js';
import {
  buildOsRecord, computeFingerprint, fingerprintText, matchFingerprint, unfitReason,
  type OsProbeContext, type OsReplies, type OsTcpReply,
} from '../../stages/os/index.js';
import { osNormalLines } from '../../stages/format/os-normal.js';

const ctx: OsProbeContext = {
  openTcpPort: 22, closedTcpPort: 1, closedTcpPortKnown: true, closedUdpPort: 33000, tcpSeqBase: 0x1000, tcpAck: 0x2000,
  seqSentUs: [0, 1e5, 2e5, 3e5, 4e5, 5e5],
  u1: { ttl: 60, ipId: 0x1042, udpChecksum: 1, patternByte: 0x43, sport: 40000, dport: 33000 },
};
const rst = (): OsTcpReply => ({
  ip: { id: 0x1234, ttl: 64, df: false, totalLength: 40 }, sport: 22, dport: 40000, seq: 0, ack: 0, flags: 0x14,
  window: 0, urgentPointer: 0, reserved: 0, options: [], payload: new Uint8Array(0),
});

t.test('a host that answers every probe with the same RST', async (t) => {
  const replies: OsReplies = {
    seq: [0, 1, 2, 3, 4, 5].map((i): [number, OsTcpReply] => [i, rst()]),
    ecn: rst(), t: [null, rst(), rst(), rst(), rst(), rst(), rst()], u1: null, ie: [null, null],
  };
  const r = computeFingerprint(ctx, replies);
  const tline = 'R=Y%DF=N%TG=40%W=0%S=Z%A=Z%F=AR%O=%RD=0%Q=';
  t.equal(fingerprintText(r.fingerprint), [
    'SEQ(CI=1234)', //  no SYN/ACK → no sequencing, no TI, no TS; T5–T7 IDs all 0x1234 → constant
    'OPS(O1=%O2=%O3=%O4=%O5=%O6=)',
    'WIN(W1=0%W2=0%W3=0%W4=0%W5=0%W6=0)',
    'ECN(R=Y%DF=N%TG=40%W=0%O=%CC=N%Q=)',
    'T1(R=Y%DF=N%TG=40%S=Z%A=Z%F=AR%RD=0%Q=)',
    ...['T2', 'T3', 'T4', 'T5', 'T6', 'T7'].map((n) => `${n}(${tline})`),
    'U1(R=N)',
    'IE(R=N)',
  ].join('\n'));
  t.equal(r.seq.responses, 0);
  const reason = unfitReason({
    scanDelayMs: 0, timingLevel: 3, openTcpPort: 22, knownClosedTcpPort: 1, distance: 1, maxTimingRatio: r.timingRatio,
    closedUdpPortKnown: false, udpScan: false, incomplete: false,
  });
  t.equal(reason, "Didn't receive UDP response. Please try again with -sSU");
  if (existsSync('/usr/share/nmap/nmap-os-db')) {
    const m = matchFingerprint(loadOsDb('/usr/share/nmap'), r.fingerprint);
    t.ok(m.matches.every((e) => e.accuracy >= 0.85 && e.accuracy <= 1), 'accuracies in range');
    const lines = osNormalLines(buildOsRecord({
      ip: '198.18.0.2', round: r, match: m, fingerprint: 'OS:x', openTcpPort: 22, knownClosedTcpPort: 1, closedUdpPort: null,
      distance: { hops: 1, method: 'D' }, unfitReason: reason, unreliable: false, nowSeconds: 0,
    }), 0);
    t.ok(lines.some((l) => /^(OS details|Aggressive OS guesses|No OS matches|Too many fingerprints)/.test(l)), lines.join('\n'));
  }
});

t.test('malformed replies are ignored, not trusted', async (t) => {
  const bad: OsReplies = {
    seq: [[7, rst()], [-1, rst()]], //                                  probe indexes out of range
    ecn: { ...rst(), options: [], optionsMalformed: true, flags: 0x12 },
    t: [null, null, null, null, null, null, null],
    u1: { ip: { id: 1, ttl: 64, df: false, totalLength: 40 }, type: 3, code: 3, unused: 0, quoted: Uint8Array.from([0x45, 0, 0, 20]) }, // cut short
    ie: [{ ip: { id: 1, ttl: 64, df: false, totalLength: 28 }, type: 0, code: 0, id: 1, seq: 1 }, null],
  };
  const r = computeFingerprint(ctx, bad);
  t.equal(fingerprintText(r.fingerprint), [
    'ECN(R=Y%DF=N%TG=40%W=0%O=%CC=N%Q=)',
    'T1(R=N)', 'T2(R=N)', 'T3(R=N)', 'T4(R=N)', 'T5(R=N)', 'T6(R=N)', 'T7(R=N)', 'U1(R=N)', 'IE(R=N)',
  ].join('\n'));
  t.equal(r.distance, null);
  const none = computeFingerprint({ ...ctx, openTcpPort: null, closedTcpPortKnown: false }, { seq: [], ecn: null, t: [null, null, null, null, null, null, null], u1: null, ie: [null, null] });
  t.equal(fingerprintText(none.fingerprint), 'U1(R=N)\nIE(R=N)', 'no ports known: only U1 and IE are expected');
  t.equal(none.timingRatio, 0);
});

/** A small seeded generator (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE = [
  'MatchPoints', 'SEQ(SP=25%GCD=75%TS=100)', 'OPS(O1=20)', 'T1(R=100%DF=20%T=15%TG=15)', '',
  'Fingerprint Fuzz 1', 'Class F | F | 1 | x', 'CPE cpe:/o:f:f:1', 'SEQ(SP=0-5%GCD=1-6|>1000000%TS=U|7)', 'OPS(O1=M5B4|M[>500]ST11)', 'T1(R=Y%DF=N%T=3B-45%TG=40)', '',
];
const ALPHABET = ['|', '[', ']', '(', ')', '%', '=', '-', '>', '<', ' ', '#', '\n', 'Z', '0', 'F', 'Class ', 'CPE ', 'Fingerprint '];

t.test('a fuzzed database never throws anything but "no MatchPoints"', async (t) => {
  const next = rng(12345);
  let parsed = 0;
  for (let n = 0; n < 400; n++) {
    const text = [...BASE.join('\n')];
    for (let k = 1 + Math.floor(next() * 4); k > 0; k--) {
      const at = Math.floor(next() * text.length);
      if (next() < 0.5) text.splice(at, 1);
      else text.splice(at, 0, ALPHABET[Math.floor(next() * ALPHABET.length)]!);
    }
    const src = text.join('');
    try {
      const db = parseOsDb(src);
      parsed++;
      for (const p of db.problems) if (p.line < 1 || p.line > db.lines) t.fail(`problem line ${p.line} outside 1..${db.lines}`);
      for (const ref of db.references) for (const line of ref.tests) for (const a of line?.attrs ?? []) for (const v of ['', '0', '40', 'M5B4ST11', 'U']) a.match(v);
    } catch (e) {
      if (!(e instanceof OsDbError)) t.fail(`unexpected ${(e as Error).stack} for:\n${src}`);
    }
  }
  t.ok(parsed > 200, `${parsed} of 400 mutated files parsed`);
});

t.test('fuzzed expressions: parse or refuse; 7.93 matchers never throw', async (t) => {
  const next = rng(999);
  const chars = '0123456789ABCDEFxZ|-<>[]+ ';
  let ok = 0;
  for (let n = 0; n < 2000; n++) {
    let e = '';
    for (let k = Math.floor(next() * 10); k > 0; k--) e += chars[Math.floor(next() * chars.length)];
    try {
      parseOsExpr(e);
      ok++;
      const m795 = compileOsExpr(e, 'nmap-7.95');
      for (const v of ['', '0', 'A', '1F', 'M5B4']) m795(v);
    } catch (err) {
      if (!(err instanceof Error) || err.constructor !== Error) t.fail(`unexpected ${String(err)} for "${e}"`);
    }
    const m = compileOsExpr(e, 'nmap-7.93');
    for (const v of ['', '0', 'A', '1F', 'M5B4', '-1', ' 5']) m(v);
  }
  t.ok(ok > 100, `${ok} of 2000 random expressions parsed`);
});
