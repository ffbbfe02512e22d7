/** Maps parsed command-line options onto each stage's options: the CLI's only policy. */
import fs from 'node:fs';
import type { FormatOptions, OutputRequest } from '../../../stages/format/index.js';
import { UserInputError, type Proto } from '../../../stages/records/index.js';
import { SEND_DEFAULTS, type SendOptions } from '../../../stages/send/index.js';
import type { TargetsOptions } from '../../../stages/targets/index.js';
import type { DetectOptions } from '../../../stages/detect/index.js';
import type { ScriptOptions } from '../../../stages/script/index.js';
import { loadServicesTable } from '../../../stages/datafiles/index.js';
import type { CliOptions } from './flags.js';
import { loadNative } from '../../../native/index.js';

export function targetsOptions(o: CliOptions, args: string[], signal: AbortSignal): TargetsOptions {
  if (o.targets.length === 0 && o.inputFiles.length === 0) {
    throw new UserInputError('no targets given: name hosts or networks (198.18.0.0/24, host.example) or use -iL FILE');
  }
  return {
    specs: o.targets,
    inputFiles: o.inputFiles,
    stdin: process.stdin,
    exclude: o.exclude,
    excludeFiles: o.excludeFiles,
    ports: o.ports,
    fast: o.fast,
    topPorts: o.topPorts,
    family: o.family,
    seed: o.seed,
    batchSize: o.batchSize,
    shard: o.shard,
    sequential: o.sequential,
    datadir: o.datadir,
    args,
    signal,
  };
}

/** nmap's timing templates, as they apply to a connect scan: [parallelism, timeout ms, retries, rate]. */
const TIMING: ReadonlyArray<{ maxParallelism: number; timeoutMs: number; maxRetries: number; maxRate?: number }> = [
  { maxParallelism: 1, timeoutMs: 5000, maxRetries: 1, maxRate: 1 / 300 }, // paranoid: one probe per 5 minutes
  { maxParallelism: 1, timeoutMs: 5000, maxRetries: 1, maxRate: 1 / 15 }, // sneaky: one per 15 s
  { maxParallelism: 8, timeoutMs: 2000, maxRetries: 1, maxRate: 2.5 }, // polite: 0.4 s apart
  { maxParallelism: SEND_DEFAULTS.maxParallelism, timeoutMs: SEND_DEFAULTS.timeoutMs, maxRetries: SEND_DEFAULTS.maxRetries },
  { maxParallelism: 512, timeoutMs: 500, maxRetries: 1 },
  { maxParallelism: 1024, timeoutMs: 250, maxRetries: 0 },
];

/** The soft limit on open files: parallel connects beyond it would only fail with EMFILE. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when this process may send raw packets (root or CAP_NET_RAW) and the native engine is
 * built; false without the privilege; the reason when the engine itself is missing (no libpcap
 * at build time), which root cannot fix.
 */
export function canSendRaw(load: () => { hasRawAccess(): boolean } = loadNative): boolean | string {
  try {
    return load().hasRawAccess();
  } catch (err) {
    const m = /^prtip's native engine is not built \((.*?): /.exec((err as Error).message);
    return `-sS needs prtip's native engine, which is not built${m ? ` (${m[1]} is missing)` : ''}: install libpcap-dev and run "npm run build"`;
  }
}

/** nmap's timing templates for the SYN scan: initial, min and max probe timeout (ms), retries. */
const SYN_TIMING: ReadonlyArray<{ initial: number; min: number; max: number; retries: number; maxRate?: number }> = [
  { initial: 300_000, min: 100, max: 300_000, retries: 3, maxRate: 1 / 300 },
  { initial: 15_000, min: 100, max: 15_000, retries: 3, maxRate: 1 / 15 },
  { initial: 1000, min: 100, max: 10_000, retries: 3, maxRate: 2.5 },
  { initial: 1000, min: 100, max: 10_000, retries: 3 },
  // Faster templates lower the floor of the adapted timeout: on a LAN the measured RTT is far
  // below it, and a retry that comes too early only costs a duplicate the bitmap drops.
  { initial: 500, min: 50, max: 1250, retries: 3 },
  { initial: 250, min: 25, max: 300, retries: 2 },
];

/** Names of this machine's loopback: raw frames cannot reach the local stack (see SynScanner). */
const LOOPBACK_TARGET = /^(localhost|127(\.\d{1,3}){0,3}(\/\d+)?|::1|0*:(0*:){0,6}0*1)$/i;

/**
 * Which scan type runs: the one asked for, else -sS when privileged, else -sT (with a notice if
 * -sS was asked). Without a choice, a scan of loopback only is a connect scan, as it must be.
 */
export function chooseScanType(o: CliOptions, onWarning: (m: string) => void, rawAllowed: () => boolean | string = canSendRaw): 'syn' | 'connect' {
  if (o.scanTypes.length > 1) throw new UserInputError(`only one scan type at a time for now, got ${o.scanTypes.join(' and ')}`);
  const asked = o.scanTypes[0];
  if (asked === 'connect') return 'connect';
  const loopbackOnly = o.inputFiles.length === 0 && o.targets.length > 0 && o.targets.every((t) => LOOPBACK_TARGET.test(t));
  if (asked === undefined && loopbackOnly) return 'connect';
  const raw = rawAllowed();
  if (raw === true) return 'syn';
  if (asked === 'syn') onWarning(`${typeof raw === 'string' ? raw : '-sS needs root or CAP_NET_RAW'}; running a connect scan (-sT) instead`);
  return 'connect';
}

export function sendOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void, rawAllowed?: () => boolean | string): SendOptions {
  const scanType = chooseScanType(o, onWarning, rawAllowed);
  if (o.minRate !== undefined && o.maxRate !== undefined && o.minRate > o.maxRate) {
    throw new UserInputError(`--min-rate ${o.minRate} is above --max-rate ${o.maxRate}`);
  }
  if (scanType === 'syn') return synSendOptions(o, args, signal, onWarning);
  const synOnly = [
    o.minRate !== undefined && '--min-rate', o.waitMs !== undefined && '--wait', o.iface !== undefined && '-e',
    o.sourceAddress !== undefined && '-S', o.sourcePort !== undefined && '-g',
  ].filter(Boolean);
  if (synOnly.length > 0) {
    throw new UserInputError(`${synOnly.join(', ')} ${synOnly.length > 1 ? 'apply' : 'applies'} to the SYN scan (-sS) only; the connect scan (-sT) uses kernel sockets`);
  }
  const t = TIMING[o.timing ?? 3]!;
  let maxParallelism = o.maxParallelism ?? t.maxParallelism;
  const limit = openFileLimit();
  if (limit !== undefined && maxParallelism > limit - 64) {
    const capped = Math.max(1, limit - 64);
    if (o.maxParallelism !== undefined) onWarning(`--max-parallelism ${maxParallelism} exceeds the open-file limit (${limit}); using ${capped}`);
    maxParallelism = capped;
  }
  return {
    scanType,
    maxParallelism,
    timeoutMs: o.timeoutMs ?? t.timeoutMs,
    maxRetries: o.maxRetries ?? t.maxRetries,
    maxRate: o.maxRate ?? t.maxRate,
    assumeUp: o.assumeUp,
    reverseDns: o.reverseDns,
    args,
    signal,
    onWarning,
  };
}

function synSendOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void): SendOptions {
  if (o.maxParallelism !== undefined) {
    throw new UserInputError('--max-parallelism applies to the connect scan (-sT); the SYN scan (-sS) is paced by --max-rate/--min-rate');
  }
  const t = SYN_TIMING[o.timing ?? 3]!;
  const max = o.timeoutMs ?? t.max;
  return {
    scanType: 'syn',
    maxParallelism: SEND_DEFAULTS.maxParallelism, // unused by the SYN scan
    timeoutMs: Math.min(t.initial, max),
    minRttTimeoutMs: Math.min(t.min, max),
    maxRttTimeoutMs: max,
    maxRetries: o.maxRetries ?? t.retries,
    // --min-rate alone: the engine sends as fast as the path takes probes, which is never slower.
    maxRate: o.maxRate ?? (t.maxRate !== undefined && o.minRate !== undefined ? Math.max(t.maxRate, o.minRate) : t.maxRate),
    waitMs: o.waitMs,
    iface: o.iface,
    sourceAddress: o.sourceAddress,
    sourcePort: o.sourcePort,
    assumeUp: o.assumeUp,
    reverseDns: o.reverseDns,
    args,
    signal,
    onWarning,
  };
}

export function formatOptions(o: CliOptions, outputs: OutputRequest[]): FormatOptions {
  const services = loadServicesTable(o.datadir);
  return {
    outputs,
    view: {
      openOnly: o.openOnly,
      reason: o.reason,
      verbose: o.verbose,
      serviceName: (port, proto) => services.serviceName(port, proto as Proto),
    },
  };
}

/** -sV and friends → the detect stage. Timing templates shorten probe waits as nmap's do (-T4/-T5). */
export function detectOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void): Partial<DetectOptions> {
  const t = o.timing ?? 3;
  return {
    datadir: o.datadir,
    intensity: o.versionIntensity ?? 7,
    ...(t >= 5 ? { probeTimeoutMs: 2000 } : t === 4 ? { probeTimeoutMs: 4000 } : {}),
    args,
    signal,
    onWarning,
  };
}

/** -sC/--script and their flags → the script stage's options. */
export function scriptOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void): Partial<ScriptOptions> & Pick<ScriptOptions, 'scripts'> {
  return {
    // nmap's -sV runs the "version" category of scripts too; with scripts on, prtip does as well
    scripts: `${o.scripts ?? 'default'}${o.versionDetect ? ',version' : ''}`,
    scriptArgs: o.scriptArgs,
    scriptArgsFile: o.scriptArgsFile,
    datadir: o.datadir,
    ...(o.scriptTimeoutMs !== undefined ? { scriptTimeoutMs: o.scriptTimeoutMs } : {}),
    verbosity: o.verbose,
    debugging: o.debugging,
    trace: o.scriptTrace === true,
    timing: o.timing ?? 3,
    args,
    signal,
    onWarning,
    onLog: (line) => process.stderr.write(`${line}\n`),
  };
}
