#!/usr/bin/env node
/**
 * NSE scripts against nmap (root; run after `npm run build`): builds the namespace lab with the
 * real Debian daemons, runs `nmap -sS -sU -sV -sC` and `prtip scan -sS -sU -sV -sC` on the same ports (TCP daemons, snmpd on UDP)
 * in one run, and prints per-script agreement and the time ratio prtip/nmap.
 *
 *   sudo node bench/scripts.mjs          table + summary
 *   sudo node bench/scripts.mjs --json   the comparison as JSON
 */
const { createLab } = await import('../dist/test/lab/lab.js');
const { compareScripts, scriptReport, SC_DAEMONS } = await import('../dist/bench/scripts-compare.js');
const lab = await createLab({ daemons: SC_DAEMONS, tcpListeners: [], startTimeoutMs: 60_000 });
try {
  const c = await compareScripts(lab);
  if (process.argv.includes('--json')) {
    const { prtipXml: _x, ...rest } = c;
    console.log(JSON.stringify(rest, null, 2));
  } else console.log(scriptReport(c));
  if (process.argv.includes('--stderr')) console.log(c.prtipStderr);
} finally {
  await lab.teardown();
}
