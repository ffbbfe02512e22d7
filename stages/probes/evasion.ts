/**
 * Packet options of nmap's "firewall/IDS evasion and spoofing" group, parsed from nmap's syntax
 * and resolved into the wire spec: --badsum, -f/-ff/--mtu, -D, --ip-options, --spoof-mac,
 * --data/--data-string/--data-length, --scanflags. Parsers live here (not in the CLI) so
 * `prtip serve` and the TUI accept the same spellings.
 */
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { WireSpec } from '../../native/index.js';
import { resolveDatadir } from '../datafiles/index.js';
import { UserInputError } from '../records/index.js';
import { addressBytes } from './routing.js';

export interface EvasionOptions {
  badsum?: boolean;
  /** IPv4 fragments: L4 bytes per fragment (8 for -f, 16 for -ff, --mtu N). */
  fragment?: number;
  /** -D: decoy addresses in order; "ME" is this scan's own source (absent: at a random position). */
  decoys?: string[];
  /** --ip-options, as bytes (padded to a multiple of 4). */
  ipOptions?: Uint8Array;
  /** --spoof-mac, resolved to 6 bytes. */
  spoofMac?: Uint8Array;
  /** --data / --data-string / --data-length: the payload of every probe. */
  payload?: Uint8Array;
  /** --scanflags: the TCP flags of the probes (the scan type still decides what replies mean). */
  tcpFlags?: number;
}

/** The most payload bytes a probe carries (one frame on a 1500-byte link, headers included). */
export const MAX_DATA_LENGTH = 1400;

/** -f (8), -ff (16), --mtu N (a positive multiple of 8). */
export function parseMtu(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n % 8 !== 0 || n > MAX_DATA_LENGTH) {
    throw new UserInputError(`--mtu ${v}: expected a positive multiple of 8 up to ${MAX_DATA_LENGTH} (fragment payload bytes)`);
  }
  return n;
}

/** -D decoy1,decoy2,ME,RND,RND:5 → the list with RND expanded (nmap: at most 128 decoys). */
export function parseDecoys(v: string): string[] {
  const out: string[] = [];
  for (const raw of v.split(',')) {
    const d = raw.trim();
    if (d === '') throw new UserInputError(`-D "${v}": an empty decoy (two commas in a row?)`);
    const rnd = /^RND(?::(\d+))?$/i.exec(d);
    if (rnd) {
      const n = rnd[1] === undefined ? 1 : Number(rnd[1]);
      if (n < 1 || n > 128) throw new UserInputError(`-D ${d}: RND:N takes 1-128 addresses`);
      for (let i = 0; i < n; i++) out.push(randomPublicV4());
    } else if (/^ME$/i.test(d)) {
      if (out.includes('ME')) throw new UserInputError(`-D "${v}": ME may appear once`);
      out.push('ME');
    } else if (net.isIP(d)) out.push(d);
    else throw new UserInputError(`-D "${v}": "${d}" is not an address, ME or RND[:N]`);
  }
  if (out.filter((d) => d !== 'ME').length > 128) throw new UserInputError(`-D "${v}": at most 128 decoys`);
  return out;
}

/** A random IPv4 unicast address outside reserved, private and multicast space (as nmap's RND). */
function randomPublicV4(): string {
  for (;;) {
    const a = randomBytes(4);
    const [x, y] = [a[0]!, a[1]!];
    if (x === 0 || x === 10 || x === 127 || x >= 224 || (x === 169 && y === 254) || (x === 172 && y >= 16 && y < 32) ||
        (x === 192 && y === 168) || (x === 100 && y >= 64 && y < 128) || (x === 198 && (y === 18 || y === 19))) continue;
    return `${x}.${y}.${a[2]}.${a[3]}`;
  }
}

/** --spoof-mac: 0 (random), a MAC (any of : - . separators), a hex prefix, or a vendor name from nmap-mac-prefixes. */
export function parseSpoofMac(v: string, datadir?: string): Uint8Array {
  const hex = v.replace(/[:.-]/g, '');
  const fill = (prefix: string) => {
    const b = Buffer.alloc(6);
    Buffer.from(prefix.padEnd(prefix.length + (prefix.length % 2), '0'), 'hex').copy(b);
    randomBytes(6 - Math.floor(prefix.length / 2)).copy(b, Math.floor(prefix.length / 2));
    return new Uint8Array(b);
  };
  if (v === '0') {
    const b = fill('');
    b[0] = (b[0]! & 0xfc) | 0x02; // unicast, locally administered
    return b;
  }
  if (/^[0-9a-f]{12}$/i.test(hex)) return new Uint8Array(Buffer.from(hex, 'hex'));
  if (/^[0-9a-f]{1,11}$/i.test(hex) && /^[0-9a-f:.-]+$/i.test(v)) return fill(hex.slice(0, hex.length - (hex.length % 2)));
  const file = path.join(resolveDatadir(datadir), 'nmap-mac-prefixes');
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch {
    throw new UserInputError(`--spoof-mac ${v}: not a MAC or hex prefix, and ${file} (vendor names) cannot be read`);
  }
  const want = v.toLowerCase();
  for (const line of text.split('\n')) {
    const m = /^([0-9A-Fa-f]{6})\s+(.*)$/.exec(line);
    if (m && m[2]!.toLowerCase().includes(want)) return fill(m[1]!);
  }
  throw new UserInputError(`--spoof-mac ${v}: no vendor of that name in ${file}; give a MAC, a hex prefix or 0`);
}

/** Hex payloads as nmap's --data takes them: 0xdeadbeef, deadbeef, \xde\xad\xbe\xef. */
export function parseHexData(v: string, flag = '--data'): Uint8Array {
  const hex = v.replace(/^0x/i, '').replace(/\\x/gi, '');
  if (hex === '' || hex.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(hex)) {
    throw new UserInputError(`${flag} "${v}": expected hex bytes (0xdeadbeef, deadbeef or \\xde\\xad\\xbe\\xef)`);
  }
  if (hex.length / 2 > MAX_DATA_LENGTH) throw new UserInputError(`${flag}: at most ${MAX_DATA_LENGTH} bytes`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function dataOfLength(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > MAX_DATA_LENGTH) throw new UserInputError(`--data-length ${n}: expected 0-${MAX_DATA_LENGTH} bytes`);
  return new Uint8Array(randomBytes(n));
}

/**
 * --ip-options in nmap's syntax: R (record route), T (timestamps), U (timestamps with addresses),
 * L ADDR… (loose source route), S ADDR… (strict source route), or hex bytes (\x07\x07\x04…, with
 * \xHH*N to repeat). Padded with EOL to a multiple of 4; at most 40 bytes.
 */
export function parseIpOptions(v: string): Uint8Array {
  const t = v.trim();
  let bytes: number[];
  const route = /^([LS])\s+(.+)$/i.exec(t);
  if (/^R$/i.test(t)) bytes = [7, 39, 4, ...new Array(36).fill(0)];
  else if (/^T$/i.test(t)) bytes = [68, 36, 5, 0, ...new Array(32).fill(0)];
  else if (/^U$/i.test(t)) bytes = [68, 36, 5, 1, ...new Array(32).fill(0)];
  else if (route) {
    const addrs = route[2]!.trim().split(/[\s,]+/);
    if (addrs.length > 9 || !addrs.every((a) => net.isIPv4(a))) {
      throw new UserInputError(`--ip-options "${v}": ${route[1]} takes 1-9 IPv4 addresses`);
    }
    bytes = [route[1]!.toUpperCase() === 'L' ? 131 : 137, 3 + 4 * addrs.length, 4, ...addrs.flatMap((a) => [...addressBytes(a)])];
  } else if (/^(\\x[0-9a-f]{2}(\*\d+)?)+$/i.test(t)) {
    bytes = [];
    for (const m of t.matchAll(/\\x([0-9a-f]{2})(?:\*(\d+))?/gi)) {
      for (let i = 0; i < Number(m[2] ?? 1); i++) bytes.push(parseInt(m[1]!, 16));
    }
  } else {
    throw new UserInputError(`--ip-options "${v}": expected R, T, U, "L addr…", "S addr…" or hex (\\x07\\x04…)`);
  }
  while (bytes.length % 4) bytes.push(0);
  if (bytes.length > 40) throw new UserInputError(`--ip-options "${v}": ${bytes.length} bytes, IPv4 allows 40`);
  return Uint8Array.from(bytes);
}

/** The evasion options as wire-spec fields for one family's engine; refuses what the family cannot carry. */
export function resolveEvasion(e: EvasionOptions, family: 4 | 6, ownSource: Uint8Array, flag: string): { wire: Partial<WireSpec>; srcMac?: Uint8Array } {
  const wire: Partial<WireSpec> = {};
  if (e.badsum) wire.badsum = true;
  if (e.payload) wire.payload = e.payload;
  if (e.tcpFlags !== undefined) wire.tcpFlags = e.tcpFlags;
  if (family === 6 && (e.fragment || e.ipOptions)) {
    throw new UserInputError(`${flag}: ${e.fragment ? '-f/--mtu' : '--ip-options'} applies to IPv4 only (IPv6 has extension headers instead)`);
  }
  if (e.fragment) wire.fragment = e.fragment;
  if (e.ipOptions) wire.ipOptions = e.ipOptions;
  if (e.decoys && e.decoys.length > 0) {
    const width = family === 4 ? 4 : 16;
    const list = [...e.decoys];
    if (!list.includes('ME')) list.splice(randomInt(0, list.length + 1), 0, 'ME');
    const bytes = new Uint8Array(list.length * width);
    list.forEach((d, i) => {
      if (d !== 'ME' && net.isIP(d) !== family) throw new UserInputError(`-D ${d}: an IPv${net.isIP(d)} decoy in an IPv${family} scan`);
      bytes.set(d === 'ME' ? ownSource : addressBytes(d), i * width);
    });
    if (family === 4) wire.decoys4 = bytes;
    else wire.decoys6 = bytes;
  }
  return { wire, ...(e.spoofMac ? { srcMac: e.spoofMac } : {}) };
}
