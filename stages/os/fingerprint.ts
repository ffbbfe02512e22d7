/**
 * One round's OS fingerprint from the replies (pure): every test and attribute computed as
 * nmap 7.93 computes them, in the order nmap prints them.
 *
 *   SEQ(SP GCD ISR TI CI II SS TS)  OPS(O1–O6)  WIN(W1–W6)  ECN(R DF T W O CC Q)
 *   T1(R DF T S A F RD Q)  T2–T7(R DF T W S A F O RD Q)
 *   U1(R DF T IPL UN RIPL RID RIPCK RUCK RUD)  IE(R DFI T CD)
 *
 * T is the received TTL corrected by the hop count U1 measured (T = ttl + distance − 1); without a
 * U1 answer it is replaced, in place, by TG, the initial TTL guessed from it (32/64/128/255).
 * Missing replies become R=N: ECN and T1–T4 when an open port was probed, T5–T7 when a known
 * closed port was, U1 and IE always.
 */
import { OS_TEST_NAMES, type OsTestName } from '../datafiles/os-db.js';
import { classifyIpIds, ipIdClassValue, type IpIdClass } from './ipid.js';
import {
  TH_ACK, TH_CWR, TH_ECE, TH_FIN, TH_PUSH, TH_RST, TH_SYN, TH_URG,
  type OsIcmpEchoReply, type OsIcmpUnreachReply, type OsProbeContext, type OsReplies, type OsTcpReply,
} from './responses.js';
import { tcpOptionString, tcpTimestamp } from './tcp-options.js';

/** One test line: its name and attributes in order. */
export interface OsFpTest {
  name: OsTestName;
  attrs: Array<[string, string]>;
}

/** An observed fingerprint: tests in nmap's print order. */
export interface OsFingerprint {
  tests: OsFpTest[];
}

export type TsClass = 'unknown' | 'zero' | '2hz' | '100hz' | '1000hz' | 'other' | 'unsupported';

/** What the SEQ replies said, for the report lines (nmap's seq_info). */
export interface OsSeqInfo {
  /** SEQ replies used (SYN/ACKs with a non-zero ISN). */
  responses: number;
  seqs: number[];
  ipids: number[];
  timestamps: number[];
  /** The SP value: TCP sequence prediction difficulty index. */
  index: number;
  /** Class of the SEQ replies' IP IDs (TI). */
  ipIdClass: IpIdClass;
  tsClass: TsClass;
  /** Average timestamp rate (Hz) over the SEQ replies; 0 when not computed. */
  tsHz: number;
  /** Unix seconds of the last boot from the timestamps (SEQ1's send time minus uptime), when computed. */
  lastboot?: number;
}

export interface OsRoundResult {
  fingerprint: OsFingerprint;
  seq: OsSeqInfo;
  /** Hop count from U1's quoted TTL, or null without a U1 answer. */
  distance: number | null;
  /** Hops guessed from the first TTL (initial-TTL guess minus TTL), or null. */
  distanceGuess: number | null;
  /** (SEQ6 − SEQ1 send time) / 500 ms; above 1.4 the fingerprint is unfit for submission. */
  timingRatio: number;
}

const hex = (n: number) => (n >>> 0).toString(16).toUpperCase();
const u32 = (n: number) => n >>> 0;

/** The initial TTL a received TTL most likely started from. */
export function initialTtlGuess(ttl: number): number {
  return ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib), for RD. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The Internet checksum of the first `len` bytes (as stored in a header). */
function inetChecksum(b: Uint8Array, len: number): number {
  let sum = 0;
  for (let i = 0; i + 1 < len; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (len % 2) sum += b[len - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function gcd(values: number[]): number {
  if (values.length === 0) return 1;
  let a = values[0]!;
  for (let i = 1; i < values.length; i++) {
    let b = values[i]!;
    if (a < b) [a, b] = [b, a];
    while (b) [a, b] = [b, a % b];
  }
  return a;
}

/** The smaller of the two 32-bit distances between a and b (nmap's MOD_DIFF). */
function modDiff(a: number, b: number): number {
  return Math.min(u32(a - b), u32(b - a));
}

const FLAG_LETTERS: Array<[number, string]> = [
  [TH_ECE, 'E'], [TH_URG, 'U'], [TH_ACK, 'A'], [TH_PUSH, 'P'], [TH_RST, 'R'], [TH_SYN, 'S'], [TH_FIN, 'F'],
];

function quirks(r: OsTcpReply): string {
  let q = '';
  if (r.reserved) q += 'R';
  if (!(r.flags & TH_URG) && r.urgentPointer) q += 'U';
  return q;
}

/** A test's attributes while it is built; T holds the received TTL until finishTtl rewrites it. */
type Attrs = Array<[string, string]>;

function tcpTest(r: OsTcpReply, ctx: OsProbeContext, isT1: boolean): Attrs {
  const a: Attrs = [['R', 'Y'], ['DF', r.ip.df ? 'Y' : 'N'], ['T', String(r.ip.ttl)]];
  if (!isT1) a.push(['W', hex(r.window)]);
  const seq = u32(r.seq);
  a.push(['S', seq === 0 ? 'Z' : seq === u32(ctx.tcpAck) ? 'A' : seq === u32(ctx.tcpAck + 1) ? 'A+' : 'O']);
  const ack = u32(r.ack);
  a.push(['A', ack === 0 ? 'Z' : ack === u32(ctx.tcpSeqBase) ? 'S' : ack === u32(ctx.tcpSeqBase + 1) ? 'S+' : 'O']);
  a.push(['F', FLAG_LETTERS.filter(([bit]) => r.flags & bit).map(([, l]) => l).join('')]);
  if (!isT1) a.push(['O', tcpOptionString(r)]);
  // nmap 7.93 prints a CRC with %08lX.
  a.push(['RD', r.flags & TH_RST && r.payload.length > 0 ? crc32(r.payload).toString(16).toUpperCase().padStart(8, '0') : '0']);
  a.push(['Q', quirks(r)]);
  return a;
}

function ecnTest(r: OsTcpReply): Attrs {
  const ece = (r.flags & TH_ECE) !== 0;
  const cwr = (r.flags & TH_CWR) !== 0;
  return [
    ['R', 'Y'], ['DF', r.ip.df ? 'Y' : 'N'], ['T', String(r.ip.ttl)], ['W', hex(r.window)], ['O', tcpOptionString(r)],
    ['CC', ece && cwr ? 'S' : ece ? 'Y' : !cwr ? 'N' : 'O'],
    ['Q', quirks(r)],
  ];
}

/** U1's test and the hop count, or undefined when the ICMP does not quote our U1 (ports differ, too short). */
function u1Test(r: OsIcmpUnreachReply, ctx: OsProbeContext): { attrs: Attrs; distance: number } | undefined {
  const q = r.quoted;
  if (r.type !== 3 || r.code !== 3 || q.length < 20) return undefined;
  const ihl = (q[0]! & 0x0f) * 4;
  if (ihl < 20 || q.length < ihl + 8) return undefined;
  const be16 = (o: number) => (q[o]! << 8) | q[o + 1]!;
  if (be16(ihl) !== ctx.u1.sport || be16(ihl + 2) !== ctx.u1.dport) return undefined;
  const qLen = be16(2);
  const qId = be16(4);
  const qCk = be16(10);
  let ripck: string;
  if (qCk === 0) ripck = 'Z';
  else {
    const hdr = Uint8Array.from(q.subarray(0, 20));
    hdr[10] = 0;
    hdr[11] = 0;
    ripck = inetChecksum(hdr, 20) === qCk ? 'G' : 'I';
  }
  const udpCk = be16(ihl + 6);
  let rud = 'G';
  for (let i = ihl + 8; i < q.length; i++) {
    if (q[i] !== ctx.u1.patternByte) {
      rud = 'I';
      break;
    }
  }
  const attrs: Attrs = [
    ['R', 'Y'], ['DF', r.ip.df ? 'Y' : 'N'], ['T', String(r.ip.ttl)],
    ['IPL', hex(r.ip.totalLength)],
    // nmap 7.93 prints the 32-bit unused word with %hX: its low 16 bits.
    ['UN', hex(r.unused & 0xffff)],
    ['RIPL', qLen === 328 ? 'G' : hex(qLen)],
    ['RID', qId === ctx.u1.ipId ? 'G' : hex(qId)],
    ['RIPCK', ripck],
    ['RUCK', udpCk === ctx.u1.udpChecksum ? 'G' : hex(udpCk)],
    ['RUD', rud],
  ];
  return { attrs, distance: ctx.u1.ttl - q[8]! + 1 };
}

function ieTest(ie1: OsIcmpEchoReply, ie2: OsIcmpEchoReply): Attrs {
  const d1 = ie1.ip.df;
  const d2 = ie2.ip.df;
  const c1 = ie1.code;
  const c2 = ie2.code;
  return [
    ['R', 'Y'],
    ['DFI', d1 && d2 ? 'Y' : d1 && !d2 ? 'S' : !d1 && !d2 ? 'N' : 'O'],
    ['T', String(ie1.ip.ttl)],
    ['CD', c1 === c2 ? (c1 === 0 ? 'Z' : hex(c1)) : c1 === 9 && c2 === 0 ? 'S' : 'O'],
  ];
}

/** nmap's TIMEVAL_MSEC_SUBTRACT on microsecond times: whole seconds ×1000 plus truncated µs/1000. */
function msecSubtract(aUs: number, bUs: number): number {
  const as = Math.floor(aUs / 1e6);
  const bs = Math.floor(bUs / 1e6);
  return (as - bs) * 1000 + Math.trunc(((aUs - as * 1e6) - (bUs - bs * 1e6)) / 1000);
}

/** Computes one round's fingerprint. */
export function computeFingerprint(ctx: OsProbeContext, replies: OsReplies): OsRoundResult {
  const seqs = [0, 0, 0, 0, 0, 0];
  const ipids = [0, 0, 0, 0, 0, 0];
  const stamps = [0, 0, 0, 0, 0, 0];
  const tcpIpids: Array<number | undefined> = [];
  let tsClass: TsClass = 'unknown';
  let lastIpId = 0;
  const ops: Array<string | undefined> = [];
  const win: Array<string | undefined> = [];
  const tests: Array<Attrs | undefined> = OS_TEST_NAMES.map(() => undefined);
  const T1 = 4;

  // SEQ replies, in arrival order (nmap's processTSeqResp, then TOps/TWin, and T1 from SEQ1).
  for (const [n, r] of replies.seq) {
    if (n < 0 || n > 5) continue;
    let useful = false;
    const dupId = lastIpId !== 0 && r.ip.id === lastIpId;
    if (!dupId) {
      lastIpId = r.ip.id;
      if (!(r.flags & TH_RST) && (r.flags & (TH_SYN | TH_ACK)) === (TH_SYN | TH_ACK) && seqs[n] === 0) {
        seqs[n] = u32(r.seq);
        ipids[n] = r.ip.id;
        const ts = tcpTimestamp(r);
        if (ts === undefined) tsClass = 'unsupported';
        else if (ts === 0) tsClass = 'zero';
        stamps[n] = ts ?? 0;
        useful = true;
      }
    }
    if (useful) tcpIpids[n] = r.ip.id;
    if (n === 0 && !tests[T1]) tests[T1] = tcpTest(r, ctx, true);
    if (ops[n] === undefined) ops[n] = tcpOptionString(r);
    if (win[n] === undefined) win[n] = hex(r.window);
  }
  // TOPS replies (nmap's TUI-phase resends of unanswered SEQ probes) fill the O/W they left out.
  replies.tops?.forEach((r, n) => {
    if (!r || n > 5) return;
    if (ops[n] === undefined) ops[n] = tcpOptionString(r);
    if (win[n] === undefined) win[n] = hex(r.window);
  });
  if (!tests[T1] && replies.t[0]) tests[T1] = tcpTest(replies.t[0], ctx, true);
  if (replies.ecn) tests[3] = ecnTest(replies.ecn);
  const closedIpids: number[] = [];
  for (let i = 1; i < 7; i++) {
    const r = replies.t[i];
    if (!r) continue;
    tests[T1 + i] = tcpTest(r, ctx, false);
    if (i >= 4) closedIpids.push(r.ip.id);
  }
  let distance: number | null = null;
  if (replies.u1) {
    const u = u1Test(replies.u1, ctx);
    if (u) {
      tests[11] = u.attrs;
      distance = u.distance;
    }
  }
  const icmpIpids: number[] = [];
  const [ie1, ie2] = replies.ie;
  if (ie1 && ie2) tests[12] = ieTest(ie1, ie2);
  if (ie1 && !ctx.ieRetransmitted?.[0]) icmpIpids.push(ie1.ip.id);
  if (ie2 && !ctx.ieRetransmitted?.[1]) icmpIpids.push(ie2.ip.id);

  // ── SEQ ──
  const seqAttrs: Attrs = [];
  const cSeqs: number[] = [];
  const cIpids: number[] = [];
  const cStamps: number[] = [];
  const cSent: number[] = [];
  const seqDiffs: number[] = [];
  const tsDiffs: number[] = [];
  const usecDiffs: number[] = [];
  const rates: number[] = [];
  let avgRate = 0;
  for (let i = 0; i < 6; i++) {
    if (seqs[i] === 0) continue;
    cSeqs.push(seqs[i]!);
    cIpids.push(ipids[i]!);
    cStamps.push(stamps[i]!);
    cSent.push(ctx.seqSentUs[i] ?? 0);
    const j = cSeqs.length - 1;
    if (j > 0) {
      seqDiffs.push(modDiff(cSeqs[j]!, cSeqs[j - 1]!));
      tsDiffs.push(modDiff(cStamps[j]!, cStamps[j - 1]!));
      let us = Math.trunc(cSent[j]! - cSent[j - 1]!);
      if (!us) us = 1;
      usecDiffs.push(us);
      // nmap keeps the rates in single-precision floats.
      const rate = Math.fround((seqDiffs[j - 1]! * 1e6) / us);
      rates.push(rate);
      avgRate += rate;
    }
  }
  const responses = cSeqs.length;
  let index = 0;
  if (responses >= 4 && (ctx.scanDelayMs ?? 0) <= 1000) {
    avgRate /= responses - 1;
    const g = gcd(seqDiffs);
    let isr = 0;
    if (g !== 0) {
      isr = Math.trunc(Math.log(avgRate) / Math.log(2) * 8 + 0.5);
      const div = g > 9 ? g : 1;
      const fdiv = Math.fround(div);
      let sd = 0;
      for (const r of rates) {
        const d = Math.fround(r / fdiv) - avgRate / div;
        sd += d * d;
      }
      sd = Math.sqrt(sd / (responses - 2));
      index = sd <= 1 ? 0 : Math.trunc(Math.log(sd) / Math.log(2) * 8 + 0.5);
    }
    seqAttrs.push(['SP', hex(index)], ['GCD', hex(g)], ['ISR', hex(isr)]);
  }

  const goodTcp = tcpIpids.filter((x): x is number => x !== undefined);
  const tiClass: IpIdClass = goodTcp.length >= 3 ? classifyIpIds(goodTcp, ctx.localhost) : { kind: 'unknown' };
  const ciClass: IpIdClass = closedIpids.length >= 2 ? classifyIpIds(closedIpids, ctx.localhost) : { kind: 'unknown' };
  const iiClass: IpIdClass = icmpIpids.length >= 2 ? classifyIpIds(icmpIpids, ctx.localhost) : { kind: 'unknown' };
  for (const [name, cls] of [['TI', tiClass], ['CI', ciClass], ['II', iiClass]] as const) {
    const v = ipIdClassValue(cls);
    if (v !== undefined) seqAttrs.push([name, v]);
  }
  const incrementing = (c: IpIdClass) => c.kind === 'incr' || c.kind === 'broken-incr' || c.kind === 'rpi';
  if (incrementing(tiClass) && incrementing(iiClass)) {
    const n = goodTcp.length;
    const avg = Math.floor(u32(goodTcp[n - 1]! - goodTcp[0]!) / (n - 1));
    seqAttrs.push(['SS', icmpIpids[0]! < u32(goodTcp[n - 1]! + 3 * avg) ? 'S' : 'O']);
  }

  let tsHz = 0;
  let lastboot: number | undefined;
  if (tsClass === 'unknown' && responses >= 2) {
    for (let i = 0; i < responses - 1; i++) tsHz += tsDiffs[i]! / (usecDiffs[i]! / 1e6) / (responses - 1);
    let uptime = 0;
    const ts0 = cStamps[0]!;
    if (tsHz > 0 && tsHz < 5.66) {
      tsClass = '2hz';
      uptime = Math.floor(ts0 / 2);
    } else if (tsHz > 70 && tsHz < 150) {
      tsClass = '100hz';
      uptime = Math.floor(ts0 / 100);
    } else if (tsHz > 724 && tsHz < 1448) {
      tsClass = '1000hz';
      uptime = Math.floor(ts0 / 1000);
    } else if (tsHz > 0) {
      tsClass = 'other';
      const div = u32(Math.floor(0.5 + tsHz));
      uptime = div > 0 ? Math.floor(ts0 / div) : 0;
    }
    if (uptime > 63072000) uptime = 0; // "up 2 years? they're probably lying"
    if (ctx.seqSentUnixSeconds !== undefined) {
      const firstSent = ctx.seqSentUnixSeconds + ((cSent[0] ?? 0) - (ctx.seqSentUs[0] ?? 0)) / 1e6;
      lastboot = Math.floor(firstSent) - uptime;
    }
  }
  switch (tsClass) {
    case 'zero':
      seqAttrs.push(['TS', '0']);
      break;
    case '2hz': case '100hz': case '1000hz': case 'other': {
      let v: number;
      if (tsHz <= 5.66) v = 1;
      else if (tsHz > 70 && tsHz <= 150) v = 7;
      else if (tsHz > 150 && tsHz <= 350) v = 8;
      else v = u32(Math.trunc(0.5 + Math.log(tsHz) / Math.log(2)));
      seqAttrs.push(['TS', hex(v)]);
      break;
    }
    case 'unsupported':
      seqAttrs.push(['TS', 'U']);
      break;
    case 'unknown':
      break;
  }
  if (seqAttrs.length) tests[0] = seqAttrs;
  // every() skips holes: a SEQ probe without a reply leaves one, and then there is no OPS/WIN test.
  const whole = (a: Array<string | undefined>) => a.length === 6 && [0, 1, 2, 3, 4, 5].every((i) => a[i] !== undefined);
  if (whole(ops)) tests[1] = ops.map((o, i) => [`O${i + 1}`, o!]);
  if (whole(win)) tests[2] = win.map((w, i) => [`W${i + 1}`, w!]);

  // Missing replies and TTLs (nmap's makeFP).
  let distanceGuess: number | null = null;
  for (let i = 3; i < OS_TEST_NAMES.length; i++) {
    const t = tests[i];
    if (!t) {
      const expected = (i <= 7 && ctx.openTcpPort !== null) || (i >= 8 && i <= 10 && ctx.closedTcpPortKnown) || i >= 11;
      if (expected) tests[i] = [['R', 'N']];
      continue;
    }
    const at = t.findIndex(([k]) => k === 'T');
    if (at < 0) continue;
    const ttl = Number(t[at]![1]);
    if (distanceGuess === null) distanceGuess = initialTtlGuess(ttl) - ttl;
    t[at] = distance !== null ? ['T', hex(ttl + distance - 1)] : ['TG', hex(initialTtlGuess(ttl))];
  }

  let timingRatio = 0;
  if (ctx.openTcpPort !== null && ctx.seqSentUs[5] != null) {
    const first = cSent[0] ?? ctx.seqSentUs[0] ?? 0;
    timingRatio = msecSubtract(ctx.seqSentUs[5]!, first) / 500;
  }

  const fingerprint: OsFingerprint = { tests: [] };
  tests.forEach((attrs, i) => {
    if (attrs) fingerprint.tests.push({ name: OS_TEST_NAMES[i]!, attrs });
  });
  const seq: OsSeqInfo = { responses, seqs: cSeqs, ipids: cIpids, timestamps: cStamps, index, ipIdClass: tiClass, tsClass, tsHz };
  if (lastboot !== undefined) seq.lastboot = lastboot;
  return { fingerprint, seq, distance, distanceGuess, timingRatio };
}
