#!/usr/bin/env node
/**
 * Answer-everything ranges (nftables synproxy, a tarpit, a silent proxy) beside a real /24: what
 * prtip -sS marks and what masscan reports, same lab, same rate (root; after `npm run build`):
 *
 *   sudo node bench/middlebox.mjs [--rate PPS] [--ports LIST] [--json]
 */
await import('../dist/bench/middlebox.js');
