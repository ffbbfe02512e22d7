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
