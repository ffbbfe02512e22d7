/**
 * nmap-protocols: IP protocol number → name ("icmp" for 1), what the IP protocol scan (-sO) shows
 * in its SERVICE column. Read at run time from the data directory; without the file, protocols
 * have no names (nmap prints "unknown" then too).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDatadir } from './datadir.js';

export const PROTOCOLS_FILE = 'nmap-protocols';

/** Lines "name number [# comment]": names by number (0-255); malformed lines are skipped. */
export function parseProtocols(text: string): ReadonlyMap<number, string> {
  const names = new Map<number, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const m = /^(\S+)\s+(\d{1,3})$/.exec(line);
    if (!m || Number(m[2]) > 255 || names.has(Number(m[2]))) continue;
    names.set(Number(m[2]), m[1]!);
  }
  return names;
}

const cache = new Map<string, ReadonlyMap<number, string>>();

/** The protocol names of a data directory (see resolveDatadir), read once; empty without the file. */
export function loadProtocolNames(datadir?: string): ReadonlyMap<number, string> {
  const path = join(resolveDatadir(datadir), PROTOCOLS_FILE);
  let names = cache.get(path);
  if (names) return names;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // no names: the SERVICE column says unknown, as nmap's does without the file
  }
  names = parseProtocols(text);
  cache.set(path, names);
  return names;
}
