// prtip -sV -sC against nmap -sV -sC on the lab's real Debian daemons: for every default-category
// script nmap ran, prtip's output text must equal nmap's (clock readings masked); the wire must
// show the scripts' own traffic; a script's connection outside the scan is refused and never
// leaves; the DuckDB scripts table holds what -oX shows.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { combineScripts, runNmapScripts, runPrtipScripts, scriptReport, SC_DAEMONS, SC_TCP_PORTS } from '../../bench/scripts-compare.js';

// -sC plus the lab daemons' own scripts nmap does not run by default (selected by name, so
// both tools run them at verbosity + 1)
const EXTRA = ['redis-info', 'memcached-info', 'ssh2-enum-algos', 'http-headers'];
// clock-skew reports only a skew big enough at that moment (memcached's clock vs the scan's): not comparable run to run
const TIMING_ONLY = new Set(['clock-skew']);
const SPEC = `default,${EXTRA.join(',')}`;
import { runCli } from '../helpers/cli.js';

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: SC_DAEMONS, tcpListeners: [], startTimeoutMs: 60_000 });
  t.teardown(() => lab.teardown());
  const dir = mkdtempSync(join(tmpdir(), 'prtip-nse-lab-'));
  const db = join(dir, 'scan.duckdb');

  const cap = await lab.capture(`host ${lab.targetV4}`);
  const prtip = await runPrtipScripts(lab, SC_TCP_PORTS, ['--db', db], SPEC);
  const packets = await cap.stop();
  const nmap = await runNmapScripts(lab, SC_TCP_PORTS, SPEC);
  const c = combineScripts(nmap, prtip);
  t.comment(scriptReport(c));
  if (c.rows.every((r) => r.prtip === undefined)) t.comment(`prtip stderr: ${prtip.stderr}`);
  const defaults = new Set(readFileSync('/usr/share/nmap/scripts/script.db', 'utf8').split('\n')
    .filter((l) => l.includes('"default"')).map((l) => l.split('"')[1]!.replace('.nse', '')));

  t.test('nmap ran default scripts on the lab (the reference is sound)', async (t) => {
    const ran = new Set(c.rows.filter((r) => defaults.has(r.id)).map((r) => r.id));
    for (const id of ['http-title', 'ssl-cert', 'ssh-hostkey', 'smtp-commands']) t.ok(ran.has(id), `nmap ran ${id}: ${c.nmapStderr.slice(0, 300)}`);
  });

  t.test('every default (and named) script nmap ran gives the same output in prtip', async (t) => {
    for (const id of EXTRA) t.ok(c.rows.some((r) => r.id === id), `nmap ran ${id}`);
    for (const r of c.rows.filter((r) => (defaults.has(r.id) || EXTRA.includes(r.id)) && !TIMING_ONLY.has(r.id))) {
      t.ok(r.equal, `${r.where} ${r.id}\n nmap:  ${JSON.stringify(r.nmap)}\n prtip: ${JSON.stringify(r.prtip ?? null)}`);
    }
    t.same(c.extra.filter((e) => !e.output.startsWith('ERROR') && !TIMING_ONLY.has(e.id)), [], 'prtip reports no result nmap did not');
  });

  t.test('on the wire: the scripts spoke their protocols to the daemons', async (t) => {
    const sent = (port: number, text: string) => packets.some((p: CapturedPacket) => p.src === lab.scannerV4 && p.dport === port && p.payload?.includes(Buffer.from(text, 'latin1')));
    t.ok(sent(80, 'GET / HTTP/1.1'), 'http-title asked for / on 80');
    t.ok(sent(22, 'SSH-2.0-'), 'ssh-hostkey sent an SSH banner to 22');
    t.ok(sent(25, 'EHLO '), 'smtp-commands said EHLO on 25');
    t.ok(packets.some((p) => p.src === lab.scannerV4 && p.dport === 443 && p.payload?.[0] === 0x16), 'ssl-cert sent a TLS handshake to 443');
    t.notOk(packets.some((p) => p.src === lab.scannerV4 && p.dport === 1434), 'ms-sql-info\'s probe of 1434/udp (not scanned) never left');
    t.match(prtip.stderr, `connect to ${lab.targetV4}:1434/udp refused: not a target of this scan`);
  });

  t.test('the DuckDB scripts table holds the -oX results', async (t) => {
    const r = await runCli(['sql', db, "select port, script_id, output from scripts where output not like 'ERROR%' and port is not null order by port, script_id", '--json'], { timeoutMs: 60_000 });
    t.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim() ? JSON.parse(r.stdout) as Array<{ port: number; script_id: string; output: string }> : [];
    const fromXml = prtip.results.filter((x) => !x.output.startsWith('ERROR') && x.where !== 'host')
      .map((x) => ({ port: Number(x.where.split('/')[0]), script_id: x.id, output: x.output }))
      .sort((a, b) => a.port - b.port || (a.script_id < b.script_id ? -1 : 1));
    t.same(rows, fromXml);
  });
}
