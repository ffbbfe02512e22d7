#!/usr/bin/env node
/**
 * UDP scan against nmap -sU -T4 on the lab path (root; run after `npm run build`): top UDP ports of
 * one host and of many, with the target's per-destination ICMP rate limit off and on. See
 * bench/udp.ts for the cases and their options:
 *
 *   sudo node bench/udp.mjs [--case off,hosts,on] [--ports N] [--hosts N] [--on-ports N] [--json]
 */
await import('../dist/bench/udp.js');
