#!/usr/bin/env node
/**
 * Timing bench (root; run after `npm run build`): prtip -sS without a rate flag over a tbf-shaped
 * path (20 and 5 Mbit) against masscan, zmap and nmap, with the time the path's capacity allows.
 * See bench/timing.ts:
 *
 *   sudo node bench/timing.mjs [--rates 20mbit,5mbit] [--case sweep,allports] [--json]
 */
await import('../dist/bench/timing.js');
