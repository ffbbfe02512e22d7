/**
 * --packet-trace for raw scans: native copies every frame it sends and every packet it captures
 * (native/src/engine-core.h TraceBuffer, switched by RawEngine.setTrace); here they become nmap's
 * lines, from the bytes themselves, so the trace shows what really went out and came in:
 *   SENT (0.0521s) TCP 198.18.0.1:61234 > 198.18.1.2:80 S ttl=64 id=4711 iplen=44  seq=3323902287 win=1024 <mss 1460>
 *   RCVD (0.0523s) TCP 198.18.1.2:80 > 198.18.0.1:61234 SA ttl=64 id=0 iplen=44  seq=1819360359 win=64240 <mss 1460>
 *   RCVD (0.0530s) ICMP [198.18.1.2 > 198.18.0.1 Port 53 unreachable (type=3/code=3) ] IP [ttl=64 id=56792 iplen=68 ]
 * (IPv6: hopl=, flow=, payloadlen= instead of ttl=, id=, iplen=, as nmap prints them.)
 */
import { isIPv6 } from 'node:net';

/** One traced frame as native packed it. */
export interface TracedFrame {
  sent: boolean;
  timeMs: number;
  /** The Ethernet frame (at most native's copy limit of it). */
  frame: Buffer;
  wireLength: number;
}

const HEADER = 16;

/** Unpacks native's trace records (u8 direction, u8, u16 stored length, u32 wire length, f64 ms, bytes). */
export function* tracedFrames(buf: Buffer): Generator<TracedFrame> {
  for (let o = 0; o + HEADER <= buf.length; ) {
    const keep = buf.readUInt16LE(o + 2);
    yield { sent: buf[o] === 0, wireLength: buf.readUInt32LE(o + 4), timeMs: buf.readDoubleLE(o + 8), frame: buf.subarray(o + HEADER, o + HEADER + keep) };
    o += HEADER + keep;
  }
}

/** nmap's TCP flag letters, lowest bit first (FIN SYN RST PSH ACK URG ECE CWR). */
const FLAG_LETTERS = 'FSRPAUEC';
function flagText(flags: number): string {
  let s = '';
  for (let b = 0; b < 8; b++) if (flags & (1 << b)) s += FLAG_LETTERS[b];
  return s;
}

function ipText(b: Buffer, at: number, len: 4 | 16): string {
  if (len === 4) return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  const groups: string[] = [];
  for (let k = 0; k < 16; k += 2) groups.push(b.readUInt16BE(at + k).toString(16));
  // The shortest form (:: for the longest run of zero groups), as nmap writes addresses.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** nmap's "<mss 1460,sackOK,timestamp 1 0,nop,wscale 7>" for TCP options; '' for none. */
function tcpOptionsText(b: Buffer, at: number, end: number): string {
  const parts: string[] = [];
  for (let o = at; o < end; ) {
    const kind = b[o]!;
    if (kind === 0) { parts.push('eol'); break; }
    if (kind === 1) { parts.push('nop'); o++; continue; }
    const len = b[o + 1] ?? 0;
    if (len < 2 || o + len > end) { parts.push('malformed'); break; }
    if (kind === 2 && len === 4) parts.push(`mss ${b.readUInt16BE(o + 2)}`);
    else if (kind === 3 && len === 3) parts.push(`wscale ${b[o + 2]}`);
    else if (kind === 4 && len === 2) parts.push('sackOK');
    else if (kind === 8 && len === 10) parts.push(`timestamp ${b.readUInt32BE(o + 2)} ${b.readUInt32BE(o + 6)}`);
    else parts.push(`unknown-${kind}`);
    o += len;
  }
  return parts.length ? `<${parts.join(',')}>` : '';
}

const UNREACH: Record<number, string> = {
  0: 'Network unreachable', 1: 'Host unreachable', 4: 'Fragmentation required', 5: 'Source route failed',
  6: 'Destination network unknown', 7: 'Destination host unknown', 9: 'Destination network administratively prohibited',
  10: 'Destination host administratively prohibited', 13: 'Communication administratively prohibited',
};

function icmp4Text(b: Buffer, at: number, end: number): string {
  const type = b[at]!, code = b[at + 1]!;
  let what: string;
  if (type === 3) {
    // The quoted datagram names the port or protocol that was unreachable.
    const q = at + 8;
    const qHeader = q < end ? (b[q]! & 0x0f) * 4 : 0;
    if (code === 3 && q + qHeader + 4 <= end) what = `Port ${b.readUInt16BE(q + qHeader + 2)} unreachable`;
    else if (code === 2 && q + 10 <= end) what = `Protocol ${b[q + 9]} unreachable`;
    else what = UNREACH[code] ?? 'Destination unreachable';
  } else if (type === 0 || type === 8) {
    what = `${type === 0 ? 'Echo reply' : 'Echo request'} (type=${type}/code=${code}) id=${at + 6 <= end ? b.readUInt16BE(at + 4) : 0} seq=${at + 8 <= end ? b.readUInt16BE(at + 6) : 0}`;
    return what;
  } else if (type === 11) what = 'TTL=0 during transit';
  else what = 'ICMP';
  return `${what} (type=${type}/code=${code})`;
}

/** nmap's description of one IP packet (no "SENT (…)" prefix); undefined for what is not IP. */
export function describePacket(p: Buffer): string | undefined {
  const version = p[0]! >> 4;
  let src: string, dst: string, proto: number, l4: number, end: number, ipFields: string, v6Fields: string | undefined;
  if (version === 4 && p.length >= 20) {
    const ihl = (p[0]! & 0x0f) * 4;
    const total = p.readUInt16BE(2);
    end = Math.min(p.length, total);
    src = ipText(p, 12, 4);
    dst = ipText(p, 16, 4);
    proto = p[9]!;
    l4 = ihl;
    const frag = p.readUInt16BE(6);
    const offset = (frag & 0x1fff) * 8;
    ipFields = `ttl=${p[8]} id=${p.readUInt16BE(4)} iplen=${total}`;
    if (offset > 0) return `IP [${src} > ${dst} ${ipFields} frag offset=${offset}${frag & 0x2000 ? '+' : ''} proto=${proto} ]`;
    if (frag & 0x2000) ipFields += ' MF';
  } else if (version === 6 && p.length >= 40) {
    const plen = p.readUInt16BE(4);
    end = Math.min(p.length, 40 + plen);
    src = ipText(p, 8, 16);
    dst = ipText(p, 24, 16);
    proto = p[6]!;
    l4 = 40;
    v6Fields = `hopl=${p[7]} flow=${(p.readUInt32BE(0) & 0xfffff).toString(16)} payloadlen=${plen}`;
    ipFields = v6Fields;
  } else return undefined;
  if (proto === 6 && l4 + 20 <= end) {
    const sp = p.readUInt16BE(l4), dp = p.readUInt16BE(l4 + 2);
    const seq = p.readUInt32BE(l4 + 4);
    const off = (p[l4 + 12]! >> 4) * 4;
    const opts = tcpOptionsText(p, l4 + 20, Math.min(end, l4 + off));
    // nmap: two spaces before seq= after an IPv4 header, one after IPv6's.
    return `TCP ${src}:${sp} > ${dst}:${dp} ${flagText(p[l4 + 13]!)} ${ipFields}${v6Fields ? ' ' : '  '}seq=${seq} win=${p.readUInt16BE(l4 + 14)} ${opts}`;
  }
  if (proto === 17 && l4 + 8 <= end) {
    return `UDP ${src}:${p.readUInt16BE(l4)} > ${dst}:${p.readUInt16BE(l4 + 2)} ${ipFields} `;
  }
  if (proto === 1 && l4 + 4 <= end) return `ICMP [${src} > ${dst} ${icmp4Text(p, l4, end)} ] IP [${ipFields} ]`;
  if (proto === 58 && l4 + 4 <= end) return `ICMPv6 (58) ${src} > ${dst} (type=${p[l4]}/code=${p[l4 + 1]}) ${ipFields}`;
  return `${isIPv6(src) ? 'IPv6' : 'IP'} [${src} > ${dst} proto=${proto} ${ipFields} ]`;
}

/** The IP packet inside an Ethernet frame (802.1Q tags skipped); undefined for other frames. */
export function ipOfFrame(frame: Buffer): Buffer | undefined {
  let at = 12;
  let type = frame.length >= 14 ? frame.readUInt16BE(at) : 0;
  while ((type === 0x8100 || type === 0x88a8) && frame.length >= at + 6) {
    at += 4;
    type = frame.readUInt16BE(at);
  }
  return type === 0x0800 || type === 0x86dd ? frame.subarray(at + 2) : undefined;
}

/** The trace line of one traced frame, with its clock text. */
export function traceLine(f: TracedFrame, clock: (ms: number) => string): string | undefined {
  const ip = ipOfFrame(f.frame);
  const text = ip ? describePacket(ip) : undefined;
  return text === undefined ? undefined : `${f.sent ? 'SENT' : 'RCVD'} (${clock(f.timeMs)}) ${text}`;
}
