/** IPv6 text ↔ 128-bit numbers. Planning works in bigint; the hot path uses 4 × u32 words. */

export const IPV6_BITS = 128n;
export const IPV6_MAX = (1n << 128n) - 1n;

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Parses every RFC 4291 textual form: full, "::"-compressed, and with an embedded dotted IPv4
 * tail (::ffff:1.2.3.4). Returns the address, or a reason string when it is not one.
 * Zone ids (fe80::1%eth0) are refused by the caller before this.
 */
export function parseIPv6(text: string): bigint | string {
  const gap = text.indexOf('::');
  if (gap >= 0 && text.indexOf('::', gap + 1) >= 0) return '"::" may appear only once';
  const head = gap >= 0 ? text.slice(0, gap) : text;
  const tail = gap >= 0 ? text.slice(gap + 2) : '';
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  const toWords = (list: string[], last: boolean): string | undefined => {
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (last && i === list.length - 1 && p.includes('.')) {
        const m = DOTTED.exec(p);
        if (!m) return `"${p}" is not a dotted IPv4 tail`;
        const o = m.slice(1).map(Number);
        if (o.some((x) => x > 255)) return `"${p}" has an octet above 255`;
        words.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      } else if (HEX_GROUP.test(p)) {
        words.push(parseInt(p, 16));
      } else {
        return p === '' ? 'empty group (a stray ":")' : `"${p}" is not a group of 1-4 hex digits`;
      }
    }
    return undefined;
  };
  const headProblem = toWords(headParts, gap < 0);
  if (headProblem) return headProblem;
  const headWords = words.length;
  if (gap >= 0) {
    const tailProblem = toWords(tailParts, true);
    if (tailProblem) return tailProblem;
  }
  const tailWords = words.length - headWords;
  if (gap < 0 && words.length !== 8) return `has ${words.length} groups, needs 8 (or "::")`;
  if (gap >= 0 && words.length > 7) return `has ${words.length} groups besides "::", at most 7 fit`;
  let value = 0n;
  for (let i = 0; i < headWords; i++) value = (value << 16n) | BigInt(words[i]!);
  value <<= 16n * BigInt(8 - headWords - tailWords);
  for (let i = headWords; i < words.length; i++) value = (value << 16n) | BigInt(words[i]!);
  return value;
}

/** The four 32-bit words of an address, most significant first, into `out` at `offset`. */
export function ipv6Words(value: bigint, out: Uint32Array, offset: number): void {
  for (let w = 3; w >= 0; w--) {
    out[offset + w] = Number(value & 0xffffffffn);
    value >>= 32n;
  }
}
