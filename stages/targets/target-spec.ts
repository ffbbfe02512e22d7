import { UserInputError } from '../records/index.js';
import { IPV6_MAX, parseIPv6 } from './ipv6.js';

/** Inclusive value ranges of one IPv4 octet, sorted and merged: [[lo, hi], …]. */
export type OctetRanges = Array<[number, number]>;

/** One target spec, parsed but not expanded (expansion size is checked before memory is spent). */
export type TargetSpec =
  /** nmap octet ranges: 198.18.1-3.*, 10.0.0.1,5,9 */
  | { kind: 'v4-octets'; text: string; octets: [OctetRanges, OctetRanges, OctetRanges, OctetRanges]; intervals: number }
  /** One contiguous IPv4 block: an address or CIDR network. */
  | { kind: 'v4-block'; text: string; start: number; end: number }
  /** One contiguous IPv6 block: an address or CIDR network. */
  | { kind: 'v6-block'; text: string; start: bigint; end: bigint }
  /** A hostname, resolved later; `prefix` (host/24) applies to the resolved address. */
  | { kind: 'host'; text: string; name: string; prefix: number | undefined };

export interface SpecContext {
  /** -4 / -6: literals of the other family are refused as targets; hostnames resolve in it. */
  family?: 4 | 6;
  /** Exclusions may name the other family (a shared exclude file): they simply match nothing. */
  role: 'target' | 'exclude';
  /** Where the spec came from, for messages: "hosts.txt line 3". */
  where?: string;
}

const V4_CHARS = /^[0-9.,*-]+$/;
const OCTET_ITEM = /^(\d*)(-?)(\d*)$/;
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

function fail(text: string, ctx: SpecContext, why: string): never {
  const what = ctx.role === 'exclude' ? 'bad --exclude' : 'bad target';
  const where = ctx.where ? ` (${ctx.where})` : '';
  throw new UserInputError(`${what} "${text}"${where}: ${why}`);
}

/** Parses one target spec (nmap syntax). Pure: no DNS; throws UserInputError on bad input. */
export function parseTargetSpec(text: string, ctx: SpecContext): TargetSpec {
  if (text === '') fail(text, ctx, 'empty target (two commas in a row, or a comma at an end?)');
  const slash = text.indexOf('/');
  const body = slash >= 0 ? text.slice(0, slash) : text;
  let prefix: number | undefined;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) fail(text, ctx, `"/${p}" is not a prefix length (expected /0-/32 for IPv4, /0-/128 for IPv6)`);
    prefix = Number(p);
  }
  if (body === '') fail(text, ctx, 'nothing before the "/"');
  if (body.includes('%')) {
    fail(text, ctx, 'IPv6 zone ids (%interface) are not supported: give the address without "%…" (link-local scanning needs an interface, not a target suffix)');
  }
  if (body.includes(':')) return parseV6(text, body, prefix, ctx);
  if (V4_CHARS.test(body)) return parseV4(text, body, prefix, ctx);
  if (body.startsWith('-')) fail(text, ctx, 'looks like an option, not a target; options go before targets or use the right flag name');
  if (!HOSTNAME.test(body) || body.length > 254) {
    fail(text, ctx, 'not an IPv4/IPv6 address, network, octet range (198.18.1-3.*) or valid hostname');
  }
  const max = ctx.family === 6 ? 128 : 32;
  if (prefix !== undefined && prefix > max) fail(text, ctx, `prefix /${prefix} is longer than /${max} for an IPv${ctx.family ?? 4} address`);
  return { kind: 'host', text, name: body, prefix };
}

function parseV6(text: string, body: string, prefix: number | undefined, ctx: SpecContext): TargetSpec {
  const addr = parseIPv6(body);
  if (typeof addr === 'string') fail(text, ctx, `not an IPv6 address: ${addr}`);
  if (ctx.family === 4 && ctx.role === 'target') fail(text, ctx, 'IPv6 target given with -4 (drop -4, or use -6)');
  if (prefix !== undefined && prefix > 128) fail(text, ctx, `prefix /${prefix} is longer than /128`);
  const hostBits = BigInt(128 - (prefix ?? 128));
  const span = (1n << hostBits) - 1n;
  const start = addr & (IPV6_MAX ^ span);
  return { kind: 'v6-block', text, start, end: start | span };
}

function parseV4(text: string, body: string, prefix: number | undefined, ctx: SpecContext): TargetSpec {
  const parts = body.split('.');
  if (parts.length !== 4) {
    fail(text, ctx, `an IPv4 target needs 4 dotted octets (a.b.c.d, each a number, range or *), got ${parts.length}`);
  }
  if (ctx.family === 6 && ctx.role === 'target') fail(text, ctx, 'IPv4 target given with -6 (drop -6, or use -4)');
  const octets = parts.map((p, i) => parseOctet(p, i, text, ctx)) as [OctetRanges, OctetRanges, OctetRanges, OctetRanges];
  const single = octets.every((o) => o.length === 1 && o[0]![0] === o[0]![1]);
  if (prefix !== undefined) {
    if (!single) fail(text, ctx, 'octet ranges cannot be combined with a /prefix: use one or the other');
    if (prefix > 32) fail(text, ctx, `prefix /${prefix} is longer than /32`);
  }
  if (single) {
    const addr = octets.reduce((acc, o) => acc * 256 + o[0]![0], 0);
    const span = prefix === undefined ? 0 : 2 ** (32 - prefix) - 1;
    const start = addr - (addr % (span + 1));
    return { kind: 'v4-block', text, start, end: start + span };
  }
  return { kind: 'v4-octets', text, octets, intervals: v4OctetIntervalCount(octets) };
}

/** One octet: a comma list of n, n-m, n-, -m, - or *; returns merged ranges. */
function parseOctet(part: string, index: number, text: string, ctx: SpecContext): OctetRanges {
  if (part === '') fail(text, ctx, `octet ${index + 1} is empty`);
  const ranges: OctetRanges = [];
  for (const item of part.split(',')) {
    if (item === '*') {
      ranges.push([0, 255]);
      continue;
    }
    const m = OCTET_ITEM.exec(item);
    if (!m || item === '' || (m[2] === '' && m[1] === '')) {
      fail(text, ctx, `octet ${index + 1} "${part}" is not a number 0-255, a range (1-254, 5-, -9), a comma list or *`);
    }
    const [, a, dash, b] = m as unknown as [string, string, string, string];
    for (const digits of [a, b]) {
      if (digits.length > 3 || Number(digits) > 255) fail(text, ctx, `octet value ${digits} in "${part}" is not 0-255`);
    }
    const lo = a === '' ? 0 : Number(a);
    const hi = dash ? (b === '' ? 255 : Number(b)) : lo;
    if (lo > hi) fail(text, ctx, `octet range "${item}" runs backwards (${lo} > ${hi})`);
    ranges.push([lo, hi]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: OctetRanges = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

function isFull(o: OctetRanges): boolean {
  return o.length === 1 && o[0]![0] === 0 && o[0]![1] === 255;
}

/** Index of the last octet that is not 0-255; the octets after it make each interval contiguous. */
export function lastPartialOctet(octets: readonly OctetRanges[]): number {
  let j = 3;
  while (j >= 0 && isFull(octets[j]!)) j--;
  return j;
}

/** How many contiguous intervals an octet-range spec expands to (may be huge; checked before expanding). */
export function v4OctetIntervalCount(octets: readonly OctetRanges[]): number {
  const j = lastPartialOctet(octets);
  if (j < 0) return 1;
  let n = octets[j]!.length;
  for (let k = 0; k < j; k++) n *= octets[k]!.reduce((acc, r) => acc + r[1] - r[0] + 1, 0);
  return n;
}

/** Calls `emit(start, end)` for every interval of an octet-range spec, in ascending order. */
export function expandV4Octets(octets: readonly OctetRanges[], emit: (start: number, end: number) => void): void {
  const j = lastPartialOctet(octets);
  if (j < 0) {
    emit(0, 0xffffffff);
    return;
  }
  const tailSpan = 2 ** (8 * (3 - j)); // addresses per value of octet j
  const walk = (k: number, base: number): void => {
    if (k === j) {
      for (const [lo, hi] of octets[j]!) emit((base * 256 + lo) * tailSpan, (base * 256 + hi + 1) * tailSpan - 1);
      return;
    }
    for (const [lo, hi] of octets[k]!) for (let v = lo; v <= hi; v++) walk(k + 1, base * 256 + v);
  };
  walk(0, 0);
}

/** A spec token with where it came from. */
export interface SpecToken {
  text: string;
  where?: string;
}

/**
 * Splits spec text into tokens: whitespace separates; with `comments`, "#" to end of line is
 * dropped (-iL files). Commas also separate specs (--exclude a,b) — except inside an IPv4 octet
 * list (198.18.1,3,5.1), recognised because the pieces only make sense joined: a piece is glued
 * back while the IPv4 spec so far has fewer than 4 octets, or when it is a bare last-octet item.
 */
export function splitSpecs(text: string, opts: { comments?: boolean; source?: string } = {}): SpecToken[] {
  const out: SpecToken[] = [];
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    let line = lines[ln]!;
    if (opts.comments) {
      const hash = line.indexOf('#');
      if (hash >= 0) line = line.slice(0, hash);
    }
    const where = opts.source ? `${opts.source} line ${ln + 1}` : undefined;
    for (const word of line.split(/\s+/)) {
      if (word === '') continue;
      for (const spec of splitCommas(word)) out.push(where ? { text: spec, where } : { text: spec });
    }
  }
  return out;
}

const dots = (s: string): number => s.split('.').length - 1;

function splitCommas(word: string): string[] {
  const pieces = word.split(',');
  const out: string[] = [];
  let cur = pieces[0]!;
  for (let i = 1; i < pieces.length; i++) {
    const piece = pieces[i]!;
    const curV4 = cur !== '' && V4_CHARS.test(cur) && !cur.includes('/');
    const glue = curV4 && (dots(cur) < 3 || (piece !== '' && V4_CHARS.test(piece) && dots(piece) === 0));
    if (glue) {
      cur += ',' + piece;
    } else {
      out.push(cur);
      cur = piece;
    }
  }
  out.push(cur);
  return out;
}
