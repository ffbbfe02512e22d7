/**
 * GET /api/scans/{id}/report?format=…: a stored scan written by the format stage itself (-oN,
 * -oX, -oJ, -oD, -oC), from the database rows (the same reading --resume uses), so downloads
 * are the files the CLI would have written.
 */
import { PassThrough } from 'node:stream';
import type { DuckDBInstance } from '@duckdb/node-api';
import { formatRecords, type OutputRequest } from '../../../../stages/format/index.js';
import { mergeRecords } from '../../../../stages/merge/index.js';
import { SCHEMA_VERSION, UserInputError, type AnyRecord, type EndTrailer, type ScanHeader } from '../../../../stages/records/index.js';
import { query, storedRecords, type Database } from '../../../../stages/store/index.js';
import { emptyOptions } from '../flags.js';
import { formatOptions } from '../stage-options.js';

export const REPORT_FORMATS: Record<string, { format: OutputRequest['format']; type: string; ext: string }> = {
  normal: { format: 'normal', type: 'text/plain; charset=utf-8', ext: 'nmap' },
  xml: { format: 'xml', type: 'application/xml', ext: 'xml' },
  json: { format: 'json', type: 'application/json', ext: 'json' },
  jsonl: { format: 'jsonl', type: 'application/x-ndjson', ext: 'jsonl' },
  csv: { format: 'csv', type: 'text/csv; charset=utf-8', ext: 'csv' },
};

/** The report text, or undefined when the database has no such scan. */
export async function scanReport(instance: DuckDBInstance, id: string, format: string): Promise<string | undefined> {
  const spec = REPORT_FORMATS[format];
  if (!spec) throw new UserInputError(`unknown report format "${format}": use ${Object.keys(REPORT_FORMATS).join(', ')}`);
  const conn = await instance.connect();
  const db: Database = { instance, conn, close: () => conn.closeSync() };
  try {
    const r = await query(conn,
      `SELECT tool, version, args, epoch_ms(start_time)::DOUBLE, epoch_ms(end_time)::DOUBLE, status, seed::DOUBLE, planned_hosts::DOUBLE,
              planned_probes::DOUBLE, ports_tcp, ports_udp, ports_sctp, counters FROM scans WHERE scan_id = $1`, [id]);
    const row = r.rows[0];
    if (!row) return undefined;
    const [tool, version, args, start, end, status, seed, hosts, probes, tcp, udp, sctp, counters] = row as [
      string | null, string | null, string | null, number | null, number | null, string, number | null, number | null, number | null,
      string | null, string | null, string | null, string | null];
    if (status === 'running') throw new UserInputError(`scan ${id} is still running: its report is ready when it ends`);
    const header: ScanHeader = {
      type: 'scan', schema: SCHEMA_VERSION, tool: (tool as 'prtip' | null) ?? 'prtip', version: version ?? '', scanId: id,
      args: args ? args.split(' | ') : [], startTime: start ?? 0,
    };
    if (hosts !== null && probes !== null) {
      header.plan = {
        hosts, portsPerHost: hosts > 0 ? probes / hosts : 0, probes, shardProbes: probes,
        ports: { tcp: tcp ?? '', udp: udp ?? '', sctp: sctp ?? '' }, seed: seed ?? 0, shard: { index: 1, count: 1 },
      };
    }
    const trailer: EndTrailer = { type: 'end', endTime: end ?? start ?? 0, interrupted: status !== 'complete', counters: counters ? JSON.parse(counters) : {} };
    const rows = await storedRecords(db, id);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    async function* stream(): AsyncGenerator<AnyRecord> {
      yield header;
      yield* rows;
      yield trailer;
    }
    const outputs: OutputRequest[] = [{ format: spec.format, path: '-' }];
    const formatted = formatRecords({ ...formatOptions(emptyOptions(), outputs), stdout: out })(mergeRecords()(stream()));
    for await (const _ of formatted) { /* the format stage writes as records pass */ }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    db.close();
  }
}
