import fs from 'node:fs';
import path from 'node:path';
import { UserInputError } from '../records/index.js';
import { scalar, type Database } from './db.js';
import { TABLES } from './schema.js';

/** Writes DIR/<table>.parquet for every table (optionally one scan's rows only); returns row counts. */
export async function exportParquet(db: Database, dir: string, scanId?: string): Promise<Record<string, number>> {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UserInputError(`cannot create "${dir}": ${(err as Error).message}`);
  }
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const file = path.resolve(dir, `${table}.parquet`).replace(/'/g, "''");
    const where = scanId ? ` WHERE scan_id = '${scanId.replace(/'/g, "''")}'` : '';
    await db.conn.run(`COPY (SELECT * FROM ${table}${where}) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
    counts[table] = Number(await scalar(db.conn, `SELECT count(*) FROM ${table}${where}`));
  }
  return counts;
}
