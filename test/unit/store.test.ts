// The DuckDB store: records in equal rows out; checkpoints survive SIGKILL; Nmap XML and masscan
// JSON import; diff; Parquet export; the sql / db commands as a user runs them.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newHeader, newTrailer, type AnyRecord, type PortRecord } from '../../stages/records/index.js';
import {
  diffScans, exportParquet, finishedRanges, importFile, openDatabase, parseNmapXml, query, storedRecords, storeRecords,
} from '../../stages/store/index.js';
import { jsonLines, runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-store-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/store/${f}`, import.meta.url));

function port(ip: string, p: number, state: PortRecord['state'], time = 1_790_000_000_000): PortRecord {
  return { type: 'port', ip, port: p, proto: 'tcp', state, reason: state === 'open' ? 'syn-ack' : 'reset', ttl: 64, rtt: 0.5, time };
}

async function run(stage: (s: AsyncIterable<AnyRecord>) => AsyncGenerator<AnyRecord>, recs: AnyRecord[]): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  async function* src() { yield* recs; }
  for await (const r of stage(src())) out.push(r);
  return out;
}

t.test('records round-trip through DuckDB and pass through unchanged', async (t) => {
  const file = path.join(tmp, 'rt.duckdb');
  const header = newHeader(['prtip scan -sT -p 1-3 198.18.0.1'], {
    plan: { hosts: 2, portsPerHost: 3, probes: 6, shardProbes: 6, ports: { tcp: '1-3', udp: '', sctp: '' }, seed: 42, shard: { index: 1, count: 1 } },
  });
  const recs: AnyRecord[] = [
    header,
    port('198.18.0.1', 1, 'closed'), port('198.18.0.1', 2, 'open'), port('2001:2::1', 3, 'filtered'),
    { type: 'progress', start: 0, count: 3 },
    { type: 'host', ip: '198.18.0.1', state: 'up', reason: 'syn-ack', hostname: 'a\u0000b ]]>', time: 1_790_000_000_100 },
    { type: 'service', ip: '198.18.0.1', port: 2, proto: 'tcp', name: 'http', product: 'nginx', version: '1.22', cpe: ['cpe:/a:x:y'], method: 'probed', conf: 10 },
    { type: 'os', ip: '198.18.0.1', matches: [{ name: 'Linux 6', accuracy: 97, vendor: 'Linux', osfamily: 'Linux', cpe: ['cpe:/o:linux'] }, { name: 'BSD', accuracy: 80 }], fingerprint: 'OS:SCAN(V=7.93%E=4)SEQ(SP=104)' },
    { type: 'os', ip: '2001:2::1', matches: [], outcome: 'no-matches', fingerprint: 'OS:SCAN(V=7.93%E=6)S1(P=6000%ST=0.1%RT=0.2)', noMatchReason: 'no IPv6 OS database' },
    { type: 'trace', ip: '198.18.0.1', port: 1, proto: 'tcp', hops: [{ ttl: 1, ip: '198.18.9.1', rtt: 0.25, host: 'gw.lab' }, { ttl: 2 }, { ttl: 3, ip: '198.18.0.1', rtt: 1.5 }] },
    { type: 'future-kind', x: 1 },
    { ...newTrailer(false), counters: { send: { open: 1 } } },
  ];
  const out = await run(storeRecords({ path: file, argv: ['-sT', '198.18.0.1'] }), recs);
  t.same(out, recs, 'every record passes through, in order');
  const db = await openDatabase(file);
  t.teardown(() => db.close());
  const ports = await query(db.conn, 'SELECT ip, port, proto, state, reason, ttl, rtt_ms, epoch_ms(time) FROM ports ORDER BY port');
  t.same(ports.rows, [
    ['198.18.0.1', 1, 'tcp', 'closed', 'reset', 64, 0.5, 1_790_000_000_000],
    ['198.18.0.1', 2, 'tcp', 'open', 'syn-ack', 64, 0.5, 1_790_000_000_000],
    ['2001:2::1', 3, 'tcp', 'filtered', 'reset', 64, 0.5, 1_790_000_000_000],
  ]);
  const scan = await query(db.conn, 'SELECT scan_id, status, seed, argv, planned_probes, ports_tcp FROM scans');
  t.same(scan.rows, [[header.scanId, 'complete', 42, '["-sT","198.18.0.1"]', 6, '1-3']]);
  t.same((await query(db.conn, 'SELECT hostname FROM hosts')).rows, [['a\u0000b ]]>']]);
  t.same((await query(db.conn, 'SELECT name, product, cpe, conf FROM services')).rows, [['http', 'nginx', ['cpe:/a:x:y'], 10]]);
  t.same((await query(db.conn, 'SELECT rank, name, accuracy, vendor FROM os_matches ORDER BY rank')).rows, [[0, 'Linux 6', 97, 'Linux'], [1, 'BSD', 80, null]]);
  t.same((await query(db.conn, 'SELECT ip, fingerprint, no_match_reason FROM os_fingerprints ORDER BY ip')).rows, [
    ['198.18.0.1', 'OS:SCAN(V=7.93%E=4)SEQ(SP=104)', null],
    ['2001:2::1', 'OS:SCAN(V=7.93%E=6)S1(P=6000%ST=0.1%RT=0.2)', 'no IPv6 OS database'],
  ], 'os_fingerprints: the print of each host, and why an IPv6 host has no matches');
  t.same(await finishedRanges(db, header.scanId), [[0, 3]]);
  const cols = await query(db.conn, "SELECT table_name FROM information_schema.columns WHERE column_name = 'scan_id' ORDER BY 1");
  t.same(cols.rows.map((r) => r[0]), ['hops', 'hosts', 'os_fingerprints', 'os_matches', 'ports', 'progress', 'scans', 'scripts', 'services'], 'scan_id on every table');
  t.same((await query(db.conn, 'SELECT ip, ttl, hop_ip, rtt_ms, host, probe_port, probe_proto FROM hops ORDER BY ttl')).rows, [
    ['198.18.0.1', 1, '198.18.9.1', 0.25, 'gw.lab', 1, 'tcp'], ['198.18.0.1', 2, null, null, null, 1, 'tcp'], ['198.18.0.1', 3, '198.18.0.1', 1.5, null, 1, 'tcp'],
  ], 'one row per hop, a timed-out hop without address');
});

t.test('a SIGKILLed writer leaves a database that opens and holds every checkpoint', async (t) => {
  const file = path.join(tmp, 'killed.duckdb');
  // The child stores records slowly, reporting on stdout how many it had sent when each checkpoint passed.
  const script = path.join(tmp, 'writer.mjs');
  const storeUrl = new URL('../../stages/store/index.ts', import.meta.url).href;
  const recUrl = new URL('../../stages/records/index.ts', import.meta.url).href;
  fs.writeFileSync(script, `
    import { storeRecords } from '${storeUrl}';
    import { newHeader } from '${recUrl}';
    async function* src() {
      yield newHeader(['kill test']);
      for (let i = 0; ; i++) {
        yield { type: 'port', ip: '198.18.0.1', port: i % 65536, proto: 'tcp', state: 'closed', reason: 'reset', ttl: null, rtt: null, time: Date.now() };
        if (i % 50 === 49) { process.stdout.write(i + 1 + '\\n'); await new Promise((r) => setTimeout(r, 20)); }
      }
    }
    for await (const _ of storeRecords({ path: '${file}', checkpointMs: 1e9, checkpointRows: 100 })(src())) {}
  `);
  const tsImport = fileURLToPath(new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url));
  const child = spawn(process.execPath, ['--import', tsImport, script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let sent = 0;
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      sent = Number(c.toString().trim().split('\n').pop());
      if (sent >= 2000 && !child.killed) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => resolve());
  });
  await new Promise((r) => child.once('close', r));
  t.ok(sent >= 2000, `the child wrote records before it was killed (${sent}) ${stderr.slice(0, 500)}`);
  const db = await openDatabase(file);
  t.teardown(() => db.close());
  const n = Number((await query(db.conn, 'SELECT count(*) FROM ports')).rows[0]![0]);
  // The child reports N only after the store took records 0..N-1. The store starts a checkpoint's
  // commit and takes at most one checkpoint's worth of records (100) while it runs, so all but the
  // last two checkpoints' rows before N are committed: the running commit's and the ones after it.
  t.ok(n >= Math.floor(sent / 100) * 100 - 200, `every checkpoint but the running one survived: ${n} rows, ${sent} reported sent`);
  // Record i has port i: a whole commit is the rows 0..n-1, never a torn or a gapped set.
  const ports = await query(db.conn, 'SELECT count(DISTINCT port), min(port), max(port) FROM ports');
  t.same(ports.rows, [[n, 0, n - 1]], 'the committed rows are exactly the first n records');
  t.same((await query(db.conn, 'SELECT status FROM scans')).rows, [['running']], 'the scan is marked unfinished');
});

t.test('Nmap XML import: hosts, extraports, services with cpe, OS classes', async (t) => {
  const parsed = parseNmapXml(fs.readFileSync(fixture('nmap-old.xml'), 'utf8'), 'nmap-old.xml', 'x');
  const ports = parsed.records.filter((r) => r.type === 'port') as PortRecord[];
  t.equal(ports.length, 101 + 101, 'listed ports and extraports ports of both hosts');
  t.same(ports.find((p) => p.ip === '198.18.0.10' && p.port === 443), { type: 'port', ip: '198.18.0.10', port: 443, proto: 'tcp', state: 'filtered', reason: 'no-response', ttl: 0, rtt: null, time: 1_700_000_005_000 });
  const svc = parsed.records.find((r) => r.type === 'service' && (r as { port: number }).port === 22);
  t.match(svc, { name: 'ssh', product: 'OpenSSH', version: '9.2p1 Debian 2+deb12u1', extrainfo: 'protocol 2.0', cpe: ['cpe:/a:openbsd:openssh:9.2p1', 'cpe:/o:linux:linux_kernel'], method: 'probed', conf: 10 });
  const osRec = parsed.records.find((r) => r.type === 'os') as { matches: Array<Record<string, unknown>> };
  t.match(osRec.matches[0], { name: 'Linux 5.0 - 5.14', accuracy: 98, vendor: 'Linux', osfamily: 'Linux', osgen: '5.X', cpe: ['cpe:/o:linux:linux_kernel:5'] });
  t.match(parsed.records.find((r) => r.type === 'host'), { ip: '198.18.0.10', hostname: 'web.lab.example', state: 'up' });
  t.equal(parsed.header.startTime, 1_700_000_000_000);
  t.equal(parsed.trailer.endTime, 1_700_000_009_000);
  for (const bad of ['<nmaprun><host><address addr=1.2.3.4></host></nmaprun>', 'not xml at all', '<?xml version="1.0"?><other/>', '<nmaprun <<<']) {
    t.throws(() => parseNmapXml(bad, 'bad.xml', 'x'), { name: 'UserInputError' }, `refused: ${bad}`);
  }
});

t.test('import, diff and Parquet export over several tools\' scans', async (t) => {
  const file = path.join(tmp, 'multi.duckdb');
  const db = await openDatabase(file);
  t.teardown(() => db.close());
  const a = await importFile(db, fixture('nmap-old.xml'));
  const b = await importFile(db, fixture('masscan-new.json'));
  const c = await importFile(db, fixture('masscan-lines.ndjson'));
  t.match(a, { source: 'nmap-xml', scanId: /^nmap-[0-9a-f]{16}$/ });
  t.match(b, { source: 'masscan-json', scanId: /^masscan-[0-9a-f]{16}$/ });
  await t.rejects(importFile(db, fixture('nmap-old.xml')), /already in the database/);
  t.same((await query(db.conn, 'SELECT proto, port FROM ports WHERE scan_id = $1 ORDER BY port', [c.scanId])).rows, [['udp', 53], ['tcp', 80]]);
  t.same((await query(db.conn, 'SELECT banner FROM services WHERE scan_id = $1', [b.scanId])).rows, [['SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3']]);

  const d = await diffScans(db, a.scanId, b.scanId);
  t.same(d.ports.map((p) => `${p.change} ${p.ip} ${p.port} ${p.before}->${p.after}`), [
    'closed 198.18.0.10 80 open->null',
    'opened 198.18.0.10 443 filtered->open',
    'opened 198.18.0.12 8080 null->open',
  ]);
  t.same(d.hosts, [{ ip: '198.18.0.12', before: null, after: 'up' }]);

  const dir = path.join(tmp, 'pq');
  const counts = await exportParquet(db, dir);
  t.equal(counts.ports, Number((await query(db.conn, 'SELECT count(*) FROM ports')).rows[0]![0]));
  const back = await query(db.conn, `SELECT count(*), count(DISTINCT scan_id) FROM '${dir}/ports.parquet'`);
  t.same(back.rows, [[counts.ports, 3]], 'Parquet reads back with every row');
});

t.test('CLI: prtip sql (table, --json, --csv), db import/diff/export, bad input', async (t) => {
  const file = path.join(tmp, 'cli.duckdb');
  let r = await runCli(['db', 'import', file, fixture('nmap-old.xml'), fixture('masscan-new.json')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /imported as scan nmap-.*\n.*imported as scan masscan-/);
  r = await runCli(['sql', file, "select ip, port from ports where state = 'open' and ip = '198.18.0.11' order by 1, 2", '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), [{ ip: '198.18.0.11', port: 25 }, { ip: '198.18.0.11', port: 25 }]);
  r = await runCli(['sql', file, "select source, count(*) as n from scans group by 1 order by 1", '--csv']);
  t.equal(r.stdout, 'source,n\r\nmasscan-json,1\r\nnmap-xml,1\r\n');
  r = await runCli(['sql', file, 'select 1 as one']);
  t.match(r.stdout, /^one\n---\n1\n\(1 row\)\n$/);
  r = await runCli(['sql', file, 'select * from nosuchtable']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^prtip: SQL error: .*nosuchtable/);
  r = await runCli(['db', 'diff', file]);
  t.equal(r.code, 1, 'exit 1: differences');
  t.match(r.stdout, /\+ 198\.18\.0\.10 443\/tcp opened \(was filtered\)/);
  t.match(r.stdout, /- 198\.18\.0\.10 80\/tcp closed \(now not scanned\)/);
  r = await runCli(['db', 'diff', file, '@1', '@1']);
  t.equal(r.code, 0, 'no change between a scan and itself');
  r = await runCli(['db', 'export', file, '--parquet', path.join(tmp, 'pq2')]);
  t.equal(r.code, 0, r.stderr);
  t.ok(fs.existsSync(path.join(tmp, 'pq2', 'services.parquet')));
  for (const bad of [['sql', file], ['sql', file, 'select 1', '--bogus'], ['db', 'diff', file, 'nosuchscan', '@1'], ['db', 'import', file, '/nonexistent.xml'], ['db', 'export', file]]) {
    r = await runCli(bad);
    t.equal(r.code, 1, `${bad.join(' ')}: exit 1`);
    t.match(r.stderr, /^prtip: /, 'one-line message');
    t.notMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
  r = await runCli(['sql', path.join(tmp, 'missing.duckdb'), 'select 1']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^prtip: no database ".*missing\.duckdb"/);
  t.notOk(fs.existsSync(path.join(tmp, 'missing.duckdb')), 'a mistyped name is not created');
});

t.test('prtip store in a pipe: stores and passes records on', async (t) => {
  const file = path.join(tmp, 'pipe.duckdb');
  const records = await runCli(['targets', '127.0.0.1', '-p', '1-5']);
  const sent = await runCli(['send', '-sT'], { input: records.stdoutBytes });
  t.equal(sent.code, 0, sent.stderr);
  const stored = await runCli(['store', '--db', file], { input: sent.stdoutBytes });
  t.equal(stored.code, 0, stored.stderr);
  const formatted = await runCli(['format', '-oD', '-'], { input: stored.stdoutBytes });
  t.equal(jsonLines(formatted.stdout).filter((r) => r.type === 'port').length, 5);
  const q = await runCli(['sql', file, 'select count(*) as n from ports', '--json']);
  t.same(JSON.parse(q.stdout), [{ n: 5 }]);
});

t.test('the same record stream stored twice is refused, not doubled', async (t) => {
  const file = path.join(tmp, 'twice.duckdb');
  const recs: AnyRecord[] = [newHeader(['x']), port('198.18.0.1', 1, 'open'), newTrailer(false)];
  await run(storeRecords({ path: file }), recs);
  await t.rejects(run(storeRecords({ path: file }), recs), { name: 'UserInputError', message: /already in the database/ });
  const db = await openDatabase(file);
  t.teardown(() => db.close());
  t.same((await query(db.conn, 'SELECT count(*) FROM ports')).rows, [[1]]);
  t.same((await query(db.conn, 'SELECT status FROM scans')).rows, [['complete']], 'the stored scan is untouched');
});

t.test('a resumed scan gets its TLS services back with the tunnel and the certificate', async (t) => {
  const file = path.join(tmp, 'tls-resume.duckdb');
  const header = newHeader(['prtip scan -sT -sV -p 443 198.18.0.1'], {
    plan: { hosts: 1, portsPerHost: 1, probes: 1, shardProbes: 1, ports: { tcp: '443', udp: '', sctp: '' }, seed: 7, shard: { index: 1, count: 1 } },
  });
  const cert = { subject: 'CN=lab', issuer: 'CN=lab CA', sans: ['DNS:lab', 'IP:198.18.0.1'], notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z', keyType: 'rsa', keyBits: 2048 };
  const svc: AnyRecord = { type: 'service', ip: '198.18.0.1', port: 443, proto: 'tcp', name: 'http', product: 'nginx', method: 'probed', conf: 10, tunnel: 'ssl', cert };
  await run(storeRecords({ path: file, argv: ['-sT', '-sV', '-p', '443', '198.18.0.1'] }), [header, port('198.18.0.1', 443, 'open'), svc, { ...newTrailer(true), counters: {} }]);
  const db = await openDatabase(file);
  t.teardown(() => db.close());
  const scanId = (await query(db.conn, 'SELECT scan_id FROM scans')).rows[0]![0] as string;
  const back = (await storedRecords(db, scanId)).filter((r) => r.type === 'service');
  t.equal(back.length, 1);
  t.match(back[0], { name: 'http', tunnel: 'ssl', cert: { subject: 'CN=lab', issuer: 'CN=lab CA', sans: ['DNS:lab', 'IP:198.18.0.1'], keyBits: 2048 } });
});

t.test('a resumed scan gets its service fingerprints back', async (t) => {
  const file = path.join(tmp, 'fp-resume.duckdb');
  const header = newHeader(['prtip scan -sT -sV -p 9 198.18.0.1'], {
    plan: { hosts: 1, portsPerHost: 1, probes: 1, shardProbes: 1, ports: { tcp: '9', udp: '', sctp: '' }, seed: 7, shard: { index: 1, count: 1 } },
  });
  const servicefp = 'SF-Port9-TCP:V=prtip-0.1.0%I=7%D=12/1%Time=6B0EDA49%P=x86_64-pc-linux-gnu%r(NULL,2,"hi");';
  const svc: AnyRecord = { type: 'service', ip: '198.18.0.1', port: 9, proto: 'tcp', name: 'discard', method: 'table', conf: 3, servicefp };
  await run(storeRecords({ path: file, argv: ['-sT', '-sV', '-p', '9', '198.18.0.1'] }), [header, port('198.18.0.1', 9, 'open'), svc, { ...newTrailer(true), counters: {} }]);
  const db = await openDatabase(file);
  t.teardown(() => db.close());
  const scanId = (await query(db.conn, 'SELECT scan_id FROM scans')).rows[0]![0] as string;
  const back = (await storedRecords(db, scanId)).filter((r) => r.type === 'service');
  t.match(back, [{ port: 9, servicefp }]);
});
