import { UserInputError } from '../records/index.js';
import { query, type Database } from './db.js';

export interface ResumableScan {
  scanId: string;
  argv: string[];
  seed: number;
  status: string;
}

/** The scan to continue: the given id, else the latest prtip scan that did not complete. */
export async function findResumable(db: Database, path: string, scanId?: string): Promise<ResumableScan> {
  const r = await query(
    db.conn,
    `SELECT scan_id, argv, seed, status FROM scans WHERE source = 'prtip' AND ($1::VARCHAR IS NULL OR scan_id = $1)
     ORDER BY start_time DESC LIMIT 1`,
    [scanId ?? null],
  );
  const row = r.rows[0];
  if (!row) throw new UserInputError(`no prtip scan${scanId ? ` "${scanId}"` : ''} to resume in "${path}"`);
  const [id, argv, seed, status] = row as [string, string | null, number | string | null, string];
  if (status === 'complete') throw new UserInputError(`scan ${id} in "${path}" is complete; nothing to resume`);
  if (!argv || seed === null) {
    throw new UserInputError(`scan ${id} in "${path}" was stored by a pipe (prtip store), not prtip scan --db; it cannot be resumed`);
  }
  return { scanId: id, argv: JSON.parse(argv) as string[], seed: Number(seed), status };
}

/** Permutation positions already answered, as merged [start, end) ranges in order. */
export async function finishedRanges(db: Database, scanId: string): Promise<Array<[number, number]>> {
  const r = await query(db.conn, 'SELECT start, count FROM progress WHERE scan_id = $1 ORDER BY start', [scanId]);
  const out: Array<[number, number]> = [];
  for (const [s, c] of r.rows as Array<[number | string, number]>) {
    const start = Number(s);
    const end = start + Number(c);
    const last = out[out.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}
