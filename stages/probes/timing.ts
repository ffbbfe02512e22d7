/**
 * nmap's timing templates (-T0 … -T5) as raw scans use them: initial, min and max probe timeout
 * (ms), retries, and the rate cap of the slow templates. Modules take these unless they need others.
 */
import type { RawTiming } from './module.js';

export const RAW_TIMING: readonly RawTiming[] = [
  { initial: 300_000, min: 100, max: 300_000, retries: 3, maxRate: 1 / 300 },
  { initial: 15_000, min: 100, max: 15_000, retries: 3, maxRate: 1 / 15 },
  { initial: 1000, min: 100, max: 10_000, retries: 3, maxRate: 2.5 },
  { initial: 1000, min: 100, max: 10_000, retries: 3 },
  // Faster templates lower the floor of the adapted timeout: on a LAN the measured RTT is far
  // below it, and a retry that comes too early only costs a duplicate the bitmap drops.
  { initial: 500, min: 50, max: 1250, retries: 3 },
  { initial: 250, min: 25, max: 300, retries: 2 },
];
