#!/usr/bin/env node
/**
 * -O beside nmap -O on the lab path (root; run after `npm run build`): one host and many. See
 * bench/os.ts for the cases and options:
 *
 *   sudo node bench/os.mjs [--case one,many] [--hosts N] [--rounds N] [--json]
 */
await import('../dist/bench/os.js');
