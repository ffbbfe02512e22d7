#!/usr/bin/env node
/**
 * SYN scan against the peers on the lab path (root; run after `npm run build`): /16 sweep vs zmap
 * and masscan, all 65,535 ports vs nmap -sS -T4, 10% loss, peak pps vs a plain C sendmmsg loop,
 * rate accuracy, and peak RSS /16 vs /24. See bench/syn.ts for the cases and their options:
 *
 *   sudo node bench/syn.mjs [--case sweep,allports,loss,pps,rate,memory] [--rate PPS] [--json]
 */
await import('../dist/bench/syn.js');
