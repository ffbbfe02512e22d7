/**
 * The IPv6 fingerprint, nmap's way: nmap's IPv6 engine does not compute attributes for the print;
 * it prints each reply packet itself, in hex, with the addresses masked — the format nmap's
 * submission form takes:
 *
 *   SCAN(V=7.93%E=6%D=12/1%OT=8080%CT=81%CU=43619%PV=N%DS=1%DC=D%G=Y%M=0200C6%TM=…%P=…)
 *   S1(P=6006018800280640XX{32}1f90…%ST=0.056088%RT=0.056101) … T7(…) EXTRA(FL=12345)
 *
 * P is the reply from its IPv6 header on, lowercase hex, every address byte (the outer header's,
 * the header quoted in an ICMPv6 error, a neighbour advertisement's target) replaced by XX, and
 * run-length encoded (`aa{n}`: n ≥ 3 repeats of a byte). ST/RT are the probe's send and the reply's
 * capture time in seconds since the host's OS scan began (printed as C++ streams print doubles,
 * six significant digits). Tests in probe order, unanswered probes left out; EXTRA(FL) is the flow
 * label the probes carried. Wrapped in `OS:` lines of 71 characters.
 *
 * Also here: pairing captured packets with the probes they answer (nmap's PacketParser::is_response
 * in the forms the probes can draw), and the hop-limit distance from the ICMPv6 errors to IE2/U1.
 */
import type { ScanInfo } from './submission.js';
import { scanLine } from './submission.js';
import { OS6_FLOW_LABEL, OS6_ICMP_ID, OS6_PROBES, type Os6ProbeName } from './probes6.js';

/** Where the upper-layer header starts and which protocol it is, after the extension headers. */
export function upperLayer(p: Uint8Array, start = 0): { proto: number; offset: number } | null {
  if (p.length < start + 40 || p[start]! >> 4 !== 6) return null;
  let next = p[start + 6]!;
  let off = start + 40;
  for (let guard = 0; guard < 16; guard++) {
    if (next === 0 || next === 43 || next === 60) {
      if (p.length < off + 8) return null;
      const len = (p[off + 1]! + 1) * 8;
      next = p[off]!;
      off += len;
    } else if (next === 44) {
      if (p.length < off + 8) return null;
      next = p[off]!;
      off += 8;
    } else if (next === 51) {
      if (p.length < off + 8) return null;
      const len = (p[off + 1]! + 2) * 4;
      next = p[off]!;
      off += len;
    } else {
      return off <= p.length ? { proto: next, offset: off } : null;
    }
  }
  return null;
}

const u16 = (p: Uint8Array, o: number) => (p[o]! << 8) | p[o + 1]!;
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** What one host's probes used, to recognise the replies. */
export interface Os6ProbeKeys {
  target: Uint8Array;
  openTcpPort: number | null;
  closedTcpPort: number | null;
  tcpPortBase: number;
  udpSourcePort: number;
  closedUdpPort: number;
}

/** The probe a packet from the target answers, or undefined. */
export function os6ReplyTo(packet: Uint8Array, k: Os6ProbeKeys): Os6ProbeName | undefined {
  const ul = upperLayer(packet);
  if (!ul) return undefined;
  const tcpByPorts = (dstPort: number, srcPort: number) => {
    for (const s of OS6_PROBES) {
      if (s.kind !== 'tcp') continue;
      const port = s.port === 'open' ? k.openTcpPort : k.closedTcpPort;
      if (port === srcPort && ((k.tcpPortBase + s.index) & 0xffff) === dstPort) return s.name;
    }
    return undefined;
  };
  const echoBySeq = (id: number, seq: number) => {
    if (id !== OS6_ICMP_ID) return undefined;
    return OS6_PROBES.find((s) => s.kind === 'echo' && s.seq === seq)?.name;
  };
  const { proto, offset: o } = ul;
  if (proto === 6 && packet.length >= o + 20) return tcpByPorts(u16(packet, o + 2), u16(packet, o));
  if (proto !== 58 || packet.length < o + 8) return undefined;
  const type = packet[o]!;
  if (type === 129) return echoBySeq(u16(packet, o + 4), u16(packet, o + 6));
  if (type === 136 && packet.length >= o + 24) return sameBytes(packet.subarray(o + 8, o + 24), k.target) ? 'NS' : undefined;
  if (type >= 1 && type <= 4) {
    // An error quoting one of our probes: pair it by the quoted packet.
    const q = packet.subarray(o + 8);
    const inner = upperLayer(q);
    if (!inner || !sameBytes(q.subarray(24, 40), k.target)) return undefined;
    const io = inner.offset;
    if (inner.proto === 17 && q.length >= io + 4) {
      return u16(q, io) === k.udpSourcePort && u16(q, io + 2) === k.closedUdpPort ? 'U1' : undefined;
    }
    if (inner.proto === 58 && q.length >= io + 8 && q[io] === 128) return echoBySeq(u16(q, io + 4), u16(q, io + 6));
    if (inner.proto === 6 && q.length >= io + 4) return tcpByPorts(u16(q, io), u16(q, io + 2));
  }
  return undefined;
}

/** The hop limit of the IPv6 header an ICMPv6 error quotes, or null (not an error, or truncated). */
export function quotedHopLimit(packet: Uint8Array): number | null {
  const ul = upperLayer(packet);
  if (!ul || ul.proto !== 58 || packet.length < ul.offset + 8 + 40) return null;
  const type = packet[ul.offset]!;
  if (type < 1 || type > 4) return null;
  const q = ul.offset + 8;
  return packet[q]! >> 4 === 6 ? packet[q + 7]! : null;
}

/** Which bytes nmap masks: addresses of every IPv6 header it parses, a neighbour advertisement's target. */
function maskedBytes(p: Uint8Array): boolean[] {
  const mask = new Array<boolean>(p.length).fill(false);
  const markRange = (from: number, to: number) => {
    for (let i = from; i < Math.min(to, p.length); i++) mask[i] = true;
  };
  let start = 0;
  for (let depth = 0; depth < 4 && p.length >= start + 40 && p[start]! >> 4 === 6; depth++) {
    markRange(start + 8, start + 40);
    const ul = upperLayer(p, start);
    if (!ul || ul.proto !== 58 || p.length < ul.offset + 8) break;
    const type = p[ul.offset]!;
    if (type === 136) {
      markRange(ul.offset + 8, ul.offset + 24);
      break;
    }
    if (type < 1 || type > 4) break;
    start = ul.offset + 8;
  }
  return mask;
}

/** The packet in lowercase hex with the address bytes as XX. */
export function scrubbedHex(p: Uint8Array): string {
  const mask = maskedBytes(p);
  let s = '';
  for (let i = 0; i < p.length; i++) s += mask[i] ? 'XX' : p[i]!.toString(16).padStart(2, '0');
  return s;
}

/** nmap's run-length encoding over two-character chunks: `aa{n}` for n ≥ 3 repeats. */
export function runLengthEncode(s: string): string {
  let out = '';
  let i = 0;
  while (i + 1 < s.length) {
    const pair = s.slice(i, i + 2);
    let j = i + 2;
    while (j + 1 < s.length && s.slice(j, j + 2) === pair) j += 2;
    const reps = (j - i) / 2;
    out += reps < 3 ? s.slice(i, j) : `${pair}{${reps}}`;
    i = j;
  }
  return out + s.slice(i);
}

/** Undoes runLengthEncode (for reading prints back). */
export function runLengthDecode(s: string): string {
  return s.replace(/(..)\{(\d+)\}/g, (_m, pair: string, n: string) => pair.repeat(Number(n)));
}

/** A double as a C++ ostream prints it by default (%g, six significant digits). */
export function cppDouble(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  const exp = Math.floor(Math.log10(Math.abs(x)));
  const strip = (t: string) => (t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t);
  if (exp < -4 || exp >= 6) {
    const [m, e] = x.toExponential(5).split('e') as [string, string];
    const n = Number(e);
    return `${strip(m)}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return strip(x.toFixed(Math.max(0, 5 - exp)));
}

export interface Os6Response {
  name: Os6ProbeName;
  /** The reply's IPv6 packet. */
  packet: Uint8Array;
  /** µs on the capture clock. */
  sentUs: number;
  receivedUs: number;
}

/** One test line: NAME(P=…%ST=…%RT=…). */
export function os6TestLine(r: Os6Response, beginUs: number, encode = true): string {
  const hex = scrubbedHex(r.packet);
  return `${r.name}(P=${encode ? runLengthEncode(hex) : hex}%ST=${cppDouble((r.sentUs - beginUs) / 1e6)}%RT=${cppDouble((r.receivedUs - beginUs) / 1e6)})`;
}

/** nmap's isipprivate for IPv6: link-local fe80::/10, site-local fec0::/10, unique-local fc00::/7. */
export function isPrivateIpv6(addr: Uint8Array): boolean {
  return (addr[0] === 0xfe && (addr[1]! & 0xc0) === 0x80) || (addr[0] === 0xfe && (addr[1]! & 0xc0) === 0xc0) || (addr[0]! & 0xfe) === 0xfc;
}

const WRAP = 71;

/** The whole print: SCAN, the replies in probe order, EXTRA; wrapped as nmap wraps it (or one test per line). */
export function submissionText6(scan: ScanInfo, responses: Os6Response[], beginUs: number, wrap = true): string {
  const order = (n: Os6ProbeName) => OS6_PROBES.findIndex((p) => p.name === n);
  const sorted = [...responses].sort((a, b) => order(a.name) - order(b.name));
  const lines = [scanLine({ ...scan, engine: '6' }), ...sorted.map((r) => os6TestLine(r, beginUs, wrap)), `EXTRA(FL=${OS6_FLOW_LABEL.toString(16).padStart(5, '0')})`];
  if (!wrap) return lines.join('\n');
  const flat = lines.join('');
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += WRAP) out.push(`OS:${flat.slice(i, i + WRAP)}`);
  return out.join('\n');
}

export interface ParsedSubmission6 {
  scan: Record<string, string>;
  /** Each test's reply bytes as hex with XX (run-length decoded), and its times. */
  tests: Array<{ name: string; hex: string; st: number; rt: number }>;
  extra: Record<string, string>;
}

/** Reads an IPv6 print back (wrapped or not). Throws on text that is not one. */
export function parseSubmission6(text: string): ParsedSubmission6 {
  const raw = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const body = raw.every((l) => l.startsWith('OS:')) ? raw.map((l) => l.slice(3)).join('') : raw.join('');
  const re = /([A-Z][A-Z0-9]*)\(([^)]*)\)/g;
  const out: ParsedSubmission6 = { scan: {}, tests: [], extra: {} };
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) {
    if (m.index !== consumed) throw new Error(`unexpected text in IPv6 fingerprint: "${body.slice(consumed, m.index)}"`);
    consumed = m.index + m[0].length;
    const attrs = Object.fromEntries(m[2]!.split('%').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
    if (m[1] === 'SCAN') out.scan = attrs;
    else if (m[1] === 'EXTRA') out.extra = attrs;
    else {
      if (attrs.P === undefined || attrs.ST === undefined || attrs.RT === undefined) throw new Error(`test ${m[1]} lacks P, ST or RT`);
      out.tests.push({ name: m[1]!, hex: runLengthDecode(attrs.P), st: Number(attrs.ST), rt: Number(attrs.RT) });
    }
  }
  if (consumed !== body.length) throw new Error(`unexpected text at the end of the IPv6 fingerprint: "${body.slice(consumed)}"`);
  return out;
}
