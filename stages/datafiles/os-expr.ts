/**
 * Attribute expressions of nmap-os-db (`T=3B-45|FA-104`, `GCD=1-6|>1000000`, `O=|M5B4`,
 * `O1=M[>500]ST11W[1-5]`), parsed for validation and compiled into matchers.
 *
 * Grammar (one attribute value): alternatives separated by `|`; each alternative is empty, `>hex`,
 * `<hex`, `hex-hex` (inclusive), a literal (`M5B4NW7`, `S+`, `Y`), or — in databases of nmap 7.95
 * and later — a literal with nested numeric sub-expressions in brackets (`M[>500]ST11W[1-5]`).
 *
 * Two comparison dialects, because nmap changed how the same text is read:
 *
 * - `nmap-7.93` (the installed nmap here, and every database without brackets): nmap 7.93's
 *   expr_match, quirks included, so accuracies equal the installed nmap's to the point:
 *   * the observed value is numeric when it parses entirely as hex (the empty value is numeric 0);
 *   * `>`/`<` compare numerically and only for numeric values;
 *   * the range test looks for the first `-` anywhere in the rest of the expression, so in
 *     `40|3B-45` the alternative `40` is read as a broken range and never matches numerically;
 *   * a literal alternative followed by `|` matches every value it is a prefix of (so an empty
 *     alternative before `|`, as in `Q=|U` or `O=|M5B4`, matches any value); the last alternative
 *     must match exactly.
 * - `nmap-7.95` (a database with nested brackets): the later semantics — empty matches only empty,
 *   leading zeros are ignored, literals match exactly, brackets match a run of hex digits.
 */

export type OsExprDialect = 'nmap-7.93' | 'nmap-7.95';

/** One `|` alternative of an expression. */
export type OsExprAlt =
  | { kind: 'empty' }
  | { kind: 'gt'; hex: string }
  | { kind: 'lt'; hex: string }
  | { kind: 'range'; lo: string; hi: string }
  | { kind: 'literal'; text: string }
  /** Literal parts and bracketed numeric sub-expressions, in order. */
  | { kind: 'nested'; parts: Array<string | OsExprAlt[]> };

export type OsMatcher = (value: string) => boolean;

const HEX = /^[0-9A-Fa-f]+$/;

/**
 * Parses an expression into its alternatives, or throws with the reason (an unbalanced bracket,
 * a range whose ends are not hex or are reversed, `>`/`<` without a hex number).
 */
export function parseOsExpr(text: string): OsExprAlt[] {
  return splitAlternatives(text).map((alt) => parseAlt(alt, true));
}

/** Splits on `|` outside brackets; throws on an unbalanced `[`/`]`. */
function splitAlternatives(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[') {
      if (depth > 0) throw new Error(`nested brackets in "${text}"`);
      depth++;
    } else if (c === ']') {
      if (depth === 0) throw new Error(`"]" without "[" in "${text}"`);
      depth--;
    } else if (c === '|' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new Error(`unclosed "[" in "${text}"`);
  out.push(text.slice(start));
  return out;
}

function parseAlt(alt: string, allowNested: boolean): OsExprAlt {
  if (alt === '') return { kind: 'empty' };
  if (alt.includes('[')) {
    if (!allowNested) throw new Error(`brackets inside brackets in "${alt}"`);
    const parts: Array<string | OsExprAlt[]> = [];
    let i = 0;
    while (i < alt.length) {
      const open = alt.indexOf('[', i);
      if (open < 0) {
        parts.push(alt.slice(i));
        break;
      }
      if (open > i) parts.push(alt.slice(i, open));
      const close = alt.indexOf(']', open);
      const inner = alt.slice(open + 1, close);
      if (inner === '') throw new Error(`empty brackets in "${alt}"`);
      parts.push(inner.split('|').map((a) => parseAlt(a, false)));
      i = close + 1;
    }
    return { kind: 'nested', parts };
  }
  if (alt[0] === '>' || alt[0] === '<') {
    const hex = alt.slice(1);
    if (!HEX.test(hex)) throw new Error(`"${alt}": ${alt[0]} needs a hex number`);
    return { kind: alt[0] === '>' ? 'gt' : 'lt', hex };
  }
  const dash = alt.indexOf('-');
  if (dash >= 0) {
    const lo = alt.slice(0, dash);
    const hi = alt.slice(dash + 1);
    if (!HEX.test(lo) || !HEX.test(hi)) throw new Error(`"${alt}": a range is hex-hex`);
    if (BigInt(`0x${hi}`) < BigInt(`0x${lo}`)) throw new Error(`"${alt}": range is reversed`);
    return { kind: 'range', lo, hi };
  }
  return { kind: 'literal', text: alt };
}

/** True when the expression uses the nested brackets of nmap 7.95+ databases. */
export function hasNestedExpr(text: string): boolean {
  return text.includes('[');
}

/**
 * A matcher for one expression. The expression must have parsed (parseOsExpr) — compiling is
 * separate so that the 7.93 dialect can work on the raw text exactly as nmap 7.93 did.
 * `nestedAllowed` (7.95 dialect) is true for option-string attributes (OPS, and O in ECN/T*).
 */
export function compileOsExpr(text: string, dialect: OsExprDialect, nestedAllowed = true): OsMatcher {
  if (dialect === 'nmap-7.93') return compile793(text);
  const alts = parseOsExpr(text);
  if (text === '') return (v) => v === '';
  return (v) => alts.some((a) => match795(a, v, nestedAllowed));
}

// ───────────── nmap 7.93 ─────────────

const SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);

function hexDigit(c: string | undefined): number {
  if (c === undefined) return -1;
  const n = c.charCodeAt(0);
  if (n >= 48 && n <= 57) return n - 48;
  if (n >= 65 && n <= 70) return n - 55;
  if (n >= 97 && n <= 102) return n - 87;
  return -1;
}

/** strtol(s + i, &end, 16) as glibc does it: whitespace, sign, optional 0x, hex digits. */
function strtol16(s: string, i: number): { value: number; end: number } {
  const start = i;
  while (i < s.length && SPACE.has(s[i]!)) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && hexDigit(s[i + 2]) >= 0) i += 2;
  const digitsStart = i;
  let value = 0;
  for (let d = hexDigit(s[i]); d >= 0; d = hexDigit(s[++i])) value = value * 16 + d;
  if (i === digitsStart) return { value: 0, end: start };
  // strtol returns a long; nmap stores it in an unsigned int.
  if (value > 0x7fffffffffffffff) value = 0x7fffffffffffffff;
  const asU32 = ((neg ? -value : value) % 0x100000000 + 0x100000000) % 0x100000000;
  return { value: asU32, end: i };
}

/**
 * One alternative as nmap 7.93 reads it, decided once from the text: what it does for a numeric
 * observed value (compare, range, or nothing — the broken-range case) and for a non-numeric one
 * (prefix or exact text).
 */
interface Alt793 {
  /** For numeric values: 'lt'/'gt' with num, 'range' lo..hi, or 'dead' (matches no numeric value). */
  numeric: { kind: 'lt' | 'gt'; num: number } | { kind: 'range'; lo: number; hi: number } | { kind: 'dead' } | { kind: 'text' };
  /** For text comparison: the alternative's text; prefix when a '|' follows it. */
  text: string;
  prefix: boolean;
}

function compile793(expr: string): OsMatcher {
  const alts: Alt793[] = [];
  let p = 0;
  for (;;) {
    const q = expr.indexOf('|', p);
    const text = q < 0 ? expr.slice(p) : expr.slice(p, q);
    const endOk = (e: number) => e === q || e === expr.length;
    let numeric: Alt793['numeric'];
    const c = expr[p];
    if (c === '<' || c === '>') {
      const e = strtol16(expr, p + 1);
      numeric = endOk(e.end) ? { kind: c === '<' ? 'lt' : 'gt', num: e.value } : { kind: 'dead' };
    } else if (expr.indexOf('-', p) >= 0) {
      // nmap 7.93 looks for the first '-' anywhere after this alternative's start.
      const q1 = expr.indexOf('-', p);
      const lo = strtol16(expr, p);
      const hi = lo.end === q1 ? strtol16(expr, q1 + 1) : undefined;
      numeric = hi && endOk(hi.end) ? { kind: 'range', lo: lo.value, hi: hi.value } : { kind: 'dead' };
    } else {
      numeric = { kind: 'text' };
    }
    alts.push({ numeric, text, prefix: q >= 0 });
    if (q < 0) break;
    p = q + 1;
  }
  const textMatch = (a: Alt793, val: string) => (a.prefix ? val.startsWith(a.text) : val === a.text);
  return (val: string): boolean => {
    const v = strtol16(val, 0);
    // strtol on "" converts nothing and leaves end at the string's end: nmap takes it as numeric 0.
    if (v.end !== val.length) return alts.some((a) => textMatch(a, val));
    const n = v.value;
    for (const a of alts) {
      const k = a.numeric;
      if (k.kind === 'text') {
        if (textMatch(a, val)) return true;
      } else if (k.kind === 'lt') {
        if (n < k.num) return true;
      } else if (k.kind === 'gt') {
        if (n > k.num) return true;
      } else if (k.kind === 'range') {
        if (n >= k.lo && n <= k.hi) return true;
      }
    }
    return false;
  };
}

// ───────────── nmap 7.95 ─────────────

const isHexDigit = (c: string | undefined): boolean => c !== undefined && /[0-9A-Fa-f]/.test(c);

function stripZeros(s: string): string {
  let i = 0;
  while (i < s.length - 1 && s[i] === '0') i++;
  return s.slice(i);
}

/** Compares two hex digit strings without leading zeros: by length, then by text. */
function cmpHex(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function match795(alt: OsExprAlt, value: string, nestedAllowed: boolean): boolean {
  if (value === '') return alt.kind === 'empty';
  switch (alt.kind) {
    case 'empty':
      return false;
    case 'literal':
      if (isHexDigit(value[0]) && isHexDigit(alt.text[0])) return stripZeros(value) === stripZeros(alt.text);
      if (isHexDigit(value[0])) return false;
      return value === alt.text;
    case 'gt':
      return isHexDigit(value[0]) && cmpHex(stripZeros(value), stripZeros(alt.hex)) > 0;
    case 'lt':
      return isHexDigit(value[0]) && cmpHex(stripZeros(value), stripZeros(alt.hex)) < 0;
    case 'range': {
      if (!isHexDigit(value[0])) return false;
      const v = stripZeros(value);
      return cmpHex(v, stripZeros(alt.lo)) >= 0 && cmpHex(v, stripZeros(alt.hi)) <= 0;
    }
    case 'nested': {
      if (!nestedAllowed) return value === alt.parts.map((p) => (typeof p === 'string' ? p : '[]')).join('');
      let pos = 0;
      for (const part of alt.parts) {
        if (typeof part === 'string') {
          if (!value.startsWith(part, pos)) return false;
          pos += part.length;
        } else {
          let end = pos;
          while (end < value.length && isHexDigit(value[end])) end++;
          if (end === pos) return false;
          const run = value.slice(pos, end);
          if (!part.some((a) => match795(a, run, false))) return false;
          pos = end;
        }
      }
      return pos === value.length;
    }
  }
}
