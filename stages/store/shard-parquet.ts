/**
 * A shard of a distributed scan as Parquet: each shard's database is written out table by table
 * with DuckDB `COPY … TO` (exportParquet), described by a small manifest (paths, row counts,
 * sha256), and later unioned — checked against those manifests — into one scan of a database.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserInputError } from '../records/index.js';
import { query, scalar, type Database } from './db.js';
import { exportParquet } from './export.js';
import { TABLES, type TableName } from './schema.js';

export interface ShardFile {
  table: TableName;
  /** Path relative to the results root (so a shared volume may be mounted elsewhere by collect). */
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface ShardManifest {
  clusterId: string;
  shard: { index: number; count: number };
  /** The shard's own scan id (in its checkpoint database). */
  scanId: string;
  /** The results root the worker wrote under (absolute on the worker). */
  root: string;
  files: ShardFile[];
  /** Probes of the shard, and how many runs continued it from its checkpoint. */
  probes: number;
  resumed: number;
  status: string;
}

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Writes ROOT/REL/<table>.parquet for one scan of `db` and returns what the manifest lists. */
export async function writeShardParquet(db: Database, scanId: string, root: string, rel: string): Promise<ShardFile[]> {
  const dir = path.join(root, rel);
  const counts = await exportParquet(db, dir, scanId);
  return TABLES.map((table) => {
    const file = path.join(dir, `${table}.parquet`);
    return { table, path: path.join(rel, `${table}.parquet`), rows: counts[table]!, bytes: fs.statSync(file).size, sha256: sha256File(file) };
  });
}

/** Every file a manifest lists is there, unchanged (sha256) and holds its row count; else one line naming the first that is not. */
export async function verifyShard(db: Database, m: ShardManifest, root: string = m.root): Promise<void> {
  const name = `shard ${m.shard.index}/${m.shard.count}`;
  for (const f of m.files) {
    const file = path.join(root, f.path);
    if (!fs.existsSync(file)) throw new UserInputError(`${name}: ${file} is missing (is the results directory mounted here? see --results)`);
    if (sha256File(file) !== f.sha256) throw new UserInputError(`${name}: ${file} does not match its manifest's sha256`);
    const rows = Number(await scalar(db.conn, `SELECT count(*) FROM read_parquet(${sqlString(file)})`));
    if (rows !== f.rows) throw new UserInputError(`${name}: ${file} holds ${rows} rows, its manifest says ${f.rows}`);
  }
}

export interface UnionScan {
  scanId: string;
  /** The command line that asked for the scan (the scans row's args). */
  args: string;
  /** Whether every shard is in: the stored status is then complete, else interrupted. */
  complete: boolean;
}

/**
 * Adds the shards' rows to `db` as one scan (their rows get `scan.scanId`): ports, services,
 * OS matches and progress as they are, hosts once each (a host whose ports are split over shards
 * is up if any shard saw it up), one scans row with the shards' plans added up. Refuses shards
 * that overlap (a port in two shards) and checks the stored counts against the manifests.
 */
export async function unionShards(db: Database, scan: UnionScan, manifests: ShardManifest[], root?: string): Promise<Record<TableName, number>> {
  if (Number(await scalar(db.conn, 'SELECT count(*) FROM scans WHERE scan_id = $1', [scan.scanId])) > 0) {
    throw new UserInputError(`scan ${scan.scanId} is already in this database`);
  }
  for (const m of manifests) await verifyShard(db, m, root);
  const files = (table: TableName) =>
    `read_parquet([${manifests.map((m) => sqlString(path.join(root ?? m.root, m.files.find((f) => f.table === table)!.path))).join(', ')}])`;
  const expected = Object.fromEntries(TABLES.map((t) => [t, manifests.reduce((n, m) => n + m.files.find((f) => f.table === t)!.rows, 0)])) as Record<TableName, number>;
  if (manifests.length === 0) throw new UserInputError('no shard has finished yet: nothing to collect');

  const overlap = Number(await scalar(db.conn, `SELECT count(*) - count(DISTINCT (ip, port, proto)) FROM ${files('ports')}`));
  if (overlap !== 0) throw new UserInputError(`the shards overlap: ${overlap} port rows appear in more than one shard (were they submitted with different seeds?)`);

  const counters: Record<string, Record<string, number>> = {};
  for (const [c] of (await query(db.conn, `SELECT counters FROM ${files('scans')}`)).rows as Array<[string | null]>) {
    for (const [stage, vals] of Object.entries(JSON.parse(c ?? '{}') as Record<string, Record<string, unknown>>)) {
      const into = (counters[stage] ??= {});
      // Counts add up over shards; targets.hosts is the plan's host count, the same in every shard.
      for (const [k, v] of Object.entries(vals ?? {})) {
        if (typeof v !== 'number') continue;
        into[k] = stage === 'targets' && k === 'hosts' ? Math.max(into[k] ?? 0, v) : (into[k] ?? 0) + v;
      }
    }
  }
  const id = [scan.scanId];
  const stored = {} as Record<TableName, number>;
  await db.conn.run('BEGIN TRANSACTION');
  try {
    await db.conn.run(
      `INSERT INTO scans (scan_id, source, tool, version, args, argv, start_time, end_time, status, seed, planned_hosts, planned_probes,
         ports_tcp, ports_udp, ports_sctp, resumed, counters)
       SELECT $1, 'prtip', any_value(tool), any_value(version), $2, NULL, min(start_time), max(end_time), $3, any_value(seed),
         max(planned_hosts), sum(planned_probes), any_value(ports_tcp), any_value(ports_udp), any_value(ports_sctp), sum(resumed), $4
       FROM ${files('scans')}`,
      [scan.scanId, scan.args, scan.complete ? 'complete' : 'interrupted', JSON.stringify(counters)] as never,
    );
    await db.conn.run(`INSERT INTO ports SELECT $1, * EXCLUDE (scan_id) FROM ${files('ports')}`, id);
    await db.conn.run(`INSERT INTO services SELECT $1, * EXCLUDE (scan_id) FROM ${files('services')}`, id);
    await db.conn.run(`INSERT INTO os_matches SELECT $1, * EXCLUDE (scan_id) FROM ${files('os_matches')}`, id);
    await db.conn.run(`INSERT INTO os_fingerprints SELECT $1, * EXCLUDE (scan_id) FROM ${files('os_fingerprints')}`, id);
    await db.conn.run(`INSERT INTO hops SELECT $1, * EXCLUDE (scan_id) FROM ${files('hops')}`, id);
    await db.conn.run(`INSERT INTO progress SELECT $1, * EXCLUDE (scan_id) FROM ${files('progress')}`, id);
    await db.conn.run(
      `INSERT INTO hosts SELECT $1, ip, arg_min(state, r), arg_min(reason, (r, time)), max(hostname), min(time)
       FROM (SELECT *, CASE state WHEN 'up' THEN 0 WHEN 'unknown' THEN 1 ELSE 2 END AS r FROM ${files('hosts')}) GROUP BY ip`, id);
    for (const t of TABLES) stored[t] = Number(await scalar(db.conn, `SELECT count(*) FROM ${t} WHERE scan_id = $1`, id));
    for (const t of ['ports', 'services', 'os_matches', 'os_fingerprints', 'hops', 'progress'] as const) {
      if (stored[t] !== expected[t]) throw new UserInputError(`collected ${stored[t]} ${t} rows, the manifests list ${expected[t]}`);
    }
    await db.conn.run('COMMIT');
  } catch (err) {
    await db.conn.run('ROLLBACK');
    throw err;
  }
  return stored;
}
