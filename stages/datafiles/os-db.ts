/**
 * OsDb: nmap-os-db read whole, at run time, from the data directory (never copied).
 *
 *   MatchPoints
 *   SEQ(SP=25%GCD=75%ISR=25%TI=100%CI=50%II=100%SS=80%TS=100)
 *   …
 *   Fingerprint Linux 5.0 - 5.4
 *   Class Linux | Linux | 5.X | general purpose
 *   CPE cpe:/o:linux:linux_kernel:5 auto
 *   SEQ(SP=F9-103%GCD=1-6%ISR=108-112%TI=Z%CI=Z%II=I%TS=A)
 *   …                                    (a blank line ends a record; `#` lines are comments)
 *
 * Every line is accounted for: lines that cannot be used are kept as problems with their line
 * number and the reason, the way nmap 7.93 reads the file (it skips such lines with an error
 * message) — an unknown test or attribute, a test line without `)`, a Class with fewer than four
 * fields, a CPE before any Class, an expression that does not parse, a repeated test.
 * Expressions are compiled once here into matchers (see os-expr.ts), in the dialect the file
 * calls for: nmap 7.93's unless the file uses the nested brackets of 7.95+ databases.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDatadir } from './datadir.js';
import { compileOsExpr, hasNestedExpr, parseOsExpr, type OsExprDialect, type OsMatcher } from './os-expr.js';

export const OS_DB_FILE = 'nmap-os-db';

/** The IPv4 tests, in the order nmap prints them. */
export const OS_TEST_NAMES = ['SEQ', 'OPS', 'WIN', 'ECN', 'T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'U1', 'IE'] as const;
export type OsTestName = (typeof OS_TEST_NAMES)[number];

const TEST_INDEX = new Map<string, number>(OS_TEST_NAMES.map((n, i) => [n, i]));

/** Index of a test name in OS_TEST_NAMES, or -1. */
export function osTestIndex(name: string): number {
  return TEST_INDEX.get(name) ?? -1;
}

/** Option-string attributes: the only ones where 7.95's nested brackets apply. */
const OPTION_ATTRS = new Set(['O', 'O1', 'O2', 'O3', 'O4', 'O5', 'O6']);

/** `Class vendor | family | generation | device type` (generation may be empty), with its CPE lines. */
export interface OsClass {
  vendor: string;
  family: string;
  /** Undefined when the field is empty, as nmap keeps it. */
  generation?: string;
  deviceType: string;
  /** CPE names from the `CPE` lines after this Class (trailing flags such as `auto` dropped). */
  cpe: string[];
}

/** One attribute of a reference test: its expression text and compiled matcher. */
export interface OsRefAttr {
  name: string;
  expr: string;
  /**
   * Index of the attribute in the MatchPoints line of its test (its weight is points[test][index]),
   * or -1 for an attribute MatchPoints does not weigh (the database's `OPS(R=N)`, `WIN(R=N)`,
   * `SEQ(R=N)`): an observed fingerprint never has those, so they never score — as in nmap.
   */
  index: number;
  match: OsMatcher;
  /** Numbers the distinct (test, attribute, expression) triples, so a matcher runs once per fingerprint. */
  id: number;
}

/**
 * One test line of a reference. Identical lines are shared between references (74k test lines
 * in nmap 7.93's file are 15k distinct texts), so they are parsed, compiled and — per observed
 * fingerprint — scored once; `id` numbers the distinct lines.
 */
export interface OsRefTest {
  id: number;
  text: string;
  attrs: OsRefAttr[];
}

/** One `Fingerprint` record. */
export interface OsReference {
  name: string;
  /** 1-based line of the Fingerprint line. */
  line: number;
  classes: OsClass[];
  /** Per test (OS_TEST_NAMES order): its line, or undefined when absent. */
  tests: Array<OsRefTest | undefined>;
}

/** The MatchPoints block: per test, the attribute names in order and their weights. */
export interface OsMatchPoints {
  /** Per test (OS_TEST_NAMES order). */
  attrs: string[][];
  points: number[][];
  /** attribute name → index, per test. */
  index: Array<Map<string, number>>;
}

export interface OsDbProblem {
  line: number;
  text: string;
  reason: string;
}

export interface OsDb {
  /** Path read, or the name given to parseOsDb. */
  source: string;
  dialect: OsExprDialect;
  matchPoints: OsMatchPoints;
  references: OsReference[];
  problems: OsDbProblem[];
  /** Number of lines in the file. */
  lines: number;
  /** Number of distinct reference test lines (OsRefTest ids are 0..distinctTests-1). */
  distinctTests: number;
  /** Number of distinct (test, attribute, expression) triples (OsRefAttr ids). */
  distinctAttrs: number;
}

/** Raised when the file has no usable MatchPoints block (nothing can be scored without it). */
export class OsDbError extends Error {
  override name = 'OsDbError';
}

interface RawTest {
  name: string;
  attrs: Array<[string, string]>;
  line: number;
  text: string;
}

/** Splits `NAME(A=x%B=y)` the way nmap does; returns a reason string when it cannot. */
function splitTestLine(text: string): { name: string; attrs: Array<[string, string]> } | string {
  const open = text.indexOf('(');
  if (open < 0) return 'not a test line (no "(")';
  const close = text.indexOf(')', open + 1);
  if (close < 0) return 'test line without ")"';
  const rest = text.slice(close + 1).trim();
  if (rest !== '') return `text after ")": "${rest}"`;
  const name = text.slice(0, open);
  const body = text.slice(open + 1, close);
  const attrs: Array<[string, string]> = [];
  if (body !== '') {
    for (const part of body.split('%')) {
      const eq = part.indexOf('=');
      if (eq <= 0) return `attribute without "=" or name: "${part}"`;
      attrs.push([part.slice(0, eq), part.slice(eq + 1)]);
    }
  }
  return { name, attrs };
}

/** Parses the text of an nmap-os-db file. Throws OsDbError only when MatchPoints is missing. */
export function parseOsDb(text: string, source = 'nmap-os-db'): OsDb {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const problems: OsDbProblem[] = [];
  const problem = (line: number, lineText: string, reason: string) => problems.push({ line, text: lineText, reason });

  interface RawRecord { kind: 'points' | 'print'; name: string; line: number; classes: OsClass[]; tests: RawTest[] }
  const records: RawRecord[] = [];
  let current: RawRecord | undefined;
  let sawPoints = false;
  // Most test lines repeat (74k lines, 15k distinct texts in nmap 7.93's file): split each text once.
  const splitCache = new Map<string, ReturnType<typeof splitTestLine>>();

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!;
    const raw = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (raw.charCodeAt(0) === 35 /* # */) continue;
    if (raw === '') {
      current = undefined;
      continue;
    }
    if (current === undefined) {
      // Outside a record only a record start is allowed (nmap: case-insensitive keyword).
      const head = raw.slice(0, 11).toLowerCase();
      if (head === 'fingerprint' && (raw.length === 11 || /\s/.test(raw[11]!))) {
        const name = raw.slice(12).split('#')[0]!.trim();
        if (name === '') {
          problem(lineNo, raw, 'Fingerprint without a name');
          continue;
        }
        current = { kind: 'print', name, line: lineNo, classes: [], tests: [] };
        records.push(current);
      } else if (head === 'matchpoints') {
        if (sawPoints) {
          problem(lineNo, raw, 'a second MatchPoints block (nmap refuses the file)');
          current = { kind: 'points', name: '', line: lineNo, classes: [], tests: [] }; // parsed and dropped
          continue;
        }
        sawPoints = true;
        current = { kind: 'points', name: '', line: lineNo, classes: [], tests: [] };
        records.push(current);
      } else {
        problem(lineNo, raw, raw.trim() === '' ? 'whitespace-only line outside a record' : 'outside a record and not a Fingerprint or MatchPoints line');
      }
      continue;
    }
    if (raw.startsWith('Class ')) {
      const fields = raw.slice(6).split('|');
      if (fields.length < 4) {
        problem(lineNo, raw, 'Class needs vendor | family | generation | device type');
        continue;
      }
      const [vendor, family, generation, ...typeParts] = fields.map((f) => f.trim());
      const deviceType = typeParts.join('|').trim();
      const cls: OsClass = { vendor: vendor!, family: family!, deviceType, cpe: [] };
      if (generation) cls.generation = generation;
      current.classes.push(cls);
      continue;
    }
    if (raw.startsWith('CPE ')) {
      const last = current.classes[current.classes.length - 1];
      const cpe = raw.slice(4).trim().split(/\s+/)[0] ?? '';
      if (!last) problem(lineNo, raw, 'CPE line before any Class line');
      else if (!cpe.startsWith('cpe:/')) problem(lineNo, raw, 'CPE line without a cpe:/ name');
      else last.cpe.push(cpe);
      continue;
    }
    if ((raw[0] === 'F' || raw[0] === 'f') && /^fingerprint\s/i.test(raw)) {
      problem(lineNo, raw, 'Fingerprint inside a record (a blank line must end the previous one)');
      continue;
    }
    let split = splitCache.get(raw);
    if (split === undefined) {
      split = splitTestLine(raw);
      splitCache.set(raw, split);
    }
    if (typeof split === 'string') {
      problem(lineNo, raw, split);
      continue;
    }
    current.tests.push({ name: split.name, attrs: split.attrs, line: lineNo, text: raw });
  }

  const pointsRec = records.find((r) => r.kind === 'points');
  if (!pointsRec) throw new OsDbError(`${source}: no MatchPoints block, so no fingerprint can be scored`);
  const matchPoints: OsMatchPoints = {
    attrs: OS_TEST_NAMES.map(() => []),
    points: OS_TEST_NAMES.map(() => []),
    index: OS_TEST_NAMES.map(() => new Map()),
  };
  for (const t of pointsRec.tests) {
    const ti = osTestIndex(t.name);
    if (ti < 0) {
      problem(t.line, t.text, `unknown test "${t.name}" in MatchPoints`);
      continue;
    }
    if (matchPoints.attrs[ti]!.length > 0) {
      problem(t.line, t.text, `test ${t.name} repeated in MatchPoints`);
      continue;
    }
    for (const [name, value] of t.attrs) {
      if (!/^\d+$/.test(value) || Number(value) <= 0) {
        problem(t.line, t.text, `${t.name}.${name}: points must be a positive integer, got "${value}"`);
        continue;
      }
      matchPoints.index[ti]!.set(name, matchPoints.attrs[ti]!.length);
      matchPoints.attrs[ti]!.push(name);
      matchPoints.points[ti]!.push(Number(value));
    }
  }

  const printRecs = records.filter((r) => r.kind === 'print');
  const dialect: OsExprDialect = printRecs.some((r) => r.tests.some((t) => t.attrs.some(([, v]) => hasNestedExpr(v)))) ? 'nmap-7.95' : 'nmap-7.93';
  const references: OsReference[] = [];
  // Distinct test lines → their parsed form (or the reason they cannot be used).
  const lineCache = new Map<string, OsRefTest | string[]>();
  const matcherCache = new Map<string, OsMatcher>();
  let distinctTests = 0;
  // Distinct (test, attribute, expression) → its parsed form, or why it cannot be used: 120k
  // attribute occurrences in the distinct lines are 14k distinct triples.
  const attrCache = new Map<string, { index: number; match: OsMatcher; id: number } | string>();
  const buildTest = (t: RawTest, ti: number): OsRefTest | string[] => {
    const reasons: string[] = [];
    const attrs: OsRefAttr[] = [];
    const seen = new Set<string>();
    for (const [name, expr] of t.attrs) {
      if (seen.has(name)) {
        reasons.push(`${t.name}.${name} repeated`);
        continue;
      }
      const key = `${ti}:${name}=${expr}`;
      let a = attrCache.get(key);
      if (a === undefined) {
        try {
          parseOsExpr(expr);
          const option = OPTION_ATTRS.has(name);
          const mkey = `${option ? 'o' : 'v'}${expr}`;
          let match = matcherCache.get(mkey);
          if (!match) {
            match = compileOsExpr(expr, dialect, option);
            matcherCache.set(mkey, match);
          }
          a = { index: matchPoints.index[ti]!.get(name) ?? -1, match, id: attrCache.size };
        } catch (e) {
          a = `${t.name}.${name}: ${(e as Error).message}`;
        }
        attrCache.set(key, a);
      }
      if (typeof a === 'string') {
        reasons.push(a);
        continue;
      }
      seen.add(name);
      attrs.push({ name, expr, index: a.index, match: a.match, id: a.id });
    }
    if (reasons.length) return reasons;
    return { id: distinctTests++, text: t.text, attrs };
  };
  for (const r of printRecs) {
    const tests: Array<OsRefTest | undefined> = OS_TEST_NAMES.map(() => undefined);
    for (const t of r.tests) {
      const ti = osTestIndex(t.name);
      if (ti < 0) {
        problem(t.line, t.text, `unknown test "${t.name}"`);
        continue;
      }
      if (tests[ti]) {
        problem(t.line, t.text, `test ${t.name} repeated in this fingerprint (the first is used)`);
        continue;
      }
      let built = lineCache.get(t.text);
      if (!built) {
        built = buildTest(t, ti);
        lineCache.set(t.text, built);
      }
      if (Array.isArray(built)) {
        for (const reason of built) problem(t.line, t.text, reason);
        continue;
      }
      tests[ti] = built;
    }
    if (r.classes.length === 0) problem(r.line, `Fingerprint ${r.name}`, 'fingerprint without a Class line');
    if (!tests.some((t) => t !== undefined)) {
      problem(r.line, `Fingerprint ${r.name}`, 'fingerprint without test lines (dropped)');
      continue;
    }
    references.push({ name: r.name, line: r.line, classes: r.classes, tests });
  }
  problems.sort((a, b) => a.line - b.line);
  return { source, dialect, matchPoints, references, problems, lines: lines.length, distinctTests, distinctAttrs: attrCache.size };
}

const cache = new Map<string, OsDb>();

/**
 * Reads `nmap-os-db` from the data directory (--datadir, $PRTIP_DATADIR, /usr/share/nmap), once
 * per path per process. Throws a UserInputError-friendly Error naming the path when it is missing.
 */
export function loadOsDb(datadir?: string): OsDb {
  const path = join(resolveDatadir(datadir), OS_DB_FILE);
  const hit = cache.get(path);
  if (hit) return hit;
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    throw new OsDbError(`cannot read the OS database ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): install nmap's data files (Debian: nmap-common) or point --datadir at a directory with nmap-os-db`);
  }
  const db = parseOsDb(text, path);
  cache.set(path, db);
  return db;
}

export function clearOsDbCache(): void {
  cache.clear();
}
