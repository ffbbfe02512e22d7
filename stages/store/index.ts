/**
 * stages/store: appends a scan's records to a DuckDB database (tables scans, hosts, ports,
 * services, os_matches, progress; see README.md) with DuckDB appenders, and passes every record
 * on unchanged. It commits a checkpoint every `checkpointMs` or `checkpointRows`, so a scan
 * killed with SIGKILL leaves a database that opens and holds everything up to the last
 * checkpoint — including which probe batches were finished, for `prtip scan --resume`.
 */
import type { Duplex } from 'node:stream';
import {
  stageStream, type AnyRecord, type EndTrailer, type HostRecord, type OsRecord, type PortRecord, type ProgressRecord, type ScriptRecord, type TraceRecord,
  type ScanHeader, type ServiceRecord,
} from '../records/index.js';
import { openDatabase, type Database } from './db.js';
import { ScanWriter, type RebuiltHosts } from './writer.js';

export { openDatabase, openForReading, isReadOnlyRefusal, query, scalar, type Database, type QueryResult } from './db.js';
export { SCHEMA_SQL, TABLES, STATE_RANK_SQL, type TableName } from './schema.js';
export { ScanWriter, type RebuiltHosts } from './writer.js';
export { findResumable, finishedRanges, storedRecords, type ResumableScan } from './resume.js';
export {
  importFile, parseNmapXml, parseMasscanJson, parseMasscanList, parsePrtipJson, parsePrtipJsonLines, detectImportFormat, IMPORT_FORMATS,
  type ImportFormat, type ImportOptions,
} from './import.js';
export { diffScans, resolveScanId, type ScanDiff } from './diff.js';
export { exportParquet } from './export.js';
export { writeShardParquet, verifyShard, unionShards, type ShardFile, type ShardManifest, type UnionScan } from './shard-parquet.js';

export interface StoreOptions {
  /** DuckDB file (created when absent). */
  path: string;
  /** Where the rows came from: prtip, nmap-xml, masscan-json. */
  source?: string;
  /** prtip scan's argv, kept so --resume can re-create the plan. */
  argv?: string[];
  /** Continue this existing scan (its rows get this id) instead of adding a new one. */
  resumeScanId?: string;
  /** Commit at least this often, ms (default 1000). */
  checkpointMs?: number;
  /** … or after this many rows (default 100000). */
  checkpointRows?: number;
  /** An already-open database (the store stage then leaves it open, unless closeDb). */
  db?: Database;
  /**
   * Close `db` as soon as the scan is stored (prtip scan's own database): DuckDB's shutdown then
   * happens before the outputs' last line, not between "prtip done" and the exit.
   */
  closeDb?: boolean;
  /** A resumed scan's -Pn/-R, for the host rows it rebuilds from port rows. */
  rebuiltHosts?: RebuiltHosts;
}

export const STORE_DEFAULTS = { checkpointMs: 1000, checkpointRows: 100_000 };

export function storeRecords(opts: StoreOptions) {
  return async function* store(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const db = opts.db ?? (await openDatabase(opts.path));
    const everyMs = opts.checkpointMs ?? STORE_DEFAULTS.checkpointMs;
    const everyRows = opts.checkpointRows ?? STORE_DEFAULTS.checkpointRows;
    let writer: ScanWriter | undefined;
    let trailer: EndTrailer | undefined;
    let lastCommit = Date.now();
    let rowsAtCommit = 0;
    // A checkpoint starts a commit and goes on: port rows keep arriving while DuckDB commits (the
    // writer queues their chunks for the next transaction); other rows wait for it (ScanWriter).
    const checkpoint = (): void => {
      if (!writer || writer.busy) return;
      lastCommit = Date.now();
      rowsAtCommit = writer.rows;
      void writer.startCommit().then(armClock, () => {}); // a failure surfaces at writer.idle()
    };
    const it = source[Symbol.asyncIterator]();
    // Commit on a timer too: quiet stretches (-sV on slow services, -T0/-T1) must not leave what
    // arrived before them uncommitted. One timer per commit, not per record: it commits only while
    // the loop waits for the next record (the writer is idle then); while records flow, the loop's
    // own check after each record commits on time. (Racing every record's wait against one clock
    // promise instead costs a promise and a reaction per record.)
    let waiting = false;
    let clockTimer: NodeJS.Timeout | undefined;
    const onClock = () => {
      clockTimer = undefined;
      if (!writer || writer.busy) return;
      if (!waiting) return armClock(); // the loop is inside a record: its own check commits
      if (writer.rows === rowsAtCommit) {
        lastCommit = Date.now();
        return armClock();
      }
      checkpoint();
    };
    const armClock = () => {
      clearTimeout(clockTimer);
      clockTimer = setTimeout(onClock, Math.max(1, everyMs - (Date.now() - lastCommit)));
      clockTimer.unref();
    };
    try {
      for (;;) {
        waiting = true;
        let next: IteratorResult<AnyRecord>;
        try {
          next = await it.next();
        } finally {
          waiting = false;
        }
        if (next.done) break;
        const rec = next.value;
        if (rec.type === 'scan' && !writer) {
          const header = rec as ScanHeader;
          const w = new ScanWriter(db.conn, opts.resumeScanId ?? header.scanId);
          if (opts.resumeScanId) {
            await w.checkResumedPlan(header); // before send has taken a single probe batch
            await w.markResumed();
          }
          else await w.insertScan(header, opts.source ?? 'prtip', opts.argv);
          writer = w; // only now: a refused header must not touch the scan already stored
          await writer.begin();
          lastCommit = Date.now();
          armClock();
        } else if (rec.type === 'end') {
          trailer = rec as EndTrailer;
        } else if (writer) {
          switch (rec.type) {
            case 'port':
              writer.port(rec as PortRecord);
              // At most one checkpoint's worth of rows is taken while a commit runs (bounded memory,
              // and a SIGKILL loses at most the running commit and the rows after it).
              if (writer.busy && writer.rows - rowsAtCommit >= everyRows) await writer.idle();
              break;
            case 'host': await writer.host(rec as HostRecord); break;
            case 'service': await writer.service(rec as ServiceRecord); break;
            case 'os': await writer.os(rec as OsRecord); break;
            case 'script': await writer.script(rec as ScriptRecord); break;
            case 'trace': await writer.trace(rec as TraceRecord); break;
            case 'progress': await writer.progress(rec as ProgressRecord); break;
            default: break;
          }
          if (writer.rows - rowsAtCommit >= everyRows || Date.now() - lastCommit >= everyMs) checkpoint();
        }
        waiting = true; // from here to the next record (downstream's pull included) the writer is idle
        yield rec;
      }
    } finally {
      clearTimeout(clockTimer);
      await it.return?.();
      // Upstream failure or a consumer that stopped early: what arrived is still committed.
      if (writer) {
        await writer.close();
        if (opts.resumeScanId && trailer && !trailer.interrupted) await writer.reconcile(opts.rebuiltHosts);
        await writer.finishScan(trailer);
        await db.conn.run('CHECKPOINT');
      }
      if (!opts.db || opts.closeDb) db.close();
    }
  };
}

export function createStoreStage(opts: StoreOptions): Duplex {
  return stageStream(storeRecords(opts));
}
