/**
 * Scans started through the web API: the same words as `prtip scan`, parsed and checked by the
 * same function (scan-options.ts), run through the same pipeline, stored in the server's
 * database; their records become events (status, port, host, service, os, end) that clients
 * follow live and can replay.
 */
import { randomUUID } from 'node:crypto';
import type { DuckDBInstance } from '@duckdb/node-api';
import { scanRecords } from '../../../../pipelines/scan.js';
import {
  StatusTracker, UserInputError, type AnyRecord, type EndTrailer, type PortRecord, type ScanHeader, type StatusRecord, type StatusSummary,
} from '../../../../stages/records/index.js';
import type { Database } from '../../../../stages/store/index.js';
import { planTargets } from '../../../../stages/targets/index.js';
import type { CliOptions } from '../flags.js';
import { parseScanArgs, scanPipelineOptions } from '../scan-options.js';
import { checkAllowed, type AllowedRange } from './allow.js';

export type ScanState = 'running' | 'complete' | 'interrupted' | 'failed';

export interface ScanEvent {
  id: number;
  event: 'status' | 'port' | 'host' | 'service' | 'os' | 'end' | 'warning' | 'error';
  data: unknown;
}

/** Events kept per scan for replay: status and open ports first go when it overflows. */
const MAX_EVENTS = 20_000;

/** Options an API client cannot use: they name files on the server or belong to a terminal. */
function refuseForApi(o: CliOptions): void {
  const refused: Array<[boolean, string, string]> = [
    [o.outputs.length > 0, '-oN/-oX/-oG/-oA/-oJ/-oD/-oC', 'results go to the server\'s database; read them with GET /api/scans/ID/ports or POST /api/sql'],
    [o.db !== undefined, '--db', 'the server stores every scan in its own --db'],
    [o.resume !== undefined, '--resume', 'not available through the API'],
    [o.inputFiles.length > 0, '-iL', 'it reads a file on the server; list the targets in args'],
    [o.excludeFiles.length > 0, '--excludefile', 'it reads a file on the server; use --exclude'],
    [o.datadir !== undefined, '--datadir', 'it names a directory on the server'],
    [o.tui, '--tui', 'the dashboard is the web page'],
    [o.statsEveryMs !== undefined, '--stats-every', 'status events come every second on /api/scans/ID/events'],
    [o.packetTrace === true, '--packet-trace', 'the server has no terminal to trace on; run prtip scan --packet-trace yourself'],
  ];
  const hit = refused.find(([on]) => on);
  if (hit) throw new UserInputError(`${hit[1]} cannot be used through the API: ${hit[2]}`);
}

export class ApiScan {
  readonly events: ScanEvent[] = [];
  readonly warnings: string[] = [];
  readonly tracker = new StatusTracker();
  state: ScanState = 'running';
  error: string | undefined;
  header: ScanHeader | undefined;
  trailer: EndTrailer | undefined;
  openPorts = 0;
  readonly done: Promise<void>;
  private nextId = 1;
  private readonly listeners = new Set<() => void>();
  private resolveDone!: () => void;

  constructor(readonly id: string, readonly args: string[], readonly abort: AbortController) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  push(event: ScanEvent['event'], data: unknown): void {
    this.events.push({ id: this.nextId++, event, data });
    if (this.events.length > MAX_EVENTS) {
      const drop = this.events.findIndex((e) => e.event === 'status');
      this.events.splice(drop >= 0 ? drop : 0, 1);
    }
    for (const l of this.listeners) l();
  }

  /** Called on every new event until the returned function is called. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  observe(rec: AnyRecord): void {
    switch (rec.type) {
      case 'status':
        this.tracker.update(rec as StatusRecord);
        this.push('status', { ...this.tracker.latest(), stages: this.tracker.stages().map((s) => s.stage), openPorts: this.openPorts });
        break;
      case 'port':
        if ((rec as PortRecord).state === 'open') {
          this.openPorts++;
          this.push('port', rec);
        }
        break;
      case 'host':
        if ((rec as { state?: string }).state === 'up') this.push('host', rec);
        break;
      case 'service': case 'os':
        this.push(rec.type, rec);
        break;
      default:
        break;
    }
  }

  finish(state: ScanState, error?: string): void {
    this.state = state;
    this.error = error;
    if (error) this.push('error', { message: error });
    this.push('end', { state, counters: this.trailer?.counters ?? {}, interrupted: this.trailer?.interrupted ?? true, error });
    this.resolveDone();
  }

  /** What GET /api/scans/ID says about a scan this server runs or ran. */
  summary(): Record<string, unknown> {
    const latest: StatusSummary | undefined = this.tracker.latest();
    return {
      id: this.id,
      state: this.state,
      args: this.args,
      startTime: this.header?.startTime ?? null,
      endTime: this.trailer?.endTime ?? null,
      plan: this.header?.plan ?? null,
      scanTypes: this.header?.scanTypes ?? [],
      counters: this.trailer?.counters ?? Object.fromEntries(this.tracker.stages().map((s) => [s.stage, s.counters])),
      progress: latest ?? null,
      openPorts: this.openPorts,
      warnings: this.warnings,
      error: this.error ?? null,
    };
  }
}

export interface ScanManagerOptions {
  dbPath: string;
  instance: DuckDBInstance;
  allowed: AllowedRange[];
  /** Most scans running at once. */
  maxRunning: number;
}

export class ScanManager {
  readonly scans = new Map<string, ApiScan>();

  constructor(private readonly opts: ScanManagerOptions) {}

  running(): ApiScan[] {
    return [...this.scans.values()].filter((s) => s.state === 'running');
  }

  /** Validates and starts a scan; resolves once it has its id (its header went by). */
  async start(args: string[]): Promise<ApiScan> {
    const o = parseScanArgs(args);
    refuseForApi(o);
    if (this.running().length >= this.opts.maxRunning) {
      throw new UserInputError(`${this.opts.maxRunning} scans are running already: wait for one or DELETE it`);
    }
    o.db = this.opts.dbPath;
    const abort = new AbortController();
    const scan = new ApiScan(randomUUID(), args, abort);
    const conn = await this.opts.instance.connect();
    const db: Database = { instance: this.opts.instance, conn, close: () => conn.closeSync() };
    let records: AsyncGenerator<AnyRecord, void, undefined>;
    try {
      const pipeline = scanPipelineOptions(o, {
        args: [['prtip', 'scan', ...args].join(' ')],
        argv: args,
        signal: abort.signal,
        warn: (m) => {
          scan.warnings.push(m);
          scan.push('warning', { message: m });
        },
        outputs: [],
        db,
        statusEveryMs: 1000,
        observe: (rec) => scan.observe(rec),
        // The server dropped root once, at start-up, before its first request (commands/serve.ts).
        privilegeDrop: false,
      });
      // Planned here, once: the addresses checked are the addresses scanned.
      pipeline.plan = await planTargets(pipeline.targets);
      checkAllowed(pipeline.plan, this.opts.allowed);
      records = scanRecords(pipeline);
      const first = await records.next();
      if (first.done || first.value.type !== 'scan') throw new Error('the scan pipeline produced no header');
      scan.header = first.value as ScanHeader;
    } catch (err) {
      db.close();
      throw err;
    }
    // The store keys rows by the header's scan id: the API uses the same id.
    Object.defineProperty(scan, 'id', { value: scan.header.scanId });
    this.scans.set(scan.id, scan);
    void (async () => {
      try {
        for await (const rec of records) if (rec.type === 'end') scan.trailer = rec as EndTrailer;
        scan.finish(scan.trailer && !scan.trailer.interrupted ? 'complete' : 'interrupted');
      } catch (err) {
        scan.finish('failed', (err as Error).message.split('\n')[0]);
      } finally {
        db.close();
      }
    })();
    return scan;
  }

  /** Stops every running scan cleanly (server shutdown). */
  async stopAll(): Promise<void> {
    const running = this.running();
    for (const s of running) s.abort.abort();
    await Promise.all(running.map((s) => s.done));
  }
}
