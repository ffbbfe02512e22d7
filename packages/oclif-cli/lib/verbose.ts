import type { AnyRecord, PortRecord } from '../../../stages/records/index.js';

/** -v: nmap's live "Discovered open port 80/tcp on 198.18.0.2" lines, on stderr. */
export function verboseObserver(level: number): ((rec: AnyRecord) => void) | undefined {
  if (level < 1) return undefined;
  return (rec) => {
    if (rec.type !== 'port') return;
    const p = rec as PortRecord;
    if (p.state === 'open') process.stderr.write(`Discovered open port ${p.port}/${p.proto} on ${p.ip}\n`);
  };
}
