/**
 * The CLI's half of a cluster scan: checking a submitted scan exactly as `prtip scan` checks it,
 * and running one shard as `prtip scan --shard i/N --db CHECKPOINT` would — or, when the shard's
 * checkpoint holds an unfinished run, as `prtip scan --resume CHECKPOINT` would. Both use the
 * same option mapping as prtip scan (stage-options.ts), so a shard is an ordinary scan.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runScan } from '../../../pipelines/scan.js';
import type { ShardRunner } from '../../../pipelines/cluster/worker.js';
import { UserInputError, type EndTrailer, type ScanHeader, type ScanPlan } from '../../../stages/records/index.js';
import { findResumable, finishedRanges, openDatabase, query } from '../../../stages/store/index.js';
import { planTargets } from '../../../stages/targets/index.js';
import { parseArgs, type CliOptions } from './flags.js';
import { checkScanOptions, SCAN_GROUPS } from './scan-options.js';
import { detectOptions, formatOptions, osOptions, scriptOptions, traceOptions, sendOptions, targetsOptions } from './stage-options.js';

/** Options of prtip scan that make no sense for a scan spread over workers, and what to do instead. */
export const NOT_FOR_CLUSTER: Readonly<Record<string, string>> = Object.fromEntries([
  ...['-oN', '-oX', '-oG', '-oA', '-oJ', '-oD', '-oJL', '-oC', '--csv'].map((f) => [f, 'shards write Parquet; prtip cluster collect ID --db FILE gives the database (then prtip sql, prtip db export)']),
  ['--db', 'use prtip cluster collect ID --db FILE once the shards are done'],
  ['--resume', 'a cluster scan resumes by itself: a shard a worker dropped is continued by another from its checkpoint'],
  ['--shard', '--shards N makes the shards'],
  ['--unprivileged-user', 'workers do not drop privileges yet: prtip worker runs its shards with the privileges it was started with'],
  ['--open', 'it shapes a terminal report; query the collected database instead'],
  ['--show-proxied', 'it shapes a terminal report; the collected ports table has a proxied column'],
  ['--reason', 'it shapes a terminal report; the collected ports table has a reason column'],
  ['-v', 'workers have no terminal to report on; prtip cluster status ID shows progress'],
  ['--concurrency', 'it is a worker option (prtip worker --concurrency K)'],
  ['--results', 'it is a worker option (prtip worker --results DIR)'],
  ['--stall-timeout', 'it is a worker option (prtip worker --stall-timeout TIME)'],
  ['--partial', 'it is a collect option (prtip cluster collect ID --partial)'],
  ['--tui', 'workers have no terminal; prtip cluster status ID shows progress'],
  ['--stats-every', 'workers have no terminal; prtip cluster status ID shows progress'],
  ['--packet-trace', 'workers have no terminal to trace on; run the shard yourself: prtip scan --shard I/N --packet-trace …'],
]);

/** Cluster-only options removed from a submit command line to leave the scan's own argv. */
const CLUSTER_VALUED = new Set(['--redis', '--shards']);

export function scanArgvOf(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = tok.includes('=') ? tok.slice(0, tok.indexOf('=')) : tok;
    if (CLUSTER_VALUED.has(name)) {
      if (!tok.includes('=')) i++;
      continue;
    }
    out.push(tok);
  }
  return out;
}

/**
 * Every check prtip scan makes before it sends a packet (flag table, scan checks, target and
 * port planning, send and detect options), on the submitting machine. A scan type the workers
 * choose (-sS when privileged) is checked as for a privileged scanner. Returns the whole plan.
 */
export async function checkClusterScan(o: CliOptions, argv: string[], signal: AbortSignal): Promise<ScanPlan> {
  checkScanOptions(o);
  if (o.inputFiles.includes('-')) throw new UserInputError('-iL - reads the submitter\'s stdin, which workers do not have: put the targets in a file every worker can read');
  if (o.timing !== undefined && o.timing <= 2 && o.maxRate === undefined) {
    throw new UserInputError(`-T${o.timing} paces one scanner; for a cluster give --max-rate PPS (the whole cluster's rate, split over the shards)`);
  }
  const warn = () => {};
  sendOptions(o, [], signal, warn, () => true);
  if (o.versionDetect) detectOptions(o, [], signal, warn);
  const tp = await planTargets(targetsOptions(o, [['prtip', 'scan', ...argv].join(' ')], signal));
  return tp.plan;
}

/** One shard's scan: fresh into its checkpoint database, continued from it, or already complete there. */
export const runShardScan: ShardRunner = async (job, ctx) => {
  let argv = job.argv;
  let resume: { scanId: string; skip: Array<[number, number]>; seed: number } | undefined;
  if (fs.existsSync(ctx.dbPath)) {
    const db = await openDatabase(ctx.dbPath);
    try {
      const row = (await query(db.conn, "SELECT scan_id, status FROM scans WHERE source = 'prtip' ORDER BY start_time DESC LIMIT 1")).rows[0] as [string, string] | undefined;
      if (row?.[1] === 'complete') return { scanId: row[0], interrupted: false, alreadyComplete: true };
      if (row) {
        const scan = await findResumable(db, ctx.dbPath, row[0]);
        const skip = await finishedRanges(db, scan.scanId);
        resume = { scanId: scan.scanId, skip, seed: scan.seed };
        argv = scan.argv;
        const counts = (await query(db.conn,
          `SELECT count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'closed'), count(*) FILTER (WHERE state NOT IN ('open', 'closed')),
             (SELECT count(DISTINCT ip) FROM hosts WHERE scan_id = $1 AND state = 'up') FROM ports WHERE scan_id = $1`, [scan.scanId])).rows[0] as number[];
        ctx.onResume({ done: skip.reduce((n, [a, b]) => n + b - a, 0), open: Number(counts[0]), closed: Number(counts[1]), filtered: Number(counts[2]), hostsUp: Number(counts[3]) });
      }
    } finally {
      db.close();
    }
  }
  const o = parseArgs(argv, SCAN_GROUPS, 'scan', true);
  if (resume) o.seed = resume.seed;
  checkScanOptions(o);
  if (o.listScan) throw new UserInputError('-sL (list scan) sends nothing to split among workers: run prtip -sL on one machine');
  const targets = targetsOptions(o, [['prtip', 'scan', ...argv].join(' ')], ctx.signal);
  if (resume) targets.skip = resume.skip;
  const db = await openDatabase(ctx.dbPath);
  let scanId = resume?.scanId;
  let interrupted = false;
  try {
    await runScan({
      targets,
      send: sendOptions(o, [], ctx.signal, ctx.warn),
      format: formatOptions(o, []),
      detect: o.versionDetect ? detectOptions(o, [], ctx.signal, ctx.warn) : undefined,
      os: o.osDetect ? osOptions(o, [], ctx.signal, ctx.warn) : undefined,
      ...(o.traceroute ? { trace: traceOptions(o, [], ctx.signal, ctx.warn) } : {}),
      script: o.scripts !== undefined ? scriptOptions(o, [], ctx.signal, ctx.warn) : undefined,
      store: { path: ctx.dbPath, db, argv, resumeScanId: resume?.scanId },
      observe: (rec) => {
        if (rec.type === 'scan') scanId ??= (rec as ScanHeader).scanId;
        else if (rec.type === 'end') interrupted = (rec as EndTrailer).interrupted;
        ctx.onRecord(rec);
      },
    });
  } finally {
    db.close();
  }
  if (!scanId) throw new Error('the shard scan wrote no header');
  return { scanId, interrupted };
};

/** The one positional word (the cluster scan id), with --redis required. */
export function clusterId(o: CliOptions, command: string): string {
  if (o.redis === undefined) throw new UserInputError(`prtip cluster ${command} needs --redis URL (redis://host:port or unix:///path)`);
  if (o.targets.length !== 1) throw new UserInputError(`prtip cluster ${command} takes one cluster scan id (prtip cluster submit printed it), got ${o.targets.length}`);
  return o.targets[0]!;
}

/** --results DIR or file:///DIR, as an absolute directory (created); other URL schemes are refused. */
export function resultsRoot(raw: string): string {
  let dir = raw;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    if (!raw.startsWith('file://')) {
      throw new UserInputError(`--results "${raw}": only a directory or a file:// URL (mount object storage as a directory for now)`);
    }
    dir = decodeURIComponent(new URL(raw).pathname);
  }
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UserInputError(`--results "${raw}": cannot create it: ${(err as Error).message}`);
  }
  return path.resolve(dir);
}
