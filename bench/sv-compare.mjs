#!/usr/bin/env node
/**
 * Service detection accuracy and speed against nmap (root; run after `npm run build`):
 * builds the namespace lab with real Debian daemons (nginx HTTP + TLS, openssh, vsftpd, postfix,
 * redis, memcached, postgresql, dnsmasq), runs `nmap -sV` and `prtip scan -sV` (+ `prtip detect`
 * for UDP 53) inside the scanner namespace, and prints per-field agreement (fields agreeing /
 * fields nmap reported) and the time ratio prtip/nmap.
 *
 *   sudo node bench/sv-compare.mjs          table + summary
 *   sudo node bench/sv-compare.mjs --json   the comparison as JSON
 */
const { runSvCompare, report } = await import('../dist/bench/sv-compare.js');
const c = await runSvCompare();
if (process.argv.includes('--json')) {
  const { prtipRecords: _r, ...rest } = c;
  console.log(JSON.stringify(rest, null, 2));
} else console.log(report(c));
if (c.prtipRecords.length === 0) console.error(`prtip wrote no service records; stderr:\n${c.prtipStderr}`);
