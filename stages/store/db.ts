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
export async function openDatabase(path: string, opts: { readOnly?: boolean; existing?: boolean } = {}): Promise<Database> {
  if (opts.existing && path !== ':memory:' && !fs.existsSync(path)) {
    throw new UserInputError(`no database "${path}" (prtip scan --db FILE or prtip db import FILE creates one)`);
  }
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, opts.readOnly ? { access_mode: 'READ_ONLY' } : {});
  } catch (err) {
    throw new UserInputError(`cannot open DuckDB database "${path}": ${(err as Error).message.split('\n')[0]}`);
  }
  const conn = await instance.connect();
  if (!opts.readOnly && !opts.existing) await conn.run(SCHEMA_SQL);
  return {
    instance,
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
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
