/** Where Nmap's data files live when nothing else is said (Debian package nmap-common). */
export const DEFAULT_DATADIR = '/usr/share/nmap';

/**
 * The data directory to read: an explicit --datadir wins, then $PRTIP_DATADIR (so tests and
 * packagers can point every stage at one place without threading a flag), then Nmap's default.
 */
export function resolveDatadir(datadir?: string): string {
  if (datadir !== undefined && datadir !== '') return datadir;
  const env = process.env['PRTIP_DATADIR'];
  if (env !== undefined && env !== '') return env;
  return DEFAULT_DATADIR;
}

const announced = new Set<string>();
let noticeSink: (message: string) => void = (m) => process.stderr.write(`prtip: warning: ${m}\n`);

/**
 * Says once per process that a built-in table stands in for a missing data file (the default
 * port list is then ~100 ports, not nmap's 1000): silence would hide a missing nmap-common.
 */
export function announceFallback(message: string): void {
  if (announced.has(message)) return;
  announced.add(message);
  noticeSink(message);
}

/** Where fallback notices go (tests; a server would route them to its log). Returns the previous sink. */
export function setFallbackNotice(sink: (message: string) => void): (message: string) => void {
  const prev = noticeSink;
  noticeSink = sink;
  announced.clear();
  return prev;
}
