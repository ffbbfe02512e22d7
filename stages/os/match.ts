/**
 * Scoring a fingerprint against nmap-os-db as nmap 7.93 does.
 *
 * - Per reference: for every test both have, every attribute both have adds its MatchPoints
 *   weight to the possible points, and to the matched points when the observed value satisfies
 *   the reference's expression. Accuracy = matched / possible (0 when nothing is comparable).
 * - The guess list keeps references with accuracy ≥ 0.85 (OSSCAN_GUESS_THRESHOLD), at most 36,
 *   sorted by accuracy (ties in database order), one entry per OS name (the better one). Once the
 *   list is full, the entrance requirement rises to the 36th accuracy + 0.00001. A 37th perfect
 *   match makes the result "too many matches".
 *
 * - Classification (Device type / Running / OS CPE): the distinct classes of the whole list (36
 *   matches, not only the 10 printed), in order, at most 36; with perfect matches, only theirs.
 *
 * Speed: reference test lines repeat (15k distinct of 74k), so each distinct line is scored once
 * per observed fingerprint and a reference only adds up its ≤ 13 line scores.
 */
import { OS_TEST_NAMES, osTestIndex, type OsClass, type OsDb, type OsReference } from '../datafiles/os-db.js';
import type { OsFingerprint } from './fingerprint.js';

export const OSSCAN_GUESS_THRESHOLD = 0.85;
export const MAX_FP_RESULTS = 36;

export interface OsMatchEntry {
  reference: OsReference;
  accuracy: number;
}

export type OsMatchOutcome = 'success' | 'no-matches' | 'too-many-matches';

export interface OsMatchResult {
  outcome: OsMatchOutcome;
  matches: OsMatchEntry[];
  /** The first `perfect` entries have accuracy 1. */
  perfect: number;
}

/** An observed fingerprint prepared for scoring: per test, the values by MatchPoints index. */
interface Observed {
  byTest: Array<Array<string | undefined> | undefined>;
}

function prepare(db: OsDb, fp: OsFingerprint): Observed {
  const byTest: Observed['byTest'] = OS_TEST_NAMES.map(() => undefined);
  for (const t of fp.tests) {
    const i = osTestIndex(t.name);
    // A test repeated in an observed print (a merged multi-round print): the first one counts.
    if (i < 0 || byTest[i]) continue;
    const values: Array<string | undefined> = [];
    const index = db.matchPoints.index[i]!;
    for (const [k, v] of t.attrs) {
      const at = index.get(k);
      if (at !== undefined && values[at] === undefined) values[at] = v;
    }
    byTest[i] = values;
  }
  return { byTest };
}

/**
 * Scores lazily and once: each distinct (test, attribute, expression) is matched once, each
 * distinct reference line summed once, per observed fingerprint.
 */
class LineScores {
  private readonly possible: Float64Array;
  private readonly matched: Float64Array;
  private readonly done: Uint8Array;
  /** Per attribute id: 0 not yet, 1 matches, 2 does not. */
  private readonly attrHit: Uint8Array;
  constructor(private readonly db: OsDb, private readonly obs: Observed) {
    this.possible = new Float64Array(db.distinctTests);
    this.matched = new Float64Array(db.distinctTests);
    this.done = new Uint8Array(db.distinctTests);
    this.attrHit = new Uint8Array(db.distinctAttrs);
  }

  score(ref: OsReference): { possible: number; matched: number } {
    let possible = 0;
    let matched = 0;
    for (let ti = 0; ti < OS_TEST_NAMES.length; ti++) {
      const line = ref.tests[ti];
      const obs = this.obs.byTest[ti];
      if (!line || !obs) continue;
      if (!this.done[line.id]) {
        let p = 0;
        let m = 0;
        const weights = this.db.matchPoints.points[ti]!;
        for (const a of line.attrs) {
          if (a.index < 0) continue;
          const v = obs[a.index];
          if (v === undefined) continue;
          const w = weights[a.index]!;
          p += w;
          let hit = this.attrHit[a.id]!;
          if (hit === 0) {
            hit = a.match(v) ? 1 : 2;
            this.attrHit[a.id] = hit;
          }
          if (hit === 1) m += w;
        }
        this.possible[line.id] = p;
        this.matched[line.id] = m;
        this.done[line.id] = 1;
      }
      possible += this.possible[line.id]!;
      matched += this.matched[line.id]!;
    }
    return { possible, matched };
  }
}

/** Accuracy of one reference for a fingerprint (0..1). */
export function compareFingerprint(db: OsDb, ref: OsReference, fp: OsFingerprint): number {
  const { possible, matched } = new LineScores(db, prepare(db, fp)).score(ref);
  return possible ? matched / possible : 0;
}

/** Every reference's accuracy, in database order (for tools and tests; the guess list is matchFingerprint). */
export function scoreAll(db: OsDb, fp: OsFingerprint): Float64Array {
  const scores = new LineScores(db, prepare(db, fp));
  const out = new Float64Array(db.references.length);
  db.references.forEach((ref, i) => {
    const { possible, matched } = scores.score(ref);
    out[i] = possible ? matched / possible : 0;
  });
  return out;
}

/** nmap's match_fingerprint: the guess list for one fingerprint. */
export function matchFingerprint(db: OsDb, fp: OsFingerprint, threshold = OSSCAN_GUESS_THRESHOLD): OsMatchResult {
  const scores = new LineScores(db, prepare(db, fp));
  let entrance = threshold;
  const list: OsMatchEntry[] = [];
  let perfect = 0;
  for (const ref of db.references) {
    const { possible, matched } = scores.score(ref);
    const acc = possible ? matched / possible : 0;
    if (!(acc >= entrance || acc === 1)) continue;
    const same = list.findIndex((e) => e.reference.name === ref.name);
    if (same >= 0) {
      if (list[same]!.accuracy >= acc) continue; // a better one of the same name is listed
      list.splice(same, 1);
    }
    if (acc === 1) {
      if (perfect === MAX_FP_RESULTS) return { outcome: 'too-many-matches', matches: list, perfect };
      perfect++;
    }
    let at = list.findIndex((e) => e.accuracy < acc);
    if (at < 0) at = list.length;
    list.splice(at, 0, { reference: ref, accuracy: acc });
    if (list.length > MAX_FP_RESULTS) list.length = MAX_FP_RESULTS;
    if (list.length === MAX_FP_RESULTS) entrance = list[MAX_FP_RESULTS - 1]!.accuracy + 0.00001;
  }
  return { outcome: list.length ? 'success' : 'no-matches', matches: list, perfect };
}

/** The guesses nmap lists without a perfect match: up to 10 within 10 points of the best (floor of the percent). */
export function guessList(result: OsMatchResult): Array<{ name: string; percent: number }> {
  const out: Array<{ name: string; percent: number }> = [];
  const best = result.matches[0]?.accuracy ?? 0;
  for (let i = 0; i < 10 && i < result.matches.length; i++) {
    const m = result.matches[i]!;
    if (i > 0 && !(m.accuracy > best - 0.1)) break;
    out.push({ name: m.reference.name, percent: Math.floor(m.accuracy * 100) });
  }
  return out;
}
export interface OsClassMatch {
  osClass: OsClass;
  accuracy: number;
}

export interface OsClassification {
  outcome: OsMatchOutcome;
  classes: OsClassMatch[];
  /** The first `perfect` classes come from perfect matches. */
  perfect: number;
}

/** nmap's populateClassification: the distinct classes of the guess list. */
export function classify(result: OsMatchResult): OsClassification {
  if (result.outcome === 'too-many-matches') return { outcome: 'too-many-matches', classes: [], perfect: 0 };
  const classes: OsClassMatch[] = [];
  let perfect = 0;
  const same = (a: OsClass, b: OsClass) =>
    a.vendor === b.vendor && a.family === b.family && a.deviceType === b.deviceType && a.generation === b.generation;
  for (let i = 0; i < result.matches.length; i++) {
    const m = result.matches[i]!;
    for (const c of m.reference.classes) {
      if (classes.some((x) => same(x.osClass, c))) continue;
      if (classes.length === MAX_FP_RESULTS) {
        return { outcome: i < result.perfect ? 'too-many-matches' : 'success', classes, perfect };
      }
      if (perfect > 0 && i >= result.perfect) return { outcome: 'success', classes, perfect };
      classes.push({ osClass: c, accuracy: m.accuracy });
      if (i < result.perfect) perfect++;
    }
  }
  return { outcome: classes.length ? 'success' : 'no-matches', classes, perfect };
}
