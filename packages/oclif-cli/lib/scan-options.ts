/**
 * The words after `prtip scan` → the scan pipeline's options. One function for every caller
 * (the CLI's scan and demo commands, `prtip serve`, the TUI), so a scan started from the web API
 * is the same scan, refused for the same reasons with the same messages.
 */
import type { ScanPipelineOptions } from '../../../pipelines/scan.js';
import { DEFAULT_UNPRIVILEGED_USER, runningAsRoot } from '../../../pipelines/privilege.js';
import type { OutputRequest } from '../../../stages/format/index.js';
import { UserInputError, type AnyRecord, type PacketTrace } from '../../../stages/records/index.js';
import type { Database } from '../../../stages/store/index.js';
import { parseArgs, type CliOptions, type FlagGroup } from './flags.js';
import { discoverOptions, refuseDiscoveryConflicts } from './discover-options.js';
import { scanTypeByName } from '../../../stages/probes/index.js';
import { detectOptions, dnsOptions, formatOptions, osOptions, traceOptions, refuseOsFlagsWithoutO, scanProtocols, scriptOptions, sendOptions, targetsOptions } from './stage-options.js';

export const SCAN_GROUPS: FlagGroup[] = ['targets', 'ports', 'scan', 'evasion', 'discovery', 'version', 'os', 'script', 'timing', 'output', 'database', 'interaction', 'privilege', 'misc'];

/** Parses and checks a scan's words (what `prtip scan` would be given). */
export function parseScanArgs(argv: string[]): CliOptions {
  const o = parseArgs(argv, SCAN_GROUPS, 'scan', true);
  checkScanOptions(o);
  return o;
}

export function checkScanOptions(o: CliOptions): void {
  if (o.versionIntensity !== undefined && !o.versionDetect) {
    throw new UserInputError('--version-intensity, --version-light and --version-all set how -sV probes: add -sV');
  }
  refuseOsFlagsWithoutO(o);
  refuseDiscoveryConflicts(o);
  const protocols = scanProtocols(o);
  if (o.ports !== undefined && /(^|,)\s*S:/i.test(o.ports) && !protocols.includes('sctp')) {
    throw new UserInputError(`-p "${o.ports}" asks for SCTP ports: add -sY (SCTP INIT scan) or -sZ to probe them`);
  }
  if (o.ports !== undefined && /(^|,)\s*U:/i.test(o.ports) && !protocols.includes('udp')) {
    throw new UserInputError(`-p "${o.ports}" asks for UDP ports: add -sU (UDP scan) to probe them`);
  }
}

/**
 * How often stages emit status records: every second for a live display (terminal line, TUI,
 * web), else every --stats-every, else (-v) every 10 s as nmap does, else never.
 */
export function statusInterval(o: CliOptions, live: boolean): number | undefined {
  const stats = o.statsEveryMs ?? (o.verbose > 0 ? 10_000 : undefined);
  if (live) return Math.min(1000, stats ?? 1000);
  return stats;
}

export interface ScanContext {
  /** The command line recorded in the header. */
  args: string[];
  /** The argv stored with --db (what --resume re-parses). */
  argv: string[];
  signal: AbortSignal;
  warn: (message: string) => void;
  outputs: OutputRequest[];
  /** An open database for --db (the store stage leaves it open). */
  db?: Database;
  /** The store closes `db` once the scan is stored (prtip scan: before "prtip done", not after). */
  closeDb?: boolean;
  statusEveryMs?: number;
  observe?: (rec: AnyRecord) => void;
  resume?: { scanId: string; skip: Array<[number, number]>; prior: AnyRecord[] };
  /** --packet-trace lines (and the p/P keys). */
  packetTrace?: PacketTrace;
  /** False where the process dropped already (prtip serve drops once, at start-up). */
  privilegeDrop?: false;
}

/** -sL lists targets and sends them nothing: the options that would scan them are refused, not ignored. */
function checkListScan(o: CliOptions): void {
  const scanning = [
    ...o.scanTypes.map((t) => scanTypeByName(t)?.flag ?? t), o.versionDetect && '-sV', o.osDetect && '-O', o.scripts !== undefined && '-sC/--script',
    o.traceroute && '--traceroute', o.assumeUp && '-Pn', o.ports !== undefined && '-p', o.fast && '-F', o.topPorts !== undefined && '--top-ports',
    o.resume !== undefined && '--resume',
  ].filter(Boolean);
  if (scanning.length > 0) throw new UserInputError(`-sL (list scan) sends nothing to the targets: it cannot take ${scanning.join(', ')}`);
}

export function scanPipelineOptions(o: CliOptions, ctx: ScanContext): ScanPipelineOptions {
  if (o.listScan) checkListScan(o);
  if (o.unprivilegedUser !== undefined && !runningAsRoot()) {
    ctx.warn(`--unprivileged-user ${o.unprivilegedUser}: prtip is not running as root (uid ${process.getuid?.() ?? '?'}), so there is nothing to drop`);
  }
  const targets = targetsOptions(o, ctx.args, ctx.signal);
  if (o.listScan) {
    // One entry per host, in address order: the list scan needs hosts, not ports.
    targets.ports = '0';
    targets.sequential = true;
  }
  if (ctx.resume) targets.skip = ctx.resume.skip;
  const discover = discoverOptions(o, [], ctx.signal, ctx.warn);
  // -sn: one probe per host is all discovery needs from the plan (its header then says no ports).
  if (o.pingOnly) targets.ports = '80';
  const send = sendOptions(o, [], ctx.signal, ctx.warn);
  send.statusEveryMs = ctx.statusEveryMs;
  send.packetTrace = ctx.packetTrace;
  const detect = o.versionDetect ? detectOptions(o, [], ctx.signal, ctx.warn) : undefined;
  if (detect) detect.statusEveryMs = ctx.statusEveryMs;
  return {
    targets,
    discover,
    send,
    format: formatOptions(o, ctx.outputs),
    ...(o.listScan ? { list: { reverseDns: o.noDns !== true, dns: dnsOptions(o), signal: ctx.signal } } : {}),
    detect,
    os: o.osDetect ? osOptions(o, [], ctx.signal, ctx.warn) : undefined,
    ...(o.traceroute && !o.listScan ? { trace: traceOptions(o, [], ctx.signal, ctx.warn) } : {}),
    script: o.scripts !== undefined ? scriptOptions(o, [], ctx.signal, ctx.warn) : undefined,
    store: o.db ? { path: o.db, db: ctx.db, closeDb: ctx.closeDb, argv: ctx.argv, resumeScanId: ctx.resume?.scanId } : undefined,
    observe: ctx.observe,
    prior: ctx.resume?.prior,
    ...(ctx.privilegeDrop === false ? {} : { privilege: { user: o.unprivilegedUser ?? DEFAULT_UNPRIVILEGED_USER } }),
  };
}
