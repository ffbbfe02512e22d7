/**
 * POST /api/sql: one read-only SELECT, bounded in rows and time. The statement type is checked by
 * DuckDB's own parser; files and attachments are out of reach because the server's database
 * instance runs with external access disabled and its configuration locked (lockDown).
 */
import { StatementType, type DuckDBConnection, type DuckDBInstance } from '@duckdb/node-api';
import { UserInputError } from '../../../../stages/records/index.js';
import { query, type QueryResult } from '../../../../stages/store/index.js';

/** No file reads or writes, no ATTACH, no extension loading — and no SET to undo it. */
export async function lockDown(conn: DuckDBConnection): Promise<void> {
  await conn.run('SET enable_external_access = false');
  await conn.run('SET lock_configuration = true');
}

export interface SqlResult extends QueryResult {
  truncated: boolean;
}

export async function readOnlyQuery(instance: DuckDBInstance, sql: string, opts: { maxRows: number; timeoutMs: number }): Promise<SqlResult> {
  const conn = await instance.connect();
  try {
    let statements;
    try {
      statements = await conn.extractStatements(sql);
    } catch (err) {
      throw new UserInputError(`SQL error: ${(err as Error).message.split('\n')[0]}`);
    }
    if (statements.count !== 1) throw new UserInputError(`one statement per request, got ${statements.count}`);
    const prepared = await statements.prepare(0).catch((err: Error) => {
      throw new UserInputError(`SQL error: ${err.message.split('\n')[0]}`);
    });
    if (prepared.statementType !== StatementType.SELECT) {
      throw new UserInputError('only SELECT queries are allowed (the database is read-only through the API)');
    }
    prepared.destroySync?.();
    const body = sql.trim().replace(/;\s*$/, '');
    const timer = setTimeout(() => conn.interrupt(), opts.timeoutMs);
    try {
      const r = await query(conn, `SELECT * FROM (\n${body}\n) AS q LIMIT ${opts.maxRows + 1}`);
      const truncated = r.rows.length > opts.maxRows;
      return { columns: r.columns, rows: truncated ? r.rows.slice(0, opts.maxRows) : r.rows, truncated };
    } catch (err) {
      const m = (err as Error).message.split('\n')[0]!;
      throw new UserInputError(/interrupt/i.test(m) ? `query stopped after ${opts.timeoutMs} ms` : `SQL error: ${m}`);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    conn.closeSync();
  }
}
