/**
 * IP ID sequence classes (SEQ.TI from the SEQ replies, SEQ.CI from T5–T7, SEQ.II from IE1–IE2),
 * as nmap classifies 16-bit IPv4 IDs. Checked in this order:
 *   Z  every ID is zero
 *   RD more than two samples and a difference (32-bit, so a decrease counts) above 20000
 *   (the rest on differences masked to 16 bits)
 *   constant  every difference is zero → the ID itself, in hex
 *   RI a difference above 1000 that is not a multiple of 256, or a multiple of 256 ≥ 25600
 *   BI every difference a multiple of 256 and ≤ 5120
 *   I  every difference even, or every difference ≤ 9
 *   otherwise unknown (the attribute is left out)
 */

export type IpIdClass =
  | { kind: 'zero' }
  | { kind: 'random' }
  | { kind: 'constant'; value: number }
  | { kind: 'rpi' }
  | { kind: 'broken-incr' }
  | { kind: 'incr-by-2' }
  | { kind: 'incr' }
  | { kind: 'unknown' };

export function classifyIpIds(ids: readonly number[], localhost = false): IpIdClass {
  const n = ids.length;
  if (n < 2) return { kind: 'unknown' };
  const diffs: number[] = [];
  let allZero = true;
  for (let i = 1; i < n; i++) {
    if (ids[i - 1] !== 0 || ids[i] !== 0) allZero = false;
    const d = (ids[i]! - ids[i - 1]!) >>> 0;
    if (n > 2 && d > 20000) return { kind: 'random' };
    diffs.push(d & 0xffff);
  }
  if (allZero) return { kind: 'zero' };
  if (localhost && diffs.every((d) => d >= 2)) {
    // On localhost nmap's own RSTs take IDs too: take one (or 256 for byte-swapped counters) off.
    for (let i = 0; i < diffs.length; i++) diffs[i] = diffs[i]! % 256 === 0 ? diffs[i]! - 256 : diffs[i]! - 1;
  }
  if (diffs.every((d) => d === 0)) return { kind: 'constant', value: ids[0]! };
  if (diffs.some((d) => d > 1000 && (d % 256 !== 0 || d >= 25600))) return { kind: 'rpi' };
  if (diffs.every((d) => d <= 5120 && d % 256 === 0)) return { kind: 'broken-incr' };
  if (diffs.every((d) => d % 2 === 0)) return { kind: 'incr-by-2' };
  if (diffs.every((d) => d <= 9)) return { kind: 'incr' };
  return { kind: 'unknown' };
}

/** The fingerprint value for a class (TI/CI/II), or undefined when the attribute is left out. */
export function ipIdClassValue(c: IpIdClass): string | undefined {
  switch (c.kind) {
    case 'zero': return 'Z';
    case 'random': return 'RD';
    case 'constant': return c.value.toString(16).toUpperCase();
    case 'rpi': return 'RI';
    case 'broken-incr': return 'BI';
    case 'incr-by-2':
    case 'incr': return 'I';
    case 'unknown': return undefined;
  }
}

/** nmap's "IP ID Sequence Generation:" wording for a class. */
export function ipIdClassText(c: IpIdClass): string {
  switch (c.kind) {
    case 'constant': return 'Duplicated ipid (!)';
    case 'incr': return 'Incremental';
    case 'incr-by-2': return 'Incrementing by 2';
    case 'broken-incr': return 'Broken little-endian incremental';
    case 'random': return 'Randomized';
    case 'rpi': return 'Random positive increments';
    case 'zero': return 'All zeros';
    case 'unknown': return 'Busy server or unknown class';
  }
}
