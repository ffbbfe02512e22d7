import type { AnyRecord, PortRecord } from '../../../stages/records/index.js';

/**
 * -v: nmap's live "Discovered open port 80/tcp on 198.18.0.2" lines, on stderr. `level` is read
 * per record, so the v/V keys take effect at once; `say` writes without garbling a status line.
 */
export function verboseObserver(level: number | (() => number), say: (text: string) => void = (t) => process.stderr.write(t)): ((rec: AnyRecord) => void) | undefined {
  if (typeof level === 'number' && level < 1) return undefined;
  const current = typeof level === 'number' ? () => level : level;
  return (rec) => {
    if (rec.type !== 'port' || current() < 1) return;
    const p = rec as PortRecord;
    if (p.state === 'open') say(`Discovered open port ${p.port}/${p.proto} on ${p.ip}\n`);
  };
}
