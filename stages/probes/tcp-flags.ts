/** TCP flag bits, their letters (as tcpdump and nmap print them) and nmap's --scanflags syntax. */
import { UserInputError } from '../records/index.js';

export const TCP_FLAG_BITS = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20, E: 0x40, C: 0x80 } as const;
const NAMES: Record<string, number> = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80, ALL: 0xff, NONE: 0 };

/** "FPU" → 0x29. */
export function flagsOf(letters: string): number {
  let v = 0;
  for (const c of letters) v |= TCP_FLAG_BITS[c as keyof typeof TCP_FLAG_BITS];
  return v;
}

/** nmap's --scanflags: a number (9, 0x29) or flag names in any order (URGPSHFIN, SYNACK, ALL, NONE). */
export function parseScanFlags(v: string): number {
  const t = v.trim();
  if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) {
    const n = Number(t);
    if (n > 255) throw new UserInputError(`--scanflags ${v}: a flag number is 0-255`);
    return n;
  }
  let rest = t.toUpperCase();
  let flags = 0;
  if (rest === '') throw new UserInputError('--scanflags needs flags: names (URGACKPSHRSTSYNFINECECWR, ALL, NONE) or a number');
  while (rest.length > 0) {
    const name = Object.keys(NAMES).find((k) => rest.startsWith(k));
    if (!name) throw new UserInputError(`--scanflags "${v}": unknown flag at "${rest}"; use URG ACK PSH RST SYN FIN ECE CWR ALL NONE, or a number`);
    flags |= NAMES[name]!;
    rest = rest.slice(name.length);
  }
  return flags;
}
