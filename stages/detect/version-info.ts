/**
 * Version templates of nmap-service-probes match lines: the p/ v/ i/ h/ o/ d/ fields and cpe:/…/
 * may refer to the match's groups:
 *   $1 … $9                   the group's text
 *   $P(n)                     the group with unprintable bytes removed (e.g. UTF-16 "A\0B\0" → "AB")
 *   $SUBST(n,"from","to")     the group with every "from" replaced by "to"
 *   $I(n,">") / $I(n,"<")     the group's bytes as an unsigned big-/little-endian integer
 * A group that did not take part in the match substitutes as empty text.
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
export function substituteTemplate(tpl: string, group: (n: number) => string | undefined): string {
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
      out += group(Number(m[1])) ?? '';
    } else if ((m = /^\$P\((\d+)\)/.exec(rest))) {
      out += printable(group(Number(m[1])) ?? '');
    } else if ((m = /^\$SUBST\((\d+),\s*"((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)"\)/.exec(rest))) {
      const from = unescapeArg(m[2]!);
      const to = unescapeArg(m[3]!);
      const g = group(Number(m[1])) ?? '';
      out += from === '' ? g : g.split(from).join(to);
    } else if ((m = /^\$I\((\d+),\s*"([<>])"\)/.exec(rest))) {
      out += unpackInt(group(Number(m[1])) ?? '', m[2]!);
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
  return out.trim();
}

/** Fills every field of a match line's templates from a RegExp match. */
export function versionFields(t: VersionTemplates, match: RegExpExecArray, groupMap: number[]): VersionFields {
  const group = (n: number): string | undefined => {
    const js = groupMap[n];
    return js === undefined ? undefined : match[js];
  };
  const one = (tpl: string | undefined): string | undefined => {
    if (tpl === undefined) return undefined;
    const v = clean(substituteTemplate(tpl, group));
    return v === '' ? undefined : v;
  };
  const f: VersionFields = { cpe: [] };
  const p = one(t.p), v = one(t.v), i = one(t.i), h = one(t.h), o = one(t.o), d = one(t.d);
  if (p !== undefined) f.product = p;
  if (v !== undefined) f.version = v;
  if (i !== undefined) f.extrainfo = i;
  if (h !== undefined) f.hostname = h;
  if (o !== undefined) f.ostype = o;
  if (d !== undefined) f.devicetype = d;
  for (const c of t.cpe) {
    // CPE components are lower case and carry no spaces.
    const val = substituteTemplate(c, group).toLowerCase().replace(/ /g, '_');
    f.cpe.push(`cpe:/${val}`);
  }
  return f;
}
