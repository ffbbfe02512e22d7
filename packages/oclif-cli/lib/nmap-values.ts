import { UserInputError } from '../../../stages/records/index.js';

/** nmap time syntax: a number with an optional unit ms/s/m/h; a bare number is seconds. Returns ms. */
export function parseTime(flag: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) throw new UserInputError(`bad time "${raw}" for ${flag}: use a number with an optional unit, like 500ms, 2s, 1m`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  const ms = Number(m[1]) * unit;
  if (!Number.isFinite(ms)) throw new UserInputError(`bad time "${raw}" for ${flag}: too large`);
  return ms;
}

/** A whole number within [min, max]. */
export function parseInteger(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new UserInputError(`bad number "${raw}" for ${flag}: expected a whole number ${min}-${max}`);
  const n = Number(raw);
  if (n < min || n > max) throw new UserInputError(`bad number "${raw}" for ${flag}: must be ${min}-${max}`);
  return n;
}

/** A rate in packets per second; accepts masscan's k/m suffixes (200k = 200000). */
export function parseRate(flag: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(raw.trim());
  if (!m) throw new UserInputError(`bad rate "${raw}" for ${flag}: expected packets per second, like 1000 or 200k`);
  const n = Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1);
  if (!(n > 0) || n > 1e8) throw new UserInputError(`bad rate "${raw}" for ${flag}: must be above 0 and at most 100m`);
  return n;
}

/** --shard i/n with 1 ≤ i ≤ n. */
export function parseShard(raw: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(raw.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count || count > 1_000_000) {
    throw new UserInputError(`bad shard "${raw}" for --shard: use i/n with 1 <= i <= n, like 1/4`);
  }
  return { index, count };
}

/** nmap's timing templates -T0…-T5, by number or name. */
export function parseTimingTemplate(raw: string): number {
  const names = ['paranoid', 'sneaky', 'polite', 'normal', 'aggressive', 'insane'];
  const byName = names.indexOf(raw.toLowerCase());
  if (byName >= 0) return byName;
  if (/^[0-5]$/.test(raw)) return Number(raw);
  throw new UserInputError(`bad timing template "-T${raw}": use -T0 to -T5 or a name (${names.join(', ')})`);
}
