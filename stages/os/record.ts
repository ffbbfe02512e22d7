/**
 * The os record for one host, from its rounds: the reported round's guess list (nmap lists, in
 * XML, the perfect matches, or up to 10 guesses within 10 points of the best), the merged
 * fingerprint, distance, uptime and the sequence lines.
 */
import type { OsMatch, OsRecord } from '../records/index.js';
import type { OsRoundResult, TsClass } from './fingerprint.js';
import { ipIdClassText } from './ipid.js';
import { classify, type OsMatchResult } from './match.js';

/** nmap's difficulty words for the SP index. */
export function seqDifficulty(index: number): string {
  return index < 3 ? 'Trivial joke' : index < 6 ? 'Easy' : index < 11 ? 'Medium' : index < 12 ? 'Formidable' : index < 16 ? 'Worthy challenge' : 'Good luck!';
}

const TS_TEXT: Record<TsClass, string> = {
  zero: 'zero timestamp', '2hz': '2HZ', '100hz': '100HZ', '1000hz': '1000HZ', other: 'other',
  unsupported: 'none returned (unsupported)', unknown: 'unknown class',
};

export interface OsRecordInput {
  ip: string;
  /** The reported round (bestRound) and its match. */
  round: OsRoundResult;
  match: OsMatchResult;
  /** The submission text (submissionText over every round, wrapped). */
  fingerprint: string;
  openTcpPort: number | null;
  knownClosedTcpPort: number | null;
  closedUdpPort: number | null;
  distance: { hops: number; method: 'L' | 'D' | 'I' | 'T' } | null;
  unfitReason: string | null;
  unreliable: boolean;
  /** --osscan-guess / --fuzzy. */
  guess?: boolean;
  /** Now, in Unix seconds (for uptime). */
  nowSeconds: number;
}

const hex = (n: number) => (n >>> 0).toString(16).toUpperCase();

/** The matches nmap writes as <osmatch>: every perfect one, else ≤ 10 within 10 points of the best. */
export function listedMatches(m: OsMatchResult): OsMatchResult['matches'] {
  if (m.outcome !== 'success') return [];
  if (m.perfect > 0) return m.matches.slice(0, m.perfect);
  const best = m.matches[0]?.accuracy ?? 0;
  return m.matches.slice(0, 10).filter((e, i) => i === 0 || e.accuracy > best - 0.1);
}

export function buildOsRecord(r: OsRecordInput): OsRecord {
  const matches: OsMatch[] = listedMatches(r.match).map(({ reference, accuracy }) => {
    const first = reference.classes[0];
    const m: OsMatch = { name: reference.name, accuracy: Math.floor(accuracy * 100), score: accuracy, line: reference.line };
    if (first) {
      m.vendor = first.vendor;
      m.osfamily = first.family;
      if (first.generation) m.osgen = first.generation;
      m.devicetype = first.deviceType;
      const cpe = reference.classes.flatMap((c) => c.cpe);
      if (cpe.length) m.cpe = [...new Set(cpe)];
    }
    if (reference.classes.length > 1) {
      m.classes = reference.classes.map((c) => {
        const out: NonNullable<OsMatch['classes']>[number] = { vendor: c.vendor, osfamily: c.family, devicetype: c.deviceType, cpe: c.cpe };
        if (c.generation) out.osgen = c.generation;
        return out;
      });
    }
    return m;
  });
  const rec: OsRecord = { type: 'os', ip: r.ip, matches, outcome: r.match.outcome, perfect: r.match.perfect > 0, fingerprint: r.fingerprint };
  const used: NonNullable<OsRecord['portsUsed']> = [];
  if (r.openTcpPort !== null && r.openTcpPort > 0) used.push({ state: 'open', proto: 'tcp', port: r.openTcpPort });
  if (r.knownClosedTcpPort !== null && r.knownClosedTcpPort > 0) used.push({ state: 'closed', proto: 'tcp', port: r.knownClosedTcpPort });
  if (r.closedUdpPort !== null && r.closedUdpPort > 0) used.push({ state: 'closed', proto: 'udp', port: r.closedUdpPort });
  if (used.length) rec.portsUsed = used;
  if (r.unfitReason) rec.unfitReason = r.unfitReason;
  if (r.unreliable) rec.unreliable = true;
  if (r.guess) rec.guess = true;
  const cls = classify(r.match);
  if (cls.outcome === 'success') {
    rec.classes = cls.classes.map(({ osClass: c, accuracy }) => {
      const out: NonNullable<OsRecord['classes']>[number] = { vendor: c.vendor, osfamily: c.family, devicetype: c.deviceType, cpe: c.cpe, score: accuracy };
      if (c.generation) out.osgen = c.generation;
      return out;
    });
    rec.classesPerfect = cls.perfect;
  }
  if (r.distance) rec.distance = r.distance;
  const seq = r.round.seq;
  if (seq.lastboot !== undefined) rec.uptime = { seconds: Math.max(0, r.nowSeconds - seq.lastboot), lastboot: seq.lastboot };
  if (seq.responses > 3) rec.tcpSequence = { index: seq.index, difficulty: seqDifficulty(seq.index), values: seq.seqs.map(hex) };
  if (seq.responses > 2) {
    rec.ipIdSequence = { class: ipIdClassText(seq.ipIdClass), values: seq.ipids.map((v) => (v & 0xffff).toString(16).toUpperCase()) };
    rec.tcpTsSequence = { class: TS_TEXT[seq.tsClass] };
    if (seq.tsClass !== 'unsupported') rec.tcpTsSequence.values = seq.timestamps.map(hex);
  }
  return rec;
}
