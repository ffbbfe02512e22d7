/**
 * nmap's timing templates (-T0 … -T5), one table for every scan type (raw and -sT): RTT timeout
 * bounds, retransmissions, scan delay, parallelism, host timeout (nmap.cc's values, see
 * NMAP-FACTS.md), plus what prtip's congestion control starts from. Flags given by the user
 * override single fields (resolveTiming).
 */
import type { RawTiming } from './module.js';

export const RAW_TIMING: readonly RawTiming[] = [
  // paranoid / sneaky / polite: one probe at a time, 5 min / 15 s / 0.4 s apart
  { initial: 300_000, min: 100, max: 300_000, retries: 10, scanDelay: 300_000, parallelism: 1, maxScanDelay: 1000 },
  { initial: 15_000, min: 100, max: 15_000, retries: 10, scanDelay: 15_000, parallelism: 1, maxScanDelay: 1000 },
  { initial: 1000, min: 100, max: 10_000, retries: 10, scanDelay: 400, parallelism: 1, maxScanDelay: 1000 },
  { initial: 1000, min: 100, max: 10_000, retries: 10, maxScanDelay: 1000, initialRate: 1000, caGrowth: 0.1 },
  { initial: 500, min: 100, max: 1250, retries: 6, maxScanDelay: 10, initialRate: 4000, caGrowth: 0.2 },
  { initial: 250, min: 50, max: 300, retries: 2, maxScanDelay: 5, hostTimeout: 900_000, initialRate: 8000, caGrowth: 0.2 },
];

/** What the user set on the command line (each overrides the template's field). */
export interface TimingFlags {
  timing?: number;
  initialRttMs?: number;
  minRttMs?: number;
  maxRttMs?: number;
  maxRetries?: number;
  scanDelayMs?: number;
  maxScanDelayMs?: number;
  minParallelism?: number;
  maxParallelism?: number;
  hostTimeoutMs?: number;
  minRate?: number;
  maxRate?: number;
}

/** Every timing value of a scan, resolved. */
export interface ResolvedTiming {
  level: number;
  initialRttMs: number;
  minRttMs: number;
  maxRttMs: number;
  maxRetries: number;
  /** Least gap between probes, ms (0: none); it may grow up to maxScanDelayMs for rate-limited hosts. */
  scanDelayMs: number;
  maxScanDelayMs: number;
  /** Most probes awaiting an answer at once (undefined: no limit), and the least the window may shrink to. */
  maxParallelism?: number;
  minParallelism?: number;
  hostTimeoutMs?: number;
  minRate?: number;
  maxRate?: number;
  initialRate: number;
  caGrowth: number;
}

/**
 * The template's values with the user's flags over them. The RTT bounds stay ordered as nmap
 * keeps them: an initial timeout above the maximum raises the maximum, a minimum above the
 * initial raises the initial.
 */
export function resolveTiming(f: TimingFlags, table: readonly RawTiming[] = RAW_TIMING): ResolvedTiming {
  const level = f.timing ?? 3;
  const t = table[level]!;
  let maxRttMs = f.maxRttMs ?? t.max;
  let minRttMs = f.minRttMs ?? t.min;
  let initialRttMs = f.initialRttMs ?? t.initial;
  if (f.maxRttMs !== undefined) {
    // --max-rtt-timeout lowers what the template would otherwise start from or floor at.
    if (f.initialRttMs === undefined) initialRttMs = Math.min(initialRttMs, maxRttMs);
    if (f.minRttMs === undefined) minRttMs = Math.min(minRttMs, maxRttMs);
  }
  if (f.minRttMs !== undefined && f.maxRttMs === undefined) maxRttMs = Math.max(maxRttMs, minRttMs);
  if (f.initialRttMs !== undefined && f.maxRttMs === undefined) maxRttMs = Math.max(maxRttMs, initialRttMs);
  initialRttMs = Math.max(initialRttMs, minRttMs);
  const scanDelayMs = f.scanDelayMs ?? t.scanDelay ?? 0;
  const maxScanDelayMs = Math.max(f.maxScanDelayMs ?? t.maxScanDelay ?? 1000, scanDelayMs);
  const maxParallelism = f.maxParallelism ?? t.parallelism;
  return {
    level,
    initialRttMs,
    minRttMs,
    maxRttMs,
    maxRetries: f.maxRetries ?? t.retries,
    scanDelayMs,
    maxScanDelayMs,
    ...(maxParallelism !== undefined ? { maxParallelism } : {}),
    ...(f.minParallelism !== undefined ? { minParallelism: f.minParallelism } : {}),
    ...(f.hostTimeoutMs ?? t.hostTimeout) !== undefined ? { hostTimeoutMs: f.hostTimeoutMs ?? t.hostTimeout } : {},
    ...(f.minRate !== undefined ? { minRate: f.minRate } : {}),
    ...(f.maxRate ?? t.maxRate) !== undefined ? { maxRate: f.maxRate ?? t.maxRate } : {},
    initialRate: t.initialRate ?? 1000,
    caGrowth: t.caGrowth ?? 0.1,
  };
}
