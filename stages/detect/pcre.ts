/**
 * PCRE → JavaScript RegExp translation for nmap-service-probes match lines.
 *
 * Responses are binary; they are matched as latin1 strings (one char per byte), so a pattern's
 * `\xHH` means byte HH on both sides. The translation is a single pass over the pattern that
 * re-emits every construct in a form whose meaning JavaScript (no `u` flag) shares with PCRE 8
 * (what Nmap links), because several look alike but differ:
 *
 * - `.` matches `\r` in PCRE (only `\n` is excluded) → `[^\n]`, or `[\s\S]` under the s flag.
 * - `$` (no m flag) also matches before a final newline → `(?=\n?$)`; `\Z` likewise, `\z` → `$`, `\A` → `^`.
 * - `\s` is ASCII whitespace in PCRE (JS adds U+00A0 and more) → `[\t-\r ]`.
 * - `[]abc]` has `]` as its first member in PCRE; JS would read `[]` as the empty class.
 * - caseless matching in PCRE (C locale) folds ASCII letters only; JS also folds latin1 letters.
 *   Caseless regions are therefore spelled out (`a` → `[aA]`), which also gives scoped `(?i)` /
 *   `(?i:…)` / `(?-i)`, which Node 20 lacks.
 * - atomic groups `(?>X)` → `(?:(?=(X))\N)` and possessive quantifiers `X*+` → `(?=(X*))\N` (lookahead captures are
 *   atomic in JS); the added groups shift group numbers, so `groupMap` maps PCRE group numbers
 *   (used by `$1` templates and back-references) to JS ones.
 * - POSIX classes `[[:alpha:]]`, `\x{HHHH}`, octal `\0`, `\012`, `\Q…\E`, `\e`, `\h`, `\v`, `\R`,
 *   `\N`, `\g{N}`, named groups `(?P<n>…)`, `(?'n'…)`, `(?P=n)`, comments `(?#…)`, `(?x)`.
 *
 * What cannot be expressed (recursion, conditionals, branch reset, `\K`, Unicode properties,
 * backtracking verbs …) throws PcreTranslationError with the reason; callers report it.
 */

export class PcreTranslationError extends Error {
  constructor(public readonly reason: string) {
    super(reason);
    this.name = 'PcreTranslationError';
  }
}

export interface PcreFlags {
  /** PCRE_CASELESS (nmap's trailing `i`). */
  i?: boolean;
  /** PCRE_DOTALL (nmap's trailing `s`). */
  s?: boolean;
}

export interface TranslatedPcre {
  source: string;
  flags: string;
  /** groupMap[n] = JS group number of PCRE group n (index 0 = whole match). */
  groupMap: number[];
  /** Number of capturing groups in the PCRE pattern. */
  groups: number;
}

interface Mode {
  i: boolean;
  s: boolean;
  m: boolean;
  x: boolean;
}

type Tok =
  | string
  | { k: 'open'; orig?: number; synth?: number }
  | { k: 'ref'; orig: number; caseless: boolean }
  | { k: 'synthref'; synth: number };

const POSIX: Record<string, Array<[number, number]>> = {
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  digit: [[0x30, 0x39]],
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  upper: [[0x41, 0x5a]],
  lower: [[0x61, 0x7a]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  print: [[0x20, 0x7e]],
  graph: [[0x21, 0x7e]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
};

const WS_CLASS = '\\t-\\r ';
const H_CLASS = '\\t \\xa0';
const V_CLASS = '\\n\\x0b\\f\\r\\x85';

/** One code unit as a JS regex atom that means exactly that char, in or out of a class. */
function lit(code: number): string {
  if ((code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f) {
    return String.fromCharCode(code);
  }
  if (code === 0x20) return ' ';
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function swapCase(c: number): number {
  return c >= 0x61 ? c - 0x20 : c + 0x20;
}

/** Adds the other-case counterparts of ASCII letters in [lo, hi]. */
function caseRanges(lo: number, hi: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const a = Math.max(lo, 0x41), b = Math.min(hi, 0x5a);
  if (a <= b) out.push([a + 0x20, b + 0x20]);
  const c = Math.max(lo, 0x61), d = Math.min(hi, 0x7a);
  if (c <= d) out.push([c - 0x20, d - 0x20]);
  return out;
}

const HEX = /^[0-9a-fA-F]$/;
const OCT = /^[0-7]$/;

class Translator {
  private out: Tok[] = [];
  private pos = 0;
  private origGroups = 0;
  private synthGroups = 0;
  private names = new Map<string, number>();
  private caselessRefs = false;
  private anyCaseless = false;
  private uniformCaseless: boolean;

  constructor(private readonly src: string, private readonly base: Mode) {
    this.uniformCaseless = base.i;
  }

  run(): TranslatedPcre {
    if (this.src.startsWith('(*')) throw new PcreTranslationError('backtracking control verb / option setting (*…) at start');
    this.sequence({ ...this.base }, false);
    if (this.pos < this.src.length) throw new PcreTranslationError(`unmatched ) at offset ${this.pos}`);
    // Final numbering: every capturing open, original or synthetic, in output order.
    const origToJs: number[] = [0];
    const synthToJs: number[] = [];
    let n = 0;
    for (const t of this.out) {
      if (typeof t === 'object' && t.k === 'open') {
        n++;
        if (t.orig !== undefined) origToJs[t.orig] = n;
        else synthToJs[t.synth!] = n;
      }
    }
    let flags = '';
    if (this.caselessRefs) {
      // A back-reference in a caseless region: JS compares case-sensitively unless the i flag is
      // set, which is only equivalent when the whole pattern is caseless.
      if (!this.uniformCaseless) throw new PcreTranslationError('back-reference inside a scoped caseless region');
      flags = 'i';
    }
    const source = this.out
      .map((t) => {
        if (typeof t === 'string') return t;
        if (t.k === 'open') return '(';
        if (t.k === 'ref') {
          const js = origToJs[t.orig];
          if (js === undefined) throw new PcreTranslationError(`back-reference to group ${t.orig}, which does not exist`);
          return `(?:\\${js})`;
        }
        return `(?:\\${synthToJs[t.synth]!})`;
      })
      .join('');
    void this.anyCaseless;
    return { source, flags, groupMap: origToJs, groups: this.origGroups };
  }

  private fail(what: string): never {
    throw new PcreTranslationError(what);
  }

  /** Parses alternatives until `)` (when inGroup) or the end. Leaves pos at the `)`. */
  private sequence(mode: Mode, inGroup: boolean): void {
    let atomStart = -1; // index in out where the last quantifiable atom begins
    const src = this.src;
    while (this.pos < src.length) {
      const c = src[this.pos]!;
      if (mode.x) {
        if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
          this.pos++;
          continue;
        }
        if (c === '#') {
          while (this.pos < src.length && src[this.pos] !== '\n') this.pos++;
          continue;
        }
      }
      if (c === ')') {
        if (!inGroup) this.fail(`unmatched ) at offset ${this.pos}`);
        return;
      }
      if (c === '|') {
        this.out.push('|');
        this.pos++;
        atomStart = -1;
        continue;
      }
      if (c === '*' || c === '+' || c === '?' || (c === '{' && this.quantifierAt(this.pos))) {
        if (atomStart < 0) this.fail(`quantifier with nothing to repeat at offset ${this.pos}`);
        this.quantifier(atomStart);
        continue;
      }
      const start = this.out.length;
      if (c === '(') {
        const flagsOnly = this.group(mode);
        if (flagsOnly) {
          // (?i) etc. changed `mode` in place for the rest of this group.
          atomStart = -1;
          continue;
        }
      } else if (c === '[') {
        this.out.push(this.charClass(mode));
      } else if (c === '\\') {
        const r = this.escape(mode, false);
        if (r === null) {
          atomStart = -1;
          continue;
        }
        // \Q…\E pushes several chars; a quantifier after it repeats the last one only.
        atomStart = this.out.length - 1;
        continue;
      } else if (c === '.') {
        this.pos++;
        this.out.push(mode.s ? '[\\s\\S]' : '[^\\n]');
      } else if (c === '^') {
        this.pos++;
        this.out.push(mode.m ? '(?:^|(?<=\\n))' : '^');
      } else if (c === '$') {
        this.pos++;
        this.out.push(mode.m ? '(?=\\n|$)' : '(?=\\n?$)');
      } else {
        this.pos++;
        this.out.push(this.literal(c.charCodeAt(0), mode));
      }
      atomStart = start;
    }
    if (inGroup) this.fail('missing )');
  }

  private quantifierAt(p: number): boolean {
    return /^\{\d+(,\d*)?\}/.test(this.src.slice(p, p + 24));
  }

  private quantifier(atomStart: number): void {
    const src = this.src;
    let q: string;
    if (src[this.pos] === '{') {
      const m = /^\{\d+(,\d*)?\}/.exec(src.slice(this.pos))!;
      q = m[0];
    } else q = src[this.pos]!;
    this.pos += q.length;
    if (src[this.pos] === '?') {
      q += '?';
      this.pos++;
    } else if (src[this.pos] === '+') {
      // possessive: atomic group around atom + quantifier
      this.pos++;
      const atom = this.out.splice(atomStart);
      const id = this.synthGroups++;
      this.out.push('(?=', { k: 'open', synth: id }, ...atom, q, '))', { k: 'synthref', synth: id });
      return;
    }
    this.out.push(q);
  }

  private literal(code: number, mode: Mode): string {
    if (mode.i && isLetter(code)) {
      this.anyCaseless = true;
      return `[${lit(code)}${lit(swapCase(code))}]`;
    }
    return lit(code);
  }

  /** Returns true when the construct only set flags (nothing emitted). */
  private group(mode: Mode): boolean {
    const src = this.src;
    this.pos++; // (
    if (src[this.pos] === '*') this.fail('backtracking control verb (*…)');
    if (src[this.pos] !== '?') {
      const id = ++this.origGroups;
      this.out.push({ k: 'open', orig: id });
      this.body(mode);
      this.out.push(')');
      return false;
    }
    this.pos++; // ?
    const c = src[this.pos] ?? '';
    const rest = src.slice(this.pos);
    if (c === '#') {
      const end = src.indexOf(')', this.pos);
      if (end < 0) this.fail('unterminated (?# comment');
      this.pos = end + 1;
      return true;
    }
    if (c === ':' || c === '=' || c === '!') {
      this.pos++;
      this.out.push(`(?${c}`);
      this.body(mode);
      this.out.push(')');
      return false;
    }
    if (rest.startsWith('<=') || rest.startsWith('<!')) {
      this.pos += 2;
      this.out.push(`(?${rest.slice(0, 2)}`);
      this.body(mode);
      this.out.push(')');
      return false;
    }
    if (c === '>') {
      this.pos++;
      const id = this.synthGroups++;
      // Wrapped in (?:…): a quantifier after the group repeats the whole emulation, each
      // repetition matching afresh (found by test/unit/property-parsers.test.ts against grep -P).
      this.out.push('(?:(?=', { k: 'open', synth: id });
      this.body(mode);
      this.out.push('))', { k: 'synthref', synth: id }, ')');
      return false;
    }
    const named = /^(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')/.exec(rest);
    if (named) {
      this.pos += named[0].length;
      const id = ++this.origGroups;
      this.names.set((named[1] ?? named[2])!, id);
      this.out.push({ k: 'open', orig: id });
      this.body(mode);
      this.out.push(')');
      return false;
    }
    const nameRef = /^P=([A-Za-z_]\w*)\)/.exec(rest);
    if (nameRef) {
      this.pos += nameRef[0].length;
      this.pushNamedRef(nameRef[1]!, mode);
      return false;
    }
    if (c === '|') this.fail('branch reset group (?|…)');
    if (c === '(') this.fail('conditional group (?(…)…)');
    if (c === 'R' || /^[+-]?\d/.test(rest) || c === '&' || rest.startsWith('P>')) this.fail('recursion / subroutine call');
    if (c === 'C') this.fail('callout (?C…)');
    const fl = /^([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])/.exec(rest);
    if (!fl) this.fail(`unknown group construct (?${rest.slice(0, 6)}`);
    const on = fl[1] ?? '';
    const off = fl[2] ?? '';
    const next: Mode = { ...mode };
    for (const [letters, val] of [[on, true], [off, false]] as const) {
      for (const f of letters) {
        if (f === 'i') next.i = val;
        else if (f === 's') next.s = val;
        else if (f === 'm') next.m = val;
        else if (f === 'x') next.x = val;
        else this.fail(`inline option (?${f}) has no JavaScript equivalent`);
      }
    }
    if (next.i !== this.base.i) this.uniformCaseless = false;
    this.pos += fl[0].length;
    if (fl[3] === ')') {
      Object.assign(mode, next); // rest of the enclosing group
      return true;
    }
    this.out.push('(?:');
    this.body(next);
    this.out.push(')');
    return false;
  }

  private body(mode: Mode): void {
    this.sequence({ ...mode }, true);
    if (this.src[this.pos] !== ')') this.fail('missing )');
    this.pos++;
  }

  private pushNamedRef(name: string, mode: Mode): void {
    const id = this.names.get(name);
    if (id === undefined) this.fail(`reference to unknown group name ${name}`);
    this.pushRef(id, mode);
  }

  private pushRef(orig: number, mode: Mode): void {
    if (mode.i) this.caselessRefs = true;
    this.out.push({ k: 'ref', orig, caseless: mode.i });
  }

  /**
   * An escape outside a class. Pushes its translation and returns it, or null for an escape that
   * emits nothing (\E).
   */
  private escape(mode: Mode, _inClass: boolean): string | null {
    const src = this.src;
    this.pos++; // backslash
    const c = src[this.pos];
    if (c === undefined) this.fail('pattern ends with a backslash');
    this.pos++;
    const push = (s: string) => {
      this.out.push(s);
      return s;
    };
    switch (c) {
      case 'A':
      case 'G':
        return push('^');
      case 'Z':
        return push('(?=\\n?$)');
      case 'z':
        return push('$');
      case 'b':
        return push('\\b');
      case 'B':
        return push('\\B');
      case 'd':
        return push('\\d');
      case 'D':
        return push('\\D');
      case 'w':
        return push('\\w');
      case 'W':
        return push('\\W');
      case 's':
        return push(`[${WS_CLASS}]`);
      case 'S':
        return push(`[^${WS_CLASS}]`);
      case 'h':
        return push(`[${H_CLASS}]`);
      case 'H':
        return push(`[^${H_CLASS}]`);
      case 'v':
        return push(`[${V_CLASS}]`);
      case 'V':
        return push(`[^${V_CLASS}]`);
      case 'R':
        return push(`(?:\\r\\n|[${V_CLASS}])`);
      case 'N':
        return push('[^\\n]');
      case 'Q': {
        const end = src.indexOf('\\E', this.pos);
        const text = end < 0 ? src.slice(this.pos) : src.slice(this.pos, end);
        this.pos = end < 0 ? src.length : end + 2;
        if (text.length === 0) return null;
        // Quantifiers after \Q…\E apply to the last char only.
        const parts = [...text].map((ch) => this.literal(ch.charCodeAt(0), mode));
        for (let k = 0; k < parts.length - 1; k++) this.out.push(parts[k]!);
        return push(parts[parts.length - 1]!);
      }
      case 'E':
        return null;
      case 'K':
        this.fail('\\K (reset match start)');
        break;
      case 'p':
      case 'P':
      case 'X':
        this.fail(`\\${c} (Unicode properties need UTF mode)`);
        break;
      case 'C':
        this.fail('\\C (single code unit)');
        break;
      case 'g': {
        const m = /^(?:\{(-?\d+)\}|(-?\d+)|\{([A-Za-z_]\w*)\})/.exec(src.slice(this.pos));
        if (!m) this.fail('bad \\g reference');
        this.pos += m[0].length;
        if (m[3] !== undefined) {
          this.pushNamedRef(m[3], mode);
          return '';
        }
        let n = Number(m[1] ?? m[2]);
        if (n < 0) n = this.origGroups + 1 + n;
        if (n <= 0) this.fail('bad relative back-reference');
        this.pushRef(n, mode);
        return '';
      }
      case 'k': {
        const m = /^(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|\{([A-Za-z_]\w*)\})/.exec(src.slice(this.pos));
        if (!m) this.fail('bad \\k reference');
        this.pos += m[0].length;
        this.pushNamedRef((m[1] ?? m[2] ?? m[3])!, mode);
        return '';
      }
      default: {
        if (c >= '1' && c <= '9') {
          // PCRE: \1–\9 are back-references; \10+ is a reference when that many groups exist
          // so far, else an octal escape.
          const digits = /^\d*/.exec(src.slice(this.pos))![0];
          const n = Number(c + digits);
          if (n < 10 || n <= this.origGroups) {
            this.pos += digits.length;
            this.pushRef(n, mode);
            return '';
          }
          if (c >= '8') this.fail(`\\${c}${digits}: reference to a group that does not exist`);
          this.pos--;
          return push(this.literal(this.octal(), mode));
        }
        const code = this.charEscapeCode(c);
        return push(this.literal(code, mode));
      }
    }
    return null;
  }

  /** Octal digits at pos (up to 3), PCRE style. */
  private octal(): number {
    const m = /^[0-7]{1,3}/.exec(this.src.slice(this.pos))!;
    this.pos += m[0].length;
    return parseInt(m[0], 8) & 0xff;
  }

  /** Code of a single-char escape whose letter `c` was just consumed (shared by classes). */
  private charEscapeCode(c: string): number {
    const src = this.src;
    switch (c) {
      case 'a':
        return 0x07;
      case 'e':
        return 0x1b;
      case 'f':
        return 0x0c;
      case 'n':
        return 0x0a;
      case 'r':
        return 0x0d;
      case 't':
        return 0x09;
      case '0': {
        this.pos--;
        return this.octal();
      }
      case 'o': {
        const m = /^\{([0-7]+)\}/.exec(src.slice(this.pos));
        if (!m) this.fail('bad \\o{…}');
        this.pos += m[0].length;
        return this.wide(parseInt(m[1]!, 8));
      }
      case 'x': {
        if (src[this.pos] === '{') {
          const end = src.indexOf('}', this.pos);
          const hex = src.slice(this.pos + 1, end);
          if (end < 0 || !/^[0-9a-fA-F]+$/.test(hex)) this.fail('bad \\x{…}');
          this.pos = end + 1;
          return this.wide(parseInt(hex, 16));
        }
        let hex = '';
        while (hex.length < 2 && HEX.test(src[this.pos] ?? '')) hex += src[this.pos++];
        return hex ? parseInt(hex, 16) : 0;
      }
      case 'c': {
        const ch = src[this.pos++];
        if (ch === undefined) this.fail('\\c at end of pattern');
        return ch.toUpperCase().charCodeAt(0) ^ 0x40;
      }
      default:
        if (/[a-zA-Z]/.test(c) && !'lLuU'.includes(c)) {
          // PCRE 8 treats unknown letter escapes as the letter.
          return c.charCodeAt(0);
        }
        if ('lLuU'.includes(c)) this.fail(`\\${c} (case-changing escape) is not supported by PCRE`);
        return c.charCodeAt(0);
    }
  }

  private wide(code: number): number {
    if (code > 0xffff) this.fail(`code point ${code.toString(16)} beyond 16 bits`);
    return code;
  }

  /** A character class; returns its JS text. */
  private charClass(mode: Mode): string {
    const src = this.src;
    this.pos++; // [
    let negate = false;
    if (src[this.pos] === '^') {
      negate = true;
      this.pos++;
    }
    const ranges: Array<[number, number]> = [];
    const extras: string[] = []; // \d \w etc. kept as JS class escapes
    let first = true;
    let prev: number | undefined; // last single char, candidate range start
    const single = (code: number) => {
      ranges.push([code, code]);
      prev = code;
    };
    while (true) {
      if (this.pos >= src.length) this.fail('missing ] for character class');
      const c = src[this.pos]!;
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === '[' && /^\[:(\^?)([a-z]+):\]/.test(src.slice(this.pos))) {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(this.pos))!;
        const set = POSIX[m[2]!];
        if (!set) this.fail(`unknown POSIX class [:${m[2]}:]`);
        this.pos += m[0].length;
        if (m[1]) {
          // negated POSIX class inside a class: complement within 0–255 (latin1 subject)
          let lo = 0;
          for (const [a, b] of [...set].sort((x, y) => x[0] - y[0])) {
            if (a > lo) ranges.push([lo, a - 1]);
            lo = b + 1;
          }
          if (lo <= 0xffff) ranges.push([lo, 0xffff]);
        } else ranges.push(...set);
        prev = undefined;
        continue;
      }
      // range "x-y"
      if (c === '-' && prev !== undefined && src[this.pos + 1] !== ']' && this.pos + 1 < src.length) {
        const save = this.pos;
        this.pos++;
        const hi = this.classAtom(extras, true);
        if (hi === undefined) {
          // "a-\d": the dash is literal
          this.pos = save + 1;
          single(0x2d);
          continue;
        }
        if (hi < prev) this.fail('range out of order in character class');
        ranges[ranges.length - 1] = [prev, hi];
        prev = undefined;
        continue;
      }
      const code = this.classAtom(extras, false);
      if (code === undefined) {
        prev = undefined;
        continue;
      }
      single(code);
    }
    if (mode.i) {
      const add: Array<[number, number]> = [];
      for (const [a, b] of ranges) add.push(...caseRanges(a, b));
      ranges.push(...add);
    }
    const body = ranges.map(([a, b]) => (a === b ? lit(a) : `${lit(a)}-${lit(b)}`)).join('') + extras.join('');
    if (body === '') return negate ? '[\\s\\S]' : '[^\\s\\S]';
    return `[${negate ? '^' : ''}${body}]`;
  }

  /**
   * One member of a class: returns its char code, or undefined when it was a class escape
   * (pushed onto extras) or \E / empty \Q\E. With rangeEnd, a class escape is not consumed.
   */
  private classAtom(extras: string[], rangeEnd: boolean): number | undefined {
    const src = this.src;
    const c = src[this.pos]!;
    if (c !== '\\') {
      this.pos++;
      return c.charCodeAt(0);
    }
    const e = src[this.pos + 1];
    if (e === undefined) this.fail('pattern ends with a backslash');
    const classEsc: Record<string, string> = {
      d: '\\d', D: '\\D', w: '\\w', W: '\\W', s: WS_CLASS, h: H_CLASS, v: V_CLASS,
    };
    if (e in classEsc || e === 'S' || e === 'H' || e === 'V') {
      if (rangeEnd) return undefined;
      this.pos += 2;
      if (e === 'S') extras.push('\\S'); // differs from PCRE only for U+00A0/U+FEFF-class chars
      else if (e === 'H' || e === 'V') this.fail(`\\${e} inside a character class`);
      else extras.push(classEsc[e]!);
      return undefined;
    }
    if (e === 'p' || e === 'P' || e === 'X') this.fail(`\\${e} (Unicode properties need UTF mode)`);
    this.pos += 2;
    if (e === 'b') return 0x08;
    if (e === 'Q') {
      const end = src.indexOf('\\E', this.pos);
      const text = end < 0 ? src.slice(this.pos) : src.slice(this.pos, end);
      this.pos = end < 0 ? src.length : end + 2;
      // Each quoted char is a member; return the last one as a possible range start.
      for (let k = 0; k < text.length - 1; k++) extras.push(lit(text.charCodeAt(k)));
      return text.length ? text.charCodeAt(text.length - 1) : undefined;
    }
    if (e === 'E') return undefined;
    if (OCT.test(e)) {
      this.pos--;
      return this.octal();
    }
    if (e >= '8' && e <= '9') return e.charCodeAt(0);
    return this.charEscapeCode(e);
  }
}

/** Translates a PCRE pattern; throws PcreTranslationError when it has no JS equivalent. */
export function translatePcre(pattern: string, flags: PcreFlags = {}): TranslatedPcre {
  const t = new Translator(pattern, { i: flags.i === true, s: flags.s === true, m: false, x: false });
  const r = t.run();
  try {
    new RegExp(r.source, r.flags);
  } catch (e) {
    throw new PcreTranslationError(`JavaScript rejects the translation: ${(e as Error).message}`);
  }
  return r;
}

export interface CompiledPcre {
  regex: RegExp;
  groupMap: number[];
  groups: number;
}

export function compilePcre(pattern: string, flags: PcreFlags = {}): CompiledPcre {
  const r = translatePcre(pattern, flags);
  return { regex: new RegExp(r.source, r.flags), groupMap: r.groupMap, groups: r.groups };
}
