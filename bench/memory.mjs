#!/usr/bin/env node
/**
 * Peak RSS of each output format for a /16 sweep and an all-ports plan vs a /24 run, the time from
 * "prtip done" to exit, and the format writers' port records/s (root for the lab part; after
 * `npm run build`). See bench/memory.ts:
 *
 *   sudo node bench/memory.mjs [--rate PPS] [--hosts N] [--json]
 */
await import('../dist/bench/memory.js');
