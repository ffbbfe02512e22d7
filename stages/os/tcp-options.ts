/**
 * TCP options for OS fingerprinting: decoding the option bytes of a reply, nmap's O string
 * (`M5B4ST11NW7`), and the TSval the SEQ test samples.
 *
 * The O string letters: L end of list, N no-op, M<hex> MSS, W<hex> window scale, S SACK
 * permitted, T<a><b> timestamp with a = TSval≠0, b = TSecr≠0; other options add nothing.
 * As in nmap 7.93 the walk does not stop at end-of-list: every padding zero after it is
 * another L (the database's `…SLL` strings come from that).
 */
import type { OsTcpOption, OsTcpReply } from './responses.js';

const FIXED_LEN: Record<number, number> = { 2: 4, 3: 3, 4: 2, 8: 10 };

/**
 * Decodes TCP option bytes (what follows the 20-byte header up to the data offset). `malformed`
 * when an option runs past the end or its length byte disagrees with the option's fixed size.
 */
export function decodeTcpOptions(bytes: Uint8Array): { options: OsTcpOption[]; malformed: boolean } {
  const options: OsTcpOption[] = [];
  let i = 0;
  while (i < bytes.length) {
    const kind = bytes[i]!;
    if (kind === 0) {
      options.push({ kind: 'eol' });
      i++;
      continue;
    }
    if (kind === 1) {
      options.push({ kind: 'nop' });
      i++;
      continue;
    }
    const fixed = FIXED_LEN[kind];
    const len = bytes[i + 1];
    if (len === undefined || len < 2 || i + len > bytes.length || (fixed !== undefined && len !== fixed)) {
      return { options, malformed: true };
    }
    const d = bytes.subarray(i + 2, i + len);
    const u32 = (o: number) => ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
    switch (kind) {
      case 2: options.push({ kind: 'mss', value: (d[0]! << 8) | d[1]! }); break;
      case 3: options.push({ kind: 'wscale', shift: d[0]! }); break;
      case 4: options.push({ kind: 'sackok' }); break;
      case 8: options.push({ kind: 'timestamp', tsval: u32(0), tsecr: u32(4) }); break;
      default: options.push({ kind: 'other', code: kind, data: Uint8Array.from(d) });
    }
    i += len;
  }
  return { options, malformed: false };
}

const hex = (n: number) => n.toString(16).toUpperCase();

/** nmap's option string for a reply; empty when the options could not be walked. */
export function tcpOptionString(reply: Pick<OsTcpReply, 'options' | 'optionsMalformed'>): string {
  if (reply.optionsMalformed) return '';
  let s = '';
  for (const o of reply.options) {
    switch (o.kind) {
      case 'eol': s += 'L'; break;
      case 'nop': s += 'N'; break;
      case 'mss': s += `M${hex(o.value)}`; break;
      case 'wscale': s += `W${hex(o.shift)}`; break;
      case 'sackok': s += 'S'; break;
      case 'timestamp': s += `T${o.tsval !== 0 ? 1 : 0}${o.tsecr !== 0 ? 1 : 0}`; break;
      case 'other': break;
    }
  }
  return s;
}

/**
 * The TSval of the first timestamp option before end-of-list, or undefined when there is none
 * (nmap's gettcpopt_ts, which stops at end-of-list).
 */
export function tcpTimestamp(reply: Pick<OsTcpReply, 'options'>): number | undefined {
  for (const o of reply.options) {
    if (o.kind === 'eol') return undefined;
    if (o.kind === 'timestamp') return o.tsval;
  }
  return undefined;
}
