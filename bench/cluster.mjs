#!/usr/bin/env node
/**
 * prtip cluster overhead: one process vs 1, 2 and 4 BullMQ workers on the same plan, time to a
 * collected database (root; run after `npm run build`). See bench/cluster.ts for the options:
 *
 *   sudo node bench/cluster.mjs [--range CIDR] [--ports LIST] [--rate PPS] [--workers 1,2,4] [--json]
 */
await import('../dist/bench/cluster.js');
