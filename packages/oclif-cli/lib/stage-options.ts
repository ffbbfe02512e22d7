/** Maps parsed command-line options onto each stage's options: the CLI's only policy. */
import fs from 'node:fs';
import type { FormatOptions, OutputRequest } from '../../../stages/format/index.js';
import { UserInputError, type Proto } from '../../../stages/records/index.js';
import { SEND_DEFAULTS, type SendOptions } from '../../../stages/send/index.js';
import type { TargetsOptions } from '../../../stages/targets/index.js';
import type { DetectOptions } from '../../../stages/detect/index.js';
import { loadServicesTable } from '../../../stages/datafiles/index.js';
import type { CliOptions } from './flags.js';

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

export function sendOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void): SendOptions {
  if (o.scanTypes.length > 1) throw new UserInputError(`only one scan type at a time for now, got ${o.scanTypes.join(' and ')}`);
  const t = TIMING[o.timing ?? 3]!;
  let maxParallelism = o.maxParallelism ?? t.maxParallelism;
  const limit = openFileLimit();
  if (limit !== undefined && maxParallelism > limit - 64) {
    const capped = Math.max(1, limit - 64);
    if (o.maxParallelism !== undefined) onWarning(`--max-parallelism ${maxParallelism} exceeds the open-file limit (${limit}); using ${capped}`);
    maxParallelism = capped;
  }
  return {
    scanType: 'connect',
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
