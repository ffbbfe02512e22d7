#!/usr/bin/env node
/**
 * Host discovery: prtip scan -sn against nmap -sn and zmap's icmp_echoscan on the discovery lab's
 * /16, and the discover stage's memory on a /8 plan. See bench/discover.ts:
 *
 *   sudo node bench/discover.mjs [--case sweep,memory] [--range CIDR] [--json]
 */
await import('../dist/bench/discover.js');
