/**
 * The service fingerprint nmap prints for a service it could not identify although it answered
 * ("SF-Port47123-TCP:V=…%I=7%D=12/1%Time=6B0EDA49%P=x86_64-pc-linux-gnu%r(NULL,2C,"…")…;"): -oX's
 * servicefp attribute, -oN's "service unrecognized despite returning data" block. The layout is
 * nmap's, as its -sV writes it (checked against real nmap in test/integration/servicefp-lab.test.ts):
 *   - a header: port, protocol, the scanner's version, %T=SSL inside TLS, intensity, local
 *     month/day, Unix time in hex, platform;
 *   - one %r(PROBE,LEN,"DATA") per probe that got a non-empty response, in the order the probes
 *     were sent, LEN the response's length in hex, DATA its first 900 bytes escaped so the text
 *     reads as a match pattern;
 *   - no more entries once the text, counted as wrapped for -oN, is over 2200 characters; a closing ";".
 */
import { arch } from 'node:os';

/** Bytes of one response shown (nmap's limit without debugging). */
export const FP_RESPONSE_BYTES = 900;
/** Once the fingerprint is longer than this, later responses are left out. */
export const FP_MAX_CHARS = 2200;

export interface ProbeResponse {
  probe: string;
  /** The response as read, one char per byte (latin1). */
  data: string;
}

export interface FingerprintInput {
  port: number;
  proto: 'tcp' | 'udp';
  /** 'ssl' when the responses came through TLS. */
  tunnel?: 'ssl';
  intensity: number;
  /** The scanner's name and version (V=). */
  version: string;
  /** When the first response came (Unix ms). */
  time: number;
  responses: ProbeResponse[];
}

/** Characters that mean something in a match pattern: written with a backslash. */
const PATTERN_META = new Set(['\\', '"', '.', '(', ')', '[', ']', '^', '$', '*', '+', '?', '|']);
const NAMED: Record<number, string> = { 9: '\\t', 10: '\\n', 13: '\\r' };

/** One response's bytes as nmap writes them in %r(…,"DATA"). */
export function escapeFpData(data: string): string {
  let out = '';
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i) & 0xff;
    const ch = String.fromCharCode(c);
    if (c === 0) {
      // \0 before a digit would read as an octal escape: spell it out there.
      const next = data.charCodeAt(i + 1);
      out += next >= 0x30 && next <= 0x39 ? '\\x00' : '\\0';
    } else if (NAMED[c]) out += NAMED[c];
    else if (c > 0x20 && c < 0x7f) out += PATTERN_META.has(ch) ? `\\${ch}` : ch;
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** nmap's platform triple (P=) for this machine. */
export function platformTriple(): string {
  const cpu = ({ x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'arm' } as Record<string, string>)[arch()] ?? arch();
  const vendor = cpu === 'x86_64' || cpu === 'i686' ? 'pc' : 'unknown';
  return process.platform === 'linux' ? `${cpu}-${vendor}-linux-gnu` : `${cpu}-${vendor}-${process.platform}`;
}

/**
 * Length of the text as nmap holds it, wrapped for -oN (74 columns, "\nSF:" before each further
 * line): its 2200-character limit counts those characters too.
 */
function wrappedLength(n: number): number {
  return n <= 74 ? n : n + 4 * Math.ceil((n - 74) / 71);
}

/** The fingerprint, or undefined when no probe got data (nothing to fingerprint). */
export function serviceFingerprint(f: FingerprintInput): string | undefined {
  const answered = f.responses.filter((r) => r.data.length > 0);
  if (answered.length === 0) return undefined;
  const t = new Date(f.time);
  let fp = `SF-Port${f.port}-${f.proto.toUpperCase()}:V=${f.version}${f.tunnel === 'ssl' ? '%T=SSL' : ''}%I=${f.intensity}` +
    `%D=${t.getMonth() + 1}/${t.getDate()}%Time=${Math.floor(f.time / 1000).toString(16).toUpperCase()}%P=${platformTriple()}`;
  for (const r of answered) {
    if (wrappedLength(fp.length) > FP_MAX_CHARS) break;
    fp += `%r(${r.probe},${r.data.length.toString(16).toUpperCase()},"${escapeFpData(r.data.slice(0, FP_RESPONSE_BYTES))}")`;
  }
  return `${fp};`;
}
