/**
 * The fingerprint as nmap prints it for submission:
 *
 *   OS:SCAN(V=7.93%E=4%D=12/1%OT=8080%CT=81%CU=41775%PV=N%DS=1%DC=D%G=Y%M=0200C
 *   OS:6%TM=6B0E91D4%P=x86_64-pc-linux-gnu)SEQ(SP=107%GCD=1%ISR=10A%TI=Z%CI=Z%I
 *   …
 *
 * The SCAN pseudo-test describes the conditions (version, engine 4 = IPv4, month/day, the ports
 * used, private address, distance and how it was measured, G=Y when fit for submission, the MAC
 * prefix of an on-link target, the time and the platform); the test lines of every round follow,
 * a test repeated with the same attribute names printed once (the first round's), as nmap does.
 * Wrapped, the text is cut into `OS:` lines of 72 characters.
 */
import { OS_TEST_NAMES, osTestIndex, type OsTestName } from '../datafiles/os-db.js';
import type { OsFingerprint, OsFpTest } from './fingerprint.js';

export type DistanceMethod = 'localhost' | 'direct' | 'icmp' | 'traceroute';

export interface ScanInfo {
  /** The scanner's version (V=). */
  version: string;
  /** When the scan ran (D= month/day in local time, TM= Unix time in hex). */
  time: Date;
  openTcpPort: number | null;
  closedTcpPort: number | null;
  closedUdpPort: number | null;
  /** The target is in 10/8, 172.16/12, 169.254/16 or 192.168/16 (nmap's isipprivate). */
  privateAddress: boolean;
  distance: number | null;
  distanceMethod: DistanceMethod | null;
  /** Fit for submission (G=Y). */
  good: boolean;
  /** The target's MAC when it is on the local link (M= is its first three bytes). */
  mac?: string;
  /** Platform triple (P=), e.g. x86_64-pc-linux-gnu. */
  platform: string;
  /** E=: the engine, 4 (IPv4, the default) or 6 (IPv6). */
  engine?: '4' | '6';
}

const DC: Record<DistanceMethod, string> = { localhost: 'L', direct: 'D', icmp: 'I', traceroute: 'T' };

/** nmap's isipprivate for IPv4 text. */
export function isPrivateIpv4(ip: string): boolean {
  const m = /^(\d+)\.(\d+)\./.exec(ip);
  if (!m) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 169 && b === 254) || (a === 192 && b === 168);
}

/** This machine as a platform triple in nmap's style (x86_64-pc-linux-gnu, aarch64-unknown-linux-gnu). */
export function platformTriple(arch: string = process.arch, platform: string = process.platform): string {
  const cpu = ({ x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'arm' } as Record<string, string>)[arch] ?? arch;
  const vendor = cpu === 'x86_64' || cpu === 'i686' ? 'pc' : 'unknown';
  const os = platform === 'linux' ? 'linux-gnu' : platform;
  return `${cpu}-${vendor}-${os}`;
}

export function scanLine(s: ScanInfo): string {
  const port = (p: number | null) => (p === null || p < 0 ? '' : String(p));
  let out = `SCAN(V=${s.version}%E=${s.engine ?? '4'}%D=${s.time.getMonth() + 1}/${s.time.getDate()}`;
  out += `%OT=${port(s.openTcpPort)}%CT=${port(s.closedTcpPort)}%CU=${port(s.closedUdpPort)}`;
  out += `%PV=${s.privateAddress ? 'Y' : 'N'}`;
  if (s.distance !== null) out += `%DS=${s.distance}`;
  if (s.distanceMethod !== null) out += `%DC=${DC[s.distanceMethod]}`;
  out += `%G=${s.good ? 'Y' : 'N'}`;
  if (s.mac) out += `%M=${s.mac.split(/[:-]/).slice(0, 3).map((b) => b.padStart(2, '0').toUpperCase()).join('')}`;
  out += `%TM=${Math.floor(s.time.getTime() / 1000).toString(16).toUpperCase()}%P=${s.platform})`;
  return out;
}

export function testLine(t: OsFpTest): string {
  return `${t.name}(${t.attrs.map(([k, v]) => `${k}=${v}`).join('%')})`;
}

/** Test lines of one fingerprint, one per line. */
export function fingerprintText(fp: OsFingerprint): string {
  return fp.tests.map(testLine).join('\n');
}

/**
 * The tests of several rounds in print order, a test dropped when an earlier one of the same name
 * has the same attribute names (nmap compares names only, so the first round's values stay).
 */
export function mergeRounds(rounds: OsFingerprint[]): OsFpTest[] {
  const all = rounds.flatMap((r) => r.tests);
  const sorted = all.map((t, i) => ({ t, i })).sort((a, b) => osTestIndex(a.t.name) - osTestIndex(b.t.name) || a.i - b.i).map((x) => x.t);
  const out: OsFpTest[] = [];
  const sameNames = (a: OsFpTest, b: OsFpTest) => a.attrs.length === b.attrs.length && a.attrs.every(([k], i) => k === b.attrs[i]![0]);
  for (const t of sorted) {
    if (!out.some((o) => o.name === t.name && sameNames(o, t))) out.push(t);
  }
  return out;
}

/** The submission text: SCAN and the merged tests, wrapped as `OS:` lines or one test per line. */
export function submissionText(scan: ScanInfo, rounds: OsFingerprint[], wrap: boolean): string {
  const lines = [scanLine(scan), ...mergeRounds(rounds).map(testLine)];
  if (!wrap) return lines.join('\n');
  const flat = lines.join('');
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 72) out.push(`OS:${flat.slice(i, i + 72)}`);
  return out.join('\n');
}

export interface ParsedSubmission {
  /** SCAN's attributes, when there was a SCAN line. */
  scan?: Record<string, string>;
  /** Test lines in the order given (a round's tests, or a merged print with repeats). */
  tests: OsFpTest[];
}

/**
 * Reads a printed fingerprint back: `OS:`-wrapped (as nmap prints it for submission) or one test
 * per line (nmap -d for unfit prints). Throws on text that is neither.
 */
export function parseSubmission(text: string): ParsedSubmission {
  const raw = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const body = raw.every((l) => l.startsWith('OS:')) ? raw.map((l) => l.slice(3)).join('') : raw.join('');
  const out: ParsedSubmission = { tests: [] };
  const re = /([A-Z][A-Z0-9]*)\(([^)]*)\)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(body)) !== null) {
    if (m.index !== consumed) throw new Error(`unexpected text in fingerprint: "${body.slice(consumed, m.index)}"`);
    consumed = m.index + m[0].length;
    const attrs: Array<[string, string]> = m[2] === '' ? [] : m[2]!.split('%').map((p) => {
      const eq = p.indexOf('=');
      if (eq <= 0) throw new Error(`bad attribute "${p}" in ${m![1]}`);
      return [p.slice(0, eq), p.slice(eq + 1)] as [string, string];
    });
    if (m[1] === 'SCAN') out.scan = Object.fromEntries(attrs);
    else if (osTestIndex(m[1]!) >= 0) out.tests.push({ name: m[1] as OsTestName, attrs });
    else throw new Error(`unknown test "${m[1]}" in fingerprint`);
  }
  if (consumed !== body.length) throw new Error(`unexpected text at the end of the fingerprint: "${body.slice(consumed)}"`);
  return out;
}

/** The first occurrence of each test, as one fingerprint (what a single-round print holds). */
export function firstRound(tests: OsFpTest[]): OsFingerprint {
  const seen = new Set<string>();
  const out: OsFpTest[] = [];
  for (const t of tests) {
    if (seen.has(t.name)) continue;
    seen.add(t.name);
    out.push(t);
  }
  out.sort((a, b) => OS_TEST_NAMES.indexOf(a.name) - OS_TEST_NAMES.indexOf(b.name));
  return { tests: out };
}
