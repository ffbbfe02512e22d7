/**
 * Version templates of nmap-service-probes match lines: the p/ v/ i/ h/ o/ d/ fields and cpe:/…/
 * may refer to the match's groups:
 *   $1 … $9                   the group's text
 *   $P(n)                     the group with unprintable bytes removed (e.g. UTF-16 "A\0B\0" → "AB")
 *   $SUBST(n,"from","to")     the group with every "from" replaced by "to"
 *   $I(n,">") / $I(n,"<")     the group's bytes as an unsigned big-/little-endian integer
 * A group that did not take part in the match substitutes as empty text.
 *
 * As nmap fills them: trailing whitespace and commas are stripped; a field longer than nmap's
 * buffer for it is dropped (nmap warns and leaves it empty); CPE substitutions are lower-cased,
 * spaces become "_" and the characters CPE 2.2 reserves are %-escaped; one CPE is kept per part
 * (a, h, o: a later template of the same part replaces an earlier one).
 */

export interface VersionFields {
  product?: string;
  version?: string;
  extrainfo?: string;
  hostname?: string;
  ostype?: string;
  devicetype?: string;
  cpe: string[];
}

/** Template text of a match line, before substitution. */
export interface VersionTemplates {
  p?: string;
  v?: string;
  i?: string;
  h?: string;
  o?: string;
  d?: string;
  cpe: string[];
}

/** A problem in a template, found when the probe file is read (so it is reported, not hit at scan time). */
export function templateProblem(tpl: string, groups: number): string | undefined {
  const re = /\$(?:(\d)|P\((\d+)\)|SUBST\((\d+),\s*"((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)"\)|I\((\d+),\s*"([<>])"\)|([A-Za-z]+)\()/g;
  for (const m of tpl.matchAll(re)) {
    if (m[8] !== undefined) return `unknown template function $${m[8]}()`;
    const n = Number(m[1] ?? m[2] ?? m[3] ?? m[6]);
    if (n === 0) return 'template refers to group 0 (groups are numbered from 1)';
    if (n > groups) return `template refers to group ${n} but the pattern has ${groups}`;
  }
  return undefined;
}

const ARG_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0' };

/** $SUBST arguments may spell control bytes as \r, \n, \t, \0, \xHH; any other \c is c. */
function unescapeArg(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
    e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (ARG_ESCAPES[e] ?? e));
}

function printable(s: string): string {
  let out = '';
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x20 && c < 0x7f) out += s[k];
  }
  return out;
}

function unpackInt(s: string, endian: string): string {
  if (s.length === 0 || s.length > 8) return '';
  let v = 0n;
  const n = s.length;
  for (let k = 0; k < n; k++) {
    const byte = BigInt(s.charCodeAt(endian === '>' ? k : n - 1 - k) & 0xff);
    v = (v << 8n) | byte;
  }
  return v.toString();
}

/**
 * Substitutes one template. `group(n)` returns PCRE group n's text (latin1, one char per byte) or
 * undefined when it did not participate.
 */
export function substituteTemplate(
  tpl: string,
  group: (n: number) => string | undefined,
  transform: (s: string) => string = (s) => s,
): string {
  let out = '';
  let k = 0;
  while (k < tpl.length) {
    const c = tpl[k]!;
    if (c !== '$') {
      out += c;
      k++;
      continue;
    }
    const rest = tpl.slice(k);
    let m: RegExpExecArray | null;
    if ((m = /^\$(\d)/.exec(rest))) {
      out += transform(group(Number(m[1])) ?? '');
    } else if ((m = /^\$P\((\d+)\)/.exec(rest))) {
      out += transform(printable(group(Number(m[1])) ?? ''));
    } else if ((m = /^\$SUBST\((\d+),\s*"((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)"\)/.exec(rest))) {
      const from = unescapeArg(m[2]!);
      const to = unescapeArg(m[3]!);
      const g = group(Number(m[1])) ?? '';
      out += transform(from === '' ? g : g.split(from).join(to));
    } else if ((m = /^\$I\((\d+),\s*"([<>])"\)/.exec(rest))) {
      out += transform(unpackInt(group(Number(m[1])) ?? '', m[2]!));
    } else {
      out += '$';
      k++;
      continue;
    }
    k += m[0].length;
  }
  return out;
}

/** Non-printable bytes of a substituted field shown as \xHH, as nmap prints them. */
function clean(s: string): string {
  let out = '';
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    out += c >= 0x20 && c < 0x7f ? s[k] : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** nmap's buffer per field (bytes, with its NUL): a longer value is not filled. */
export const FIELD_BUFFER = { p: 80, v: 80, i: 256, h: 80, o: 32, d: 32, cpe: 80 } as const;

/** nmap strips trailing whitespace and commas from every filled field. */
const stripTail = (s: string) => s.replace(/[\s,]+$/, '');

/** A substituted field as nmap fills it: undefined when empty or too long for its buffer. */
function fill(raw: string, buffer: number): string | undefined {
  if (raw.length > buffer - 2) return undefined;
  const v = stripTail(raw);
  return v === '' ? undefined : v;
}

/** CPE 2.2 (section 5.4) reserves these; nmap %-escapes them in substituted text. */
const CPE_RESERVED = new Set(':/?#[]@!$&\'()*+,;=%<>"');

/** What nmap does to a value substituted into a CPE: reserved characters %XX, space _, lower case. */
export function cpeEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    if (CPE_RESERVED.has(ch)) out += `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
    else if (ch === ' ') out += '_';
    else out += ch.toLowerCase();
  }
  return out;
}

/** Fills every field of a match line's templates from a RegExp match. */
export function versionFields(t: VersionTemplates, match: RegExpExecArray, groupMap: number[]): VersionFields {
  const group = (n: number): string | undefined => {
    const js = groupMap[n];
    return js === undefined ? undefined : match[js];
  };
  const one = (tpl: string | undefined, key: 'p' | 'v' | 'i' | 'h' | 'o' | 'd'): string | undefined => {
    if (tpl === undefined) return undefined;
    const v = fill(substituteTemplate(tpl, group), FIELD_BUFFER[key]);
    return v === undefined ? undefined : clean(v);
  };
  const f: VersionFields = { cpe: [] };
  const p = one(t.p, 'p'), v = one(t.v, 'v'), i = one(t.i, 'i'), h = one(t.h, 'h'), o = one(t.o, 'o'), d = one(t.d, 'd');
  if (p !== undefined) f.product = p;
  if (v !== undefined) f.version = v;
  if (i !== undefined) f.extrainfo = i;
  if (h !== undefined) f.hostname = h;
  if (o !== undefined) f.ostype = o;
  if (d !== undefined) f.devicetype = d;
  // One CPE per part, in nmap's order a, h, o; a later template of a part replaces the earlier.
  const byPart = new Map<string, string | undefined>();
  for (const c of t.cpe) {
    const part = c[0];
    if (part !== 'a' && part !== 'h' && part !== 'o') continue;
    const val = fill(`cpe:/${substituteTemplate(c, group, cpeEscape)}`, FIELD_BUFFER.cpe);
    byPart.set(part, val);
  }
  for (const part of ['a', 'h', 'o']) {
    const val = byPart.get(part);
    if (val !== undefined) f.cpe.push(clean(val));
  }
  return f;
}
