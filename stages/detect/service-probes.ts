/**
 * ServiceProbeFile: the nmap-service-probes format, read whole.
 *
 *   Exclude T:9100-9107
 *   Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n| [no-payload]
 *   rarity 1 | ports 80,8000-8010 | sslports 443 | totalwaitms 6000 | tcpwrappedms 3000 | fallback A,B
 *   match http m|^HTTP/1\.[01] \d\d\d| p/Apache httpd/ v/$1/ i/…/ h/…/ o/…/ d/…/ cpe:/a:apache:http_server:$1/a
 *   softmatch ssh m=^SSH-=i
 *
 * Every line is accounted for: a line that cannot be used is kept as a Problem (line number,
 * text, reason) — a match whose PCRE cannot be translated stays in the file with `error` set, so
 * `prtip detect --check-db` can count and explain it. Nothing is dropped silently.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePcre, PcreTranslationError } from './pcre.js';
import { templateProblem, type VersionTemplates } from './version-info.js';
import { announceFallback, resolveDatadir } from '../datafiles/index.js';
import { UserInputError } from '../records/index.js';

export type ProbeProto = 'tcp' | 'udp';

/** Port numbers as sorted inclusive ranges. */
export class PortRanges {
  constructor(readonly ranges: Array<[number, number]> = []) {}

  has(port: number): boolean {
    for (const [a, b] of this.ranges) if (port >= a && port <= b) return true;
    return false;
  }

  get size(): number {
    return this.ranges.length;
  }
}

export interface ServiceMatch {
  soft: boolean;
  service: string;
  pattern: string;
  /** nmap's trailing flags: i (caseless), s (dot matches newline). */
  flags: string;
  templates: VersionTemplates;
  /** Compiled lazily by `regexOf` (11k patterns compile in well under a second, but most are never needed). */
  regex?: RegExp;
  groupMap?: number[];
  /** Why this match cannot be used (untranslatable PCRE); undefined when usable. */
  error?: string;
  line: number;
}

export interface ServiceProbe {
  name: string;
  proto: ProbeProto;
  payload: Buffer;
  /** `no-payload`: nmap sends nothing for this probe when it has a payload-less variant (kept for completeness). */
  noPayload: boolean;
  rarity: number;
  ports: PortRanges;
  sslports: PortRanges;
  fallback: string[];
  totalwaitms?: number;
  tcpwrappedms?: number;
  matches: ServiceMatch[];
  line: number;
}

export interface ProbeFileProblem {
  line: number;
  text: string;
  reason: string;
}

export interface ServiceProbeFile {
  /** Where it came from (a path, or "builtin"). */
  source: string;
  probes: ServiceProbe[];
  /** Ports never probed, per protocol (Exclude directive). */
  exclude: { tcp: PortRanges; udp: PortRanges };
  /** Lines that could not be used (besides untranslatable matches, which stay on their probe with `error`). */
  problems: ProbeFileProblem[];
  byName: Map<string, ServiceProbe>;
}

/** nmap's escapes in probe strings: \\ \0 \a \b \f \n \r \t \v \xHH; any other \c is c. */
export function unescapeProbeString(s: string): Buffer {
  const out: number[] = [];
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c !== 0x5c) {
      if (c > 0xff) {
        for (const b of Buffer.from(s[k]!, 'utf8')) out.push(b);
      } else out.push(c);
      continue;
    }
    const e = s[++k];
    if (e === undefined) throw new Error('string ends with a backslash');
    switch (e) {
      case '0': out.push(0); break;
      case 'a': out.push(7); break;
      case 'b': out.push(8); break;
      case 'f': out.push(12); break;
      case 'n': out.push(10); break;
      case 'r': out.push(13); break;
      case 't': out.push(9); break;
      case 'v': out.push(11); break;
      case 'x': {
        const hex = s.slice(k + 1, k + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`bad \\x escape "\\x${hex}"`);
        out.push(parseInt(hex, 16));
        k += 2;
        break;
      }
      default:
        out.push(e.charCodeAt(0) & 0xff);
    }
  }
  return Buffer.from(out);
}

function parsePortList(text: string): PortRanges {
  const ranges: Array<[number, number]> = [];
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(p);
    if (!m) throw new Error(`bad port "${p}"`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > 65535 || b > 65535 || b < a) throw new Error(`bad port range "${p}"`);
    ranges.push([a, b]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  return new PortRanges(ranges);
}

function parseExclude(text: string, ex: { tcp: PortRanges; udp: PortRanges }): void {
  let which: 'all' | 'tcp' | 'udp' | 'sctp' = 'all';
  for (const raw of text.split(',')) {
    let p = raw.trim();
    const m = /^([TUS]):/i.exec(p);
    if (m) {
      which = m[1]!.toUpperCase() === 'T' ? 'tcp' : m[1]!.toUpperCase() === 'U' ? 'udp' : 'sctp';
      p = p.slice(2);
    }
    if (p === '') continue;
    const r = parsePortList(p).ranges;
    if (which === 'all' || which === 'tcp') ex.tcp.ranges.push(...r);
    if (which === 'all' || which === 'udp') ex.udp.ranges.push(...r);
  }
}

/**
 * Reads a delimited field starting at `pos` (the char at pos is the delimiter). Returns the text
 * and the position after the closing delimiter; nmap has no escaping of the delimiter itself.
 */
function delimited(line: string, pos: number): { text: string; end: number } {
  const d = line[pos];
  if (d === undefined) throw new Error('missing delimiter');
  const close = line.indexOf(d, pos + 1);
  if (close < 0) throw new Error(`unterminated field (delimiter "${d}")`);
  return { text: line.slice(pos + 1, close), end: close + 1 };
}

function parseMatch(line: string, rest: string, lineNo: number, soft: boolean): ServiceMatch {
  const sm = /^(\S+)\s+m/.exec(rest);
  if (!sm) throw new Error('expected "<service> m<delim>pattern<delim>"');
  const service = sm[1]!;
  let pos = sm[0].length;
  const pat = delimited(rest, pos);
  pos = pat.end;
  let flags = '';
  while (pos < rest.length && /[a-z]/i.test(rest[pos]!)) flags += rest[pos++];
  for (const f of flags) if (f !== 'i' && f !== 's') throw new Error(`unknown match flag "${f}"`);
  const templates: VersionTemplates = { cpe: [] };
  while (pos < rest.length) {
    while (pos < rest.length && /\s/.test(rest[pos]!)) pos++;
    if (pos >= rest.length) break;
    if (rest.startsWith('cpe:', pos)) {
      const f = delimited(rest, pos + 4);
      pos = f.end;
      // optional trailing flag letters (only "a" is defined)
      while (pos < rest.length && /[a-z]/i.test(rest[pos]!)) {
        if (rest[pos] !== 'a') throw new Error(`unknown cpe flag "${rest[pos]}"`);
        pos++;
      }
      templates.cpe.push(f.text);
      continue;
    }
    const key = rest[pos]!;
    if (!'pvihod'.includes(key)) throw new Error(`unknown version field "${rest.slice(pos, pos + 10)}"`);
    const f = delimited(rest, pos + 1);
    pos = f.end;
    templates[key as 'p' | 'v' | 'i' | 'h' | 'o' | 'd'] = f.text;
  }
  const m: ServiceMatch = { soft, service, pattern: pat.text, flags, templates, line: lineNo };
  void line;
  return m;
}

/** The probe a fallback name refers to: same protocol first, else the other one. */
export function fallbackProbe(file: ServiceProbeFile, from: ServiceProbe, name: string): ServiceProbe | undefined {
  return file.byName.get(`${from.proto}:${name}`) ?? file.byName.get(`${from.proto === 'tcp' ? 'udp' : 'tcp'}:${name}`);
}

/** Compiles a match's pattern (once); returns undefined and sets `error` when it cannot be used. */
export function regexOf(m: ServiceMatch): RegExp | undefined {
  if (m.regex || m.error !== undefined) return m.regex;
  try {
    const c = compilePcre(m.pattern, { i: m.flags.includes('i'), s: m.flags.includes('s') });
    const groups = c.groups;
    const tplErr = [m.templates.p, m.templates.v, m.templates.i, m.templates.h, m.templates.o, m.templates.d, ...m.templates.cpe]
      .map((t) => (t === undefined ? undefined : templateProblem(t, groups)))
      .find((x) => x !== undefined);
    if (tplErr) {
      m.error = tplErr;
      return undefined;
    }
    m.regex = c.regex;
    m.groupMap = c.groupMap;
    return m.regex;
  } catch (e) {
    m.error = e instanceof PcreTranslationError ? e.reason : `cannot compile: ${(e as Error).message}`;
    return undefined;
  }
}

/** Parses nmap-service-probes text. Never throws for content: bad lines become problems. */
export function parseServiceProbes(text: string, source = '<text>'): ServiceProbeFile {
  const file: ServiceProbeFile = {
    source,
    probes: [],
    exclude: { tcp: new PortRanges(), udp: new PortRanges() },
    problems: [],
    byName: new Map(),
  };
  let probe: ServiceProbe | undefined;
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const lineNo = k + 1;
    const line = lines[k]!.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const dm = /^(\S+)\s*(.*)$/.exec(trimmed)!;
    const directive = dm[1]!;
    const rest = dm[2]!;
    const problem = (reason: string) => file.problems.push({ line: lineNo, text: line, reason });
    try {
      if (directive === 'Probe') {
        const pm = /^(TCP|UDP)\s+(\S+)\s+q(.)/.exec(rest);
        if (!pm) throw new Error('expected "Probe TCP|UDP <name> q|payload|"');
        const qpos = pm[0].length - 1;
        const q = delimited(rest, qpos);
        const after = rest.slice(q.end).trim();
        if (after !== '' && after !== 'no-payload') throw new Error(`unexpected "${after}" after the payload`);
        probe = {
          name: pm[2]!,
          proto: pm[1] === 'TCP' ? 'tcp' : 'udp',
          payload: unescapeProbeString(q.text),
          noPayload: after === 'no-payload',
          rarity: 5,
          ports: new PortRanges(),
          sslports: new PortRanges(),
          fallback: [],
          matches: [],
          line: lineNo,
        };
        if (probe.name === 'NULL') probe.rarity = 1;
        const key = `${probe.proto}:${probe.name}`;
        if (file.byName.has(key)) problem(`duplicate probe ${probe.name}; the later one is used`);
        file.byName.set(key, probe);
        file.probes.push(probe);
        continue;
      }
      if (directive === 'Exclude') {
        if (probe) throw new Error('Exclude must come before the first Probe');
        parseExclude(rest, file.exclude);
        continue;
      }
      if (!probe) throw new Error(`${directive} before any Probe`);
      switch (directive) {
        case 'match':
        case 'softmatch':
          probe.matches.push(parseMatch(line, rest, lineNo, directive === 'softmatch'));
          break;
        case 'ports':
          probe.ports = parsePortList(rest);
          break;
        case 'sslports':
          probe.sslports = parsePortList(rest);
          break;
        case 'rarity': {
          const n = Number(rest);
          if (!/^\d+$/.test(rest) || n < 1 || n > 9) throw new Error(`rarity must be 1–9, got "${rest}"`);
          probe.rarity = n;
          break;
        }
        case 'totalwaitms':
        case 'tcpwrappedms': {
          if (!/^\d+$/.test(rest)) throw new Error(`${directive} needs milliseconds, got "${rest}"`);
          probe[directive] = Number(rest);
          break;
        }
        case 'fallback':
          probe.fallback = rest.split(',').map((s) => s.trim()).filter(Boolean);
          break;
        default:
          throw new Error(`unknown directive "${directive}"`);
      }
    } catch (e) {
      problem((e as Error).message);
    }
  }
  for (const p of file.probes) {
    for (const f of p.fallback) {
      // Nmap's DNS…TCP probes name the UDP probes of the same family: resolved across protocols.
      if (!file.byName.has(`${p.proto}:${f}`) && !file.byName.has(`${p.proto === 'tcp' ? 'udp' : 'tcp'}:${f}`)) {
        file.problems.push({ line: p.line, text: `Probe ${p.name}`, reason: `fallback "${f}" names no ${p.proto.toUpperCase()} probe` });
      }
    }
  }
  for (const ex of [file.exclude.tcp, file.exclude.udp]) ex.ranges.sort((a, b) => a[0] - b[0]);
  return file;
}

export interface ProbeFileCheck {
  source: string;
  probes: number;
  matches: number;
  softmatches: number;
  /** Matches whose PCRE was translated and compiled. */
  loaded: number;
  untranslatable: Array<{ line: number; service: string; reason: string }>;
  problems: ProbeFileProblem[];
  /** Reason → count, for the summary. */
  reasons: Record<string, number>;
}

/** Compiles every match (the --check-db report). */
export function checkProbeFile(file: ServiceProbeFile): ProbeFileCheck {
  const r: ProbeFileCheck = {
    source: file.source, probes: file.probes.length, matches: 0, softmatches: 0, loaded: 0,
    untranslatable: [], problems: file.problems, reasons: {},
  };
  for (const p of file.probes) {
    for (const m of p.matches) {
      if (m.soft) r.softmatches++;
      else r.matches++;
      if (regexOf(m)) r.loaded++;
      else {
        r.untranslatable.push({ line: m.line, service: m.service, reason: m.error ?? 'unknown' });
        const key = m.error!.replace(/\d+/g, 'N');
        r.reasons[key] = (r.reasons[key] ?? 0) + 1;
      }
    }
  }
  return r;
}

export const PROBES_FILE = 'nmap-service-probes';

/**
 * Reads DIR/nmap-service-probes; undefined when the default data directory (Nmap's, or
 * $PRTIP_DATADIR) lacks it, and the built-in set is announced once on stderr. A directory the
 * user named (--datadir) that lacks it is an error: a mistyped path must not quietly scan with
 * the small built-in set.
 */
export function loadServiceProbes(datadir: string): ServiceProbeFile | undefined {
  const path = join(datadir, PROBES_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (datadir !== resolveDatadir(undefined)) {
        throw new UserInputError(`--datadir ${datadir}: no ${PROBES_FILE} there (${code}); point --datadir at Nmap's data files, e.g. /usr/share/nmap`);
      }
      announceFallback(`${path} not found (${code}): -sV uses prtip's built-in probes (install nmap-common for Nmap's)`);
      return undefined;
    }
    throw e;
  }
  return parseServiceProbes(text, path);
}
