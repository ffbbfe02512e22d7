/**
 * DNS messages (RFC 1035) as far as a reverse/forward resolver needs them: a one-question query
 * out, and a reply's header and answer records in. Replies come from the network: every read is
 * bounds-checked, compression pointers may only point backwards (no loops), and anything that
 * does not parse is `undefined`, never an exception.
 */

export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_PTR = 12;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;

export interface DnsAnswer {
  name: string;
  type: number;
  cls: number;
  ttl: number;
  /** PTR/CNAME: the domain name; A/AAAA: the address text; else undefined. */
  data?: string;
}

export interface DnsReply {
  id: number;
  /** QR bit: a response. */
  response: boolean;
  /** TC bit: truncated (the answer did not fit a UDP datagram). */
  truncated: boolean;
  rcode: number;
  question?: { name: string; type: number; cls: number };
  answers: DnsAnswer[];
}

/** Longest name (RFC 1035: 255 bytes on the wire), and most labels a name may have. */
const MAX_NAME = 255;
const MAX_LABELS = 127;

/** A query for `name` (dotted, without the root dot) of `type`, recursion desired. */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  parts.push(header);
  for (const l of labels) {
    const b = Buffer.from(l, 'ascii');
    if (b.length > 63) throw new RangeError(`DNS label longer than 63 bytes in "${name}"`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0, (type >> 8) & 0xff, type & 0xff, 0, CLASS_IN]));
  return Buffer.concat(parts);
}

/** Reads a (possibly compressed) name at `offset`: the name and where the bytes after it start. */
export function readName(msg: Uint8Array, offset: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let wireLength = 0;
  // A pointer must point before the position it was read at, so the walk always ends.
  let limit = offset;
  for (;;) {
    if (pos >= msg.length) return undefined;
    const len = msg[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return undefined;
      const target = ((len & 0x3f) << 8) | msg[pos + 1]!;
      if (target >= limit) return undefined;
      if (next < 0) next = pos + 2;
      limit = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) return undefined; // 0x40, 0x80: label types nobody uses
    if (pos + 1 + len > msg.length) return undefined;
    wireLength += len + 1;
    if (wireLength > MAX_NAME || labels.length >= MAX_LABELS) return undefined;
    labels.push(labelText(msg.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** A label as text; bytes that cannot be part of a host name are escaped (\DDD), as dig shows them. */
function labelText(b: Uint8Array): string {
  let s = '';
  for (const c of b) {
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f) s += String.fromCharCode(c);
    else s += `\\${String(c).padStart(3, '0')}`;
  }
  return s;
}

/** Parses a reply datagram; undefined when it is not a whole, well-formed DNS message. */
export function parseReply(msg: Uint8Array): DnsReply | undefined {
  if (msg.length < 12) return undefined;
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const flags = dv.getUint16(2);
  const qd = dv.getUint16(4);
  const an = dv.getUint16(6);
  const reply: DnsReply = { id: dv.getUint16(0), response: (flags & 0x8000) !== 0, truncated: (flags & 0x0200) !== 0, rcode: flags & 0x0f, answers: [] };
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    const n = readName(msg, pos);
    if (!n || n.next + 4 > msg.length) return undefined;
    if (i === 0) reply.question = { name: n.name, type: dv.getUint16(n.next), cls: dv.getUint16(n.next + 2) };
    pos = n.next + 4;
  }
  for (let i = 0; i < an; i++) {
    const n = readName(msg, pos);
    if (!n || n.next + 10 > msg.length) return undefined;
    const type = dv.getUint16(n.next);
    const cls = dv.getUint16(n.next + 2);
    const ttl = dv.getUint32(n.next + 4);
    const rdlen = dv.getUint16(n.next + 8);
    const rd = n.next + 10;
    if (rd + rdlen > msg.length) return undefined;
    const a: DnsAnswer = { name: n.name, type, cls, ttl };
    if (type === TYPE_PTR || type === TYPE_CNAME) {
      const target = readName(msg, rd);
      if (!target || target.next > rd + rdlen) return undefined;
      a.data = target.name;
    } else if (type === TYPE_A && rdlen === 4) {
      a.data = [...msg.subarray(rd, rd + 4)].join('.');
    } else if (type === TYPE_AAAA && rdlen === 16) {
      const w: string[] = [];
      for (let k = 0; k < 16; k += 2) w.push(dv.getUint16(rd + k).toString(16));
      a.data = w.join(':');
    }
    reply.answers.push(a);
    pos = rd + rdlen;
  }
  return reply;
}

/** The reverse-lookup name of an address: d.c.b.a.in-addr.arpa, or the 32 nibbles under ip6.arpa. */
export function reverseQueryName(ip: string): string {
  if (!ip.includes(':')) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const fill = ip.includes('::') ? Array<string>(8 - h.length - t.length).fill('0') : [];
  const hex = [...h, ...fill, ...t].map((w) => w.padStart(4, '0')).join('');
  return `${[...hex].reverse().join('.')}.ip6.arpa`;
}

/** Names equal as DNS compares them (ASCII case-insensitive, trailing dot ignored). */
export function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}
