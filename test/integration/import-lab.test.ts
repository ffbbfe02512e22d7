// `prtip db import` reads what the other tools really write: masscan's -oJ, -oD, -oX and -oL
// (written by masscan itself in the lab, from one scan's -oB through --readscan, and directly),
// nmap's -oX, and prtip's own -oX, -oJ and -oD. For every file the imported open-port count must
// equal the file's own count (counted here by a plain reading of the file, not by the importer),
// and the lab's ground truth.
import t from 'tap';
import fs from 'node:fs';
import { join } from 'node:path';
import { createLab, labSkipReason } from '../lab/lab.js';
import { PRTIP_BIN } from '../helpers/cli.js';

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: ['nginx', 'sshd', 'redis'], tcpListeners: [8080, 31337] });
  t.teardown(() => lab.teardown());
  const ports = '1-1024,6379,8080,31337';
  const dir = lab.tmpDir;
  const f = (name: string) => join(dir, name);
  const sh = (cmd: string, timeoutMs = 120_000) => lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs });

  // masscan 1.3.2 can hang at "waiting" on this path: a slow ping beside it, and a bounded run
  // stopped as a user would (Ctrl-C twice) if it has not ended by then.
  const ping = lab.spawn(['ping', '-q', '-i', '0.5', lab.targetV4]);
  const masscan = await sh(
    `masscan ${lab.targetV4} -p${ports} --rate 2000 --adapter ${lab.scannerIf} --adapter-ip ${lab.scannerV4} ` +
    `--adapter-mac ${lab.scannerMac} --router-mac ${lab.targetMac} --wait 1 -oB ${f('m.bin')} >/dev/null 2>&1 & pid=$!; ` +
    `for i in $(seq 1 60); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; ` +
    `kill -INT $pid 2>/dev/null; sleep 0.5; kill -INT $pid 2>/dev/null; sleep 0.5; kill -9 $pid 2>/dev/null; wait $pid; true`);
  if (ping.pid) try { process.kill(-ping.pid, 'SIGKILL'); } catch { /* gone */ }
  const readscan: string[] = [];
  for (const [flag, name] of [['-oJ', 'm.json'], ['-oD', 'm.ndjson'], ['-oX', 'm.xml'], ['-oL', 'm.txt']] as const) {
    const r = await sh(`masscan --readscan ${f('m.bin')} ${flag} ${f(name)}`);
    if (r.code !== 0) readscan.push(`${flag}: ${r.stderr}`);
  }
  // masscan's -oJ written directly by a scan, too (not only through --readscan).
  const ping2 = lab.spawn(['ping', '-q', '-i', '0.5', lab.targetV4]);
  const direct = await sh(
    `masscan ${lab.targetV4} -p22,80,6379,8080,31337 --rate 500 --adapter ${lab.scannerIf} --adapter-ip ${lab.scannerV4} ` +
    `--adapter-mac ${lab.scannerMac} --router-mac ${lab.targetMac} --wait 1 -oJ ${f('direct.json')} >/dev/null 2>&1 & pid=$!; ` +
    `for i in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; ` +
    `kill -INT $pid 2>/dev/null; sleep 0.5; kill -INT $pid 2>/dev/null; sleep 0.5; kill -9 $pid 2>/dev/null; wait $pid; true`);
  if (ping2.pid) try { process.kill(-ping2.pid, 'SIGKILL'); } catch { /* gone */ }

  const nmap = await lab.exec(['nmap', '-n', '-Pn', '-sS', '-p', ports, '--max-retries', '1', '-oX', f('nmap.xml'), lab.targetV4], { timeoutMs: 120_000 });
  const prtip = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sS', '-Pn', '-p', ports, '-oX', f('p.xml'), '-oJ', f('p.json'), '-oD', f('p.jsonl'), lab.targetV4],
    { timeoutMs: 120_000 });

  // Each file's own count of open ports, read plainly from the file.
  const text = (name: string) => fs.readFileSync(f(name), 'utf8');
  const ownOpen: Record<string, () => number> = {
    'm.json': () => (text('m.json').match(/"status": "open"/g) ?? []).length,
    'direct.json': () => (text('direct.json').match(/"status": "open"/g) ?? []).length,
    'm.ndjson': () => text('m.ndjson').split('\n').filter((l) => l.includes('"rec_type":"status"') && l.includes('"status":"open"')).length,
    'm.xml': () => (text('m.xml').match(/<state state="open"/g) ?? []).length,
    'm.txt': () => text('m.txt').split('\n').filter((l) => l.startsWith('open ')).length,
    'nmap.xml': () => (text('nmap.xml').match(/<state state="open"/g) ?? []).length,
    'p.xml': () => (text('p.xml').match(/<state state="open"/g) ?? []).length,
    'p.json': () => (text('p.json').match(/"state":"open"/g) ?? []).length,
    'p.jsonl': () => text('p.jsonl').split('\n').filter((l) => l.includes('"type":"port"') && l.includes('"state":"open"')).length,
  };
  const expectedSource: Record<string, string> = {
    'm.json': 'masscan-json', 'direct.json': 'masscan-json', 'm.ndjson': 'masscan-ndjson', 'm.xml': 'masscan-xml', 'm.txt': 'masscan-list',
    'nmap.xml': 'nmap-xml', 'p.xml': 'nmap-xml', 'p.json': 'prtip-json', 'p.jsonl': 'prtip-jsonl',
  };

  t.test('the tools wrote their files', async (t) => {
    t.equal(masscan.code, 0, masscan.stderr);
    t.same(readscan, [], 'masscan --readscan wrote -oJ, -oD, -oX, -oL');
    t.equal(direct.code, 0, direct.stderr);
    t.equal(nmap.code, 0, nmap.stderr);
    t.equal(prtip.code, 0, prtip.stderr);
    t.same(ownOpen['nmap.xml']!(), lab.tcpOpen.length, 'nmap found every open port (the reference is sound)');
    t.same(ownOpen['p.xml']!(), lab.tcpOpen.length, 'prtip too');
    t.ok(ownOpen['m.txt']!() >= 1, `masscan found ${ownOpen['m.txt']!()} of ${lab.tcpOpen.length} (single shot; it may miss some)`);
  });

  t.test('db import reads every file; imported open ports equal each file\'s own count', async (t) => {
    const db = f('all.duckdb');
    const names = Object.keys(ownOpen);
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'db', 'import', db, ...names.map(f)], { timeoutMs: 120_000 });
    t.equal(r.code, 0, r.stderr);
    const q = await lab.exec([process.execPath, PRTIP_BIN, 'sql', db,
      "select s.scan_id, s.source, count(p.port) filter (where p.state = 'open') as open from scans s left join ports p using (scan_id) group by all", '--json']);
    t.equal(q.code, 0, q.stderr);
    const rows = JSON.parse(q.stdout.toString()) as Array<{ scan_id: string; source: string; open: number }>;
    const lines = r.stdout.toString().trim().split('\n');
    for (const name of names) {
      const line = lines.find((l) => l.startsWith(`${f(name)}: imported as scan `));
      const id = line ? /imported as scan (\S+)/.exec(line)![1] : undefined;
      const row = rows.find((x) => x.scan_id === id);
      t.equal(row?.source, expectedSource[name], `${name} detected as ${expectedSource[name]}`);
      t.equal(Number(row?.open), ownOpen[name]!(), `${name}: ${ownOpen[name]!()} open ports imported`);
    }
    const hosts = await lab.exec([process.execPath, PRTIP_BIN, 'sql', db, "select count(*) as n, count(distinct scan_id) as scans from hosts where ip = '" + lab.targetV4 + "'", '--json']);
    t.same((JSON.parse(hosts.stdout.toString()) as Array<Record<string, unknown>>).map((x) => [Number(x['n']), Number(x['scans'])]), [[names.length, names.length]], 'one host row per scan (masscan repeats <host> per port)');
  });
}
