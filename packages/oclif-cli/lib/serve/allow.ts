/**
 * --allow-targets: which addresses API clients may scan. A scan is allowed only when every
 * planned address lies inside the allowed ranges (loopback always, plus the CIDRs given).
 */
import net from 'node:net';
import { UserInputError } from '../../../../stages/records/index.js';
import type { TargetPlan } from '../../../../stages/targets/index.js';

export interface AllowedRange {
  family: 4 | 6;
  start: bigint;
  end: bigint;
  text: string;
}

export const LOOPBACK_RANGES = ['127.0.0.0/8', '::1/128'];

function v4(text: string): bigint {
  return text.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
}

function v6(text: string): bigint {
  let t = text;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (tail) {
    const n = Number(v4(tail[1]!));
    t = `${t.slice(0, -tail[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, rest] = t.split('::') as [string, string | undefined];
  const hs = head ? head.split(':') : [];
  const rs = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? hs : [...hs, ...Array(8 - hs.length - rs.length).fill('0'), ...rs];
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** "198.18.0.0/15,2001:2::/48" → ranges; a bad one is a one-line error naming it. */
export function parseAllowList(list: string[]): AllowedRange[] {
  return list.flatMap((item) => item.split(',')).map((s) => s.trim()).filter(Boolean).map((text) => {
    const [addr, bitsText] = text.split('/') as [string, string | undefined];
    const family = net.isIP(addr);
    const max = family === 4 ? 32 : 128;
    const bits = bitsText === undefined ? max : /^\d+$/.test(bitsText) ? Number(bitsText) : NaN;
    if (family === 0 || !(bits >= 0 && bits <= max)) {
      throw new UserInputError(`bad range "${text}" for --allow-targets: expected CIDR blocks like 198.18.0.0/15 or 2001:2::/48`);
    }
    const value = family === 4 ? v4(addr) : v6(addr);
    const host = BigInt(max - bits);
    const start = (value >> host) << host;
    return { family: family as 4 | 6, start, end: start + (1n << host) - 1n, text };
  });
}

const fmt4 = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
const fmt6 = (n: bigint) => Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');

/** Every planned address interval, per family. */
function planIntervals(plan: TargetPlan): Array<{ family: 4 | 6; start: bigint; end: bigint }> {
  const out: Array<{ family: 4 | 6; start: bigint; end: bigint }> = [];
  const t4 = plan.v4;
  for (let k = 0; k < t4.starts.length; k++) {
    const start = BigInt(t4.starts[k]!);
    out.push({ family: 4, start, end: start + BigInt(t4.cum[k + 1]! - t4.cum[k]!) - 1n });
  }
  const t6 = plan.v6;
  for (let k = 0; k + 1 < t6.cum.length; k++) {
    let start = 0n;
    for (let w = 0; w < 4; w++) start = (start << 32n) | BigInt(t6.words[4 * k + w]!);
    out.push({ family: 6, start, end: start + BigInt(t6.cum[k + 1]! - t6.cum[k]!) - 1n });
  }
  return out;
}

/** Throws a one-line error naming the first planned range outside the allowed ones. */
export function checkAllowed(plan: TargetPlan, allowed: AllowedRange[]): void {
  for (const iv of planIntervals(plan)) {
    // Covered when the allowed ranges of this family, merged, contain the interval.
    let at = iv.start;
    const ranges = allowed.filter((a) => a.family === iv.family).sort((a, b) => (a.start < b.start ? -1 : 1));
    for (const r of ranges) if (r.start <= at && r.end >= at) at = r.end + 1n;
    if (at <= iv.end) {
      const f = iv.family === 4 ? fmt4 : fmt6;
      const span = iv.start === iv.end ? f(iv.start) : `${f(iv.start)}-${f(iv.end)}`;
      throw new UserInputError(
        `target ${span} is outside what this server may scan (${allowed.map((a) => a.text).join(', ')}); start prtip serve with --allow-targets to widen it`,
      );
    }
  }
}
