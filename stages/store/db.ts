import fs from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { UserInputError } from '../records/index.js';
import { SCHEMA_SQL } from './schema.js';

export interface Database {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  close(): void;
}

/**
 * Opens a prtip DuckDB file. By default it is created when absent and the schema is put in
 * place; `existing: true` (sql, diff, export) refuses a missing file and leaves the schema alone.
 */
/** `config`: DuckDB settings for the instance (pipelines/privilege.ts moves the WAL and checkpoints every commit). */
export async function openDatabase(path: string, opts: { readOnly?: boolean; existing?: boolean; config?: Record<string, string> } = {}): Promise<Database> {
  if (opts.existing && path !== ':memory:' && !fs.existsSync(path)) {
    throw new UserInputError(`no database "${path}" (prtip scan --db FILE or prtip db import FILE creates one)`);
  }
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, { ...opts.config, ...(opts.readOnly ? { access_mode: 'READ_ONLY' } : {}) });
  } catch (err) {
    const first = (err as Error).message.split('\n')[0]!;
    const pid = /Conflicting lock is held in .*\(PID (\d+)\)/.exec((err as Error).message)?.[1];
    if (/Could not set lock on file/i.test(first)) {
      throw new UserInputError(
        `database "${path}" is locked by another process${pid ? ` (PID ${pid})` : ''}, e.g. a scan still writing it: ` +
          'wait for it to finish, or query a copy (cp FILE copy.duckdb)',
      );
    }
    throw new UserInputError(`cannot open DuckDB database "${path}": ${first}`);
  }
  const conn = await instance.connect();
  if (!opts.readOnly && !opts.existing) await conn.run(SCHEMA_SQL);
  let closed = false;
  return {
    instance,
    conn,
    close() {
      if (closed) return; // idempotent: the store stage may close it first (StoreOptions.closeDb)
      closed = true;
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** For commands that only read (sql, db diff, db export): works on a database the user cannot write. */
export function openForReading(path: string): Promise<Database> {
  return openDatabase(path, { existing: true, readOnly: true });
}

/** DuckDB refused a statement because the database was opened read-only. */
export function isReadOnlyRefusal(err: unknown): boolean {
  return /read-only mode/i.test((err as Error)?.message ?? '');
}

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
}

/** Runs one statement; values become JSON-safe (bigints as numbers when exact, else strings). */
export async function query(conn: DuckDBConnection, sql: string, params?: unknown[]): Promise<QueryResult> {
  const reader = await conn.runAndReadAll(sql, params as never);
  return { columns: reader.columnNames(), rows: reader.getRowsJson() as unknown[][] };
}

/** One-column, one-row helper. */
export async function scalar(conn: DuckDBConnection, sql: string, params?: unknown[]): Promise<unknown> {
  const r = await query(conn, sql, params);
  return r.rows[0]?.[0];
}
