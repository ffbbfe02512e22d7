import {
  DuckDBTimestampMillisecondsValue, LIST, VARCHAR, listValue, type DuckDBAppender, type DuckDBConnection, type DuckDBDataChunk,
} from '@duckdb/node-api';
import { UserInputError, type EndTrailer, type HostRecord, type OsRecord, type PortRecord, type ProgressRecord, type ScanHeader, type ScriptRecord, type ServiceRecord, type TraceRecord } from '../records/index.js';
import { PortChunkBuilder } from './port-chunk.js';
import { STATE_RANK_SQL } from './schema.js';

const VARCHAR_LIST = LIST(VARCHAR);

function ts(ms: number): DuckDBTimestampMillisecondsValue {
  return new DuckDBTimestampMillisecondsValue(BigInt(Math.round(ms)));
}

/** How a resumed scan rebuilds the host rows its killed run never wrote (they come at a scan's end). */
export interface RebuiltHosts {
  /** -Pn: every host is up, reason user-set. */
  assumeUp?: boolean;
  /** -R: the name of an up host. */
  hostname?: (ip: string) => Promise<string | undefined>;
}

/**
 * Appends one scan's rows with DuckDB appenders inside a transaction. A commit runs on DuckDB's
 * threads while port rows keep filling data chunks here: the chunks that fill up meanwhile wait in
 * `queued` and go into the next transaction the moment it begins (a scan's port rows are most of
 * its rows, so the commit's cost hides behind theirs). Every other kind of row, and progress above
 * all, waits for `idle()` first: a batch's progress row lands in the same transaction as its port
 * rows, or a later one, never an earlier one.
 */
export class ScanWriter {
  private readonly appenders = new Map<string, DuckDBAppender>();
  private inTransaction = false;
  private readonly portRows: PortChunkBuilder;
  private portAppender: DuckDBAppender | undefined;
  private committing: Promise<void> | undefined;
  private failure: unknown;
  private queued: DuckDBDataChunk[] = [];
  rows = 0;

  constructor(private readonly conn: DuckDBConnection, readonly scanId: string) {
    this.portRows = new PortChunkBuilder(scanId);
  }

  private async appender(table: string): Promise<DuckDBAppender> {
    let a = this.appenders.get(table);
    if (!a) {
      a = await this.conn.createAppender(table);
      this.appenders.set(table, a);
    }
    return a;
  }

  async begin(): Promise<void> {
    await this.idle();
    this.portAppender ??= await this.appender('ports');
    if (this.inTransaction) return;
    await this.conn.run('BEGIN TRANSACTION');
    this.inTransaction = true;
  }

  /** Whether a commit is running (only port rows may be added meanwhile). */
  get busy(): boolean {
    return this.committing !== undefined;
  }

  /** Resolves when no commit is running; rejects if the last one failed. */
  async idle(): Promise<void> {
    if (this.committing) await this.committing;
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Starts a commit of everything appended so far (the checkpoint a killed scan falls back to) and
   * the next transaction after it; resolves when both are done. Port rows may be added meanwhile.
   */
  startCommit(): Promise<void> {
    if (this.committing) return this.committing;
    if (this.failure !== undefined) return Promise.reject(this.failure);
    this.flushPortsNow();
    for (const a of this.appenders.values()) a.flushSync();
    if (!this.inTransaction) return Promise.resolve();
    this.committing = (async () => {
      try {
        await this.conn.run('COMMIT');
        this.inTransaction = false;
        await this.conn.run('BEGIN TRANSACTION');
        this.inTransaction = true;
        const queued = this.queued;
        this.queued = [];
        for (const c of queued) this.portAppender!.appendDataChunk(c);
      } catch (err) {
        this.failure = err;
        throw err;
      } finally {
        this.committing = undefined;
      }
    })();
    this.committing.catch(() => {}); // observed through idle()
    return this.committing;
  }

  /** Commits and waits: every row added so far is durable. */
  async commit(): Promise<void> {
    await this.idle();
    await this.startCommit();
    await this.idle();
  }

  async close(): Promise<void> {
    await this.commit();
    // After the last commit nothing is open: leave no empty transaction behind.
    if (this.inTransaction) await this.conn.run('COMMIT');
    this.inTransaction = false;
    for (const a of this.appenders.values()) a.closeSync();
    this.appenders.clear();
  }

  private str(a: DuckDBAppender, v: string | undefined | null): void {
    if (v === undefined || v === null) a.appendNull();
    else a.appendVarchar(v);
  }

  private int(a: DuckDBAppender, v: number | undefined | null): void {
    if (v === undefined || v === null || !Number.isFinite(v)) a.appendNull();
    else a.appendInteger(Math.round(v));
  }

  /** An ISO 8601 time (a certificate's validity bound); NULL when absent or unparseable. */
  private time(a: DuckDBAppender, iso: string | undefined): void {
    const ms = iso === undefined ? NaN : Date.parse(iso);
    if (Number.isFinite(ms)) a.appendTimestampMilliseconds(ts(ms));
    else a.appendNull();
  }

  private list(a: DuckDBAppender, v: string[] | undefined): void {
    if (!v) a.appendNull();
    else a.appendList(listValue(v.map(String)), VARCHAR_LIST);
  }

  /**
   * Port rows (the hot path) fill a data chunk's column buffers in place (port-chunk.ts) and are
   * appended 2048 rows at a time: a few native calls per chunk instead of one per value. Allowed
   * while a commit runs (the full chunks then wait for the next transaction).
   */
  port(r: PortRecord): void {
    if (this.failure !== undefined) throw this.failure;
    this.portRows.add(r);
    this.rows++;
    if (this.portRows.full) this.flushPortsNow();
  }

  /** The port rows added so far go to the appender (or wait for the running commit's end). */
  private flushPortsNow(): void {
    const chunk = this.portRows.take();
    if (!chunk) return;
    if (this.committing) {
      this.queued.push(chunk);
    } else this.portAppender!.appendDataChunk(chunk);
  }

  async host(r: HostRecord): Promise<void> {
    await this.idle();
    const a = await this.appender('hosts');
    a.appendVarchar(this.scanId);
    a.appendVarchar(r.ip);
    this.str(a, r.state);
    this.str(a, r.reason);
    this.str(a, r.hostname);
    a.appendTimestampMilliseconds(ts(r.time));
    a.endRow();
    this.rows++;
  }

  async service(r: ServiceRecord): Promise<void> {
    await this.idle();
    const a = await this.appender('services');
    a.appendVarchar(this.scanId);
    a.appendVarchar(r.ip);
    a.appendInteger(r.port);
    a.appendVarchar(r.proto);
    this.str(a, r.name);
    this.str(a, r.product);
    this.str(a, r.version);
    this.str(a, r.extrainfo);
    this.list(a, r.cpe);
    this.str(a, r.method);
    this.int(a, r.conf);
    this.str(a, r.banner);
    this.str(a, r.tunnel);
    const c = r.cert;
    this.str(a, c?.subject);
    this.str(a, c?.issuer);
    this.list(a, c?.sans);
    this.time(a, c?.notBefore);
    this.time(a, c?.notAfter);
    this.str(a, c?.sha256);
    this.str(a, c ? JSON.stringify(c) : undefined);
    this.str(a, r.servicefp);
    a.endRow();
    this.rows++;
  }

  async os(r: OsRecord): Promise<void> {
    await this.idle();
    if (r.fingerprint !== undefined || r.noMatchReason !== undefined) {
      const f = await this.appender('os_fingerprints');
      f.appendVarchar(this.scanId);
      f.appendVarchar(r.ip);
      this.str(f, r.fingerprint);
      this.str(f, r.noMatchReason);
      f.endRow();
      this.rows++;
    }
    const a = await this.appender('os_matches');
    let rank = 0;
    for (const m of r.matches) {
      a.appendVarchar(this.scanId);
      a.appendVarchar(r.ip);
      a.appendInteger(rank++);
      this.str(a, m.name);
      this.int(a, m.accuracy);
      this.str(a, m.vendor);
      this.str(a, m.osfamily);
      this.str(a, m.osgen);
      this.str(a, m.devicetype);
      this.list(a, m.cpe);
      a.endRow();
      this.rows++;
    }
  }

  async trace(r: TraceRecord): Promise<void> {
    await this.idle();
    const a = await this.appender('hops');
    for (const h of r.hops) {
      a.appendVarchar(this.scanId);
      a.appendVarchar(r.ip);
      a.appendInteger(h.ttl);
      this.str(a, h.ip);
      if (h.rtt === undefined || h.rtt === null) a.appendNull();
      else a.appendDouble(h.rtt);
      this.str(a, h.host);
      this.int(a, r.port);
      this.str(a, r.proto);
      a.endRow();
      this.rows++;
    }
  }

  async script(r: ScriptRecord): Promise<void> {
    await this.idle();
    const a = await this.appender('scripts');
    a.appendVarchar(this.scanId);
    this.str(a, r.ip);
    this.int(a, r.port);
    this.str(a, r.proto);
    a.appendVarchar(r.id);
    this.str(a, r.scope);
    this.str(a, r.output);
    this.str(a, r.elements ? JSON.stringify(r.elements) : undefined);
    a.endRow();
    this.rows++;
  }

  async progress(r: ProgressRecord): Promise<void> {
    await this.idle(); // after the running commit: never in an earlier transaction than the ports before it
    const a = await this.appender('progress');
    a.appendVarchar(this.scanId);
    a.appendBigInt(BigInt(r.start));
    a.appendInteger(r.count);
    a.endRow();
    this.rows++;
  }

  /** The scans row, written (and committed) when the header arrives, so --resume can find it. */
  async insertScan(h: ScanHeader, source: string, argv: string[] | undefined): Promise<void> {
    const plan = h.plan;
    const exists = await this.conn.runAndReadAll('SELECT count(*) FROM scans WHERE scan_id = $1', [this.scanId]);
    if (Number(exists.getRows()[0]![0]) > 0) {
      throw new UserInputError(`scan ${this.scanId} is already in the database; a record stream is stored once (or use prtip scan --resume)`);
    }
    await this.conn.run(
      `INSERT INTO scans (scan_id, source, tool, version, args, argv, start_time, status, seed, planned_hosts, planned_probes,
         ports_tcp, ports_udp, ports_sctp, plan_fingerprint) VALUES ($1, $2, $3, $4, $5, $6, epoch_ms($7::BIGINT), 'running', $8, $9, $10, $11, $12, $13, $14)`,
      [
        this.scanId, source, h.tool ?? null, h.version ?? null, h.args.join(' | '), argv ? JSON.stringify(argv) : null, h.startTime,
        plan ? plan.seed : null, plan ? plan.hosts : null, plan ? plan.shardProbes : null,
        plan?.ports.tcp ?? null, plan?.ports.udp ?? null, plan?.ports.sctp ?? null, plan?.fingerprint ?? null,
      ] as never,
    );
  }

  /**
   * Before a resumed scan probes anything: the re-created plan must be the stored one, else the
   * stored progress would skip positions that now mean other probes. Says what changed.
   */
  async checkResumedPlan(h: ScanHeader): Promise<void> {
    const r = await this.conn.runAndReadAll(
      'SELECT planned_hosts, planned_probes, ports_tcp, ports_udp, ports_sctp, plan_fingerprint FROM scans WHERE scan_id = $1', [this.scanId]);
    const row = r.getRows()[0];
    if (!row) throw new UserInputError(`scan ${this.scanId} is not in the database; nothing to resume`);
    const [hosts, probes, tcp, udp, sctp, fingerprint] = row.map((v) => (v === null ? null : String(v)));
    const plan = h.plan;
    if (!plan) throw new UserInputError(`cannot resume scan ${this.scanId}: the re-created scan has no plan to compare with the stored one`);
    const diffs: string[] = [];
    if (hosts !== null && Number(hosts) !== plan.hosts) diffs.push(`${hosts} hosts then, ${plan.hosts} now`);
    if (probes !== null && Number(probes) !== plan.shardProbes) diffs.push(`${probes} probes then, ${plan.shardProbes} now`);
    const ports = (a: string | null, b: string) => a !== null && a !== b;
    if (ports(tcp, plan.ports.tcp) || ports(udp, plan.ports.udp) || ports(sctp, plan.ports.sctp)) diffs.push('the port list changed (nmap-services or --datadir?)');
    if (diffs.length === 0 && fingerprint !== null && fingerprint !== plan.fingerprint) {
      diffs.push('the expanded target list differs (a hostname resolving elsewhere, a changed -iL or --excludefile file, or -iL -)');
    }
    if (diffs.length > 0) {
      throw new UserInputError(`cannot resume scan ${this.scanId}: its plan re-created today is not the stored one (${diffs.join('; ')}); start a new scan instead`);
    }
  }

  async markResumed(): Promise<void> {
    await this.conn.run(`UPDATE scans SET status = 'running', resumed = resumed + 1 WHERE scan_id = $1`, [this.scanId]);
  }

  async finishScan(t: EndTrailer | undefined): Promise<void> {
    await this.conn.run(
      `UPDATE scans SET end_time = epoch_ms($2::BIGINT), status = $3, counters = $4 WHERE scan_id = $1`,
      [this.scanId, t?.endTime ?? Date.now(), !t || t.interrupted ? 'interrupted' : 'complete', JSON.stringify(t?.counters ?? {})] as never,
    );
  }

  /**
   * After a resumed scan: batches that were probed but not yet checkpointed as done were probed
   * again, and each run reported the hosts it saw. Keep one row per port (by the merge
   * precedence, then the latest), one service per port (probed over table, higher confidence,
   * then the latest), one OS guess list and fingerprint per host (the latest run's), one row per host (up wins),
   * and add the hosts only the ports show — up with reason user-set under -Pn, named under -R.
   */
  async reconcile(hosts: RebuiltHosts = {}): Promise<void> {
    const id = [this.scanId];
    await this.conn.run(
      `DELETE FROM services WHERE scan_id = $1 AND rowid NOT IN (
         SELECT rowid FROM services WHERE scan_id = $1
         QUALIFY row_number() OVER (PARTITION BY ip, port, proto ORDER BY CASE method WHEN 'probed' THEN 0 ELSE 1 END,
           coalesce(conf, 0) DESC, rowid DESC) = 1)`, id);
    // OS rows come as one list per host (ranks 0..n-1): keep the list of the newest row's run.
    await this.conn.run(
      `DELETE FROM os_matches WHERE scan_id = $1 AND rowid NOT IN (
         SELECT o.rowid FROM os_matches o JOIN (
           SELECT ip, max(rowid) AS last FROM os_matches WHERE scan_id = $1 AND rank = 0 GROUP BY ip) l
         ON o.ip = l.ip WHERE o.scan_id = $1 AND o.rowid >= l.last
         QUALIFY row_number() OVER (PARTITION BY o.ip, o.rank ORDER BY o.rowid) = 1)`, id);
    await this.conn.run(
      `DELETE FROM os_fingerprints WHERE scan_id = $1 AND rowid NOT IN (
         SELECT rowid FROM os_fingerprints WHERE scan_id = $1 QUALIFY row_number() OVER (PARTITION BY ip ORDER BY rowid DESC) = 1)`, id);
    await this.conn.run(
      `DELETE FROM ports WHERE scan_id = $1 AND rowid NOT IN (
         SELECT rowid FROM ports WHERE scan_id = $1
         QUALIFY row_number() OVER (PARTITION BY ip, port, proto ORDER BY ${STATE_RANK_SQL}, time DESC, rowid DESC) = 1)`, id);
    await this.conn.run(
      `DELETE FROM hosts WHERE scan_id = $1 AND rowid NOT IN (
         SELECT rowid FROM hosts WHERE scan_id = $1
         QUALIFY row_number() OVER (PARTITION BY ip ORDER BY CASE state WHEN 'up' THEN 0 WHEN 'unknown' THEN 1 ELSE 2 END, time DESC, rowid DESC) = 1)`, id);
    const rebuilt = await this.conn.runAndReadAll(
      `INSERT INTO hosts SELECT scan_id, ip,
         CASE WHEN $2 OR bool_or(state IN ('open', 'closed', 'unfiltered')) THEN 'up' ELSE 'down' END,
         CASE WHEN $2 THEN 'user-set' ELSE coalesce(min(reason) FILTER (WHERE state IN ('open', 'closed', 'unfiltered')), 'no-response') END,
         NULL, max(time)
       FROM ports p WHERE scan_id = $1 AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.scan_id = p.scan_id AND h.ip = p.ip)
       GROUP BY scan_id, ip RETURNING ip, state`, [this.scanId, hosts.assumeUp === true]);
    // A host first seen down in one run and answering in the other is up.
    await this.conn.run(
      `UPDATE hosts SET state = 'up', reason = (SELECT min(p.reason) FROM ports p WHERE p.scan_id = hosts.scan_id AND p.ip = hosts.ip AND p.state IN ('open','closed','unfiltered'))
       WHERE scan_id = $1 AND state = 'down' AND EXISTS (SELECT 1 FROM ports p WHERE p.scan_id = hosts.scan_id AND p.ip = hosts.ip AND p.state IN ('open','closed','unfiltered'))`, id);
    if (hosts.hostname) {
      const resolve = hosts.hostname;
      const up = (rebuilt.getRows() as Array<[string, string]>).filter(([, state]) => state === 'up').map(([ip]) => ip);
      for (let k = 0; k < up.length; k += 32) {
        const named = await Promise.all(up.slice(k, k + 32).map(async (ip) => [ip, await resolve(ip)] as const));
        for (const [ip, name] of named) {
          if (name) await this.conn.run('UPDATE hosts SET hostname = $3 WHERE scan_id = $1 AND ip = $2', [this.scanId, ip, name]);
        }
      }
    }
  }
}
