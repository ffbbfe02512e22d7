// db import: the format comes from the content, prtip's own -oX/-oJ/-oD round-trip, and a file
// that yields no row is an error unless --allow-empty. (The lab test reads files masscan and
// nmap themselves wrote: test/integration/import-lab.test.ts.)
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { formatRecords, type OutputFormatName } from '../../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord } from '../../stages/records/index.js';
import { detectImportFormat, importFile, openDatabase, query } from '../../stages/store/index.js';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-import-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

function records(): AnyRecord[] {
  return [
    newHeader(['prtip scan -sV -p 22,80,443 198.18.0.2'], { startTime: 1_790_000_000_000,
      plan: { hosts: 1, portsPerHost: 3, probes: 3, shardProbes: 3, ports: { tcp: '22,80,443', udp: '', sctp: '' }, seed: 1, shard: { index: 1, count: 1 } } }),
    { type: 'port', ip: '198.18.0.2', port: 22, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 0.2, time: 1_790_000_000_100 },
    { type: 'port', ip: '198.18.0.2', port: 80, proto: 'tcp', state: 'closed', reason: 'reset', ttl: 64, rtt: 0.2, time: 1_790_000_000_100 },
    { type: 'port', ip: '198.18.0.2', port: 443, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 0.2, time: 1_790_000_000_100 },
    { type: 'service', ip: '198.18.0.2', port: 443, proto: 'tcp', name: 'http', product: 'nginx', version: '1.22.1', method: 'probed', conf: 10, tunnel: 'ssl' },
    { type: 'host', ip: '198.18.0.2', state: 'up', reason: 'syn-ack', time: 1_790_000_000_200 },
    { ...newTrailer(), endTime: 1_790_000_001_000 },
  ];
}

async function write(format: OutputFormatName, name: string, recs = records()): Promise<string> {
  const file = path.join(tmp, name);
  const stage = formatRecords({ outputs: [{ format, path: file }], view: { openOnly: false, reason: false, serviceName: () => undefined }, stdout: new PassThrough() });
  async function* src() { yield* recs; }
  for await (const _ of stage(src())) { /* drain */ }
  return file;
}

t.test('prtip\'s own -oX, -oJ, -oD import with their ports, services and tunnel', async (t) => {
  const db = await openDatabase(path.join(tmp, 'own.duckdb'));
  t.teardown(() => db.close());
  for (const [format, name, source] of [['xml', 'p.xml', 'nmap-xml'], ['json', 'p.json', 'prtip-json'], ['jsonl', 'p.jsonl', 'prtip-jsonl']] as const) {
    const file = await write(format, name);
    t.equal(detectImportFormat(fs.readFileSync(file, 'utf8')), source, `${name} detected`);
    const r = await importFile(db, file);
    t.match(r, { source, open: 2 });
    const ports = await query(db.conn, 'SELECT port, state FROM ports WHERE scan_id = $1 ORDER BY port', [r.scanId]);
    t.same(ports.rows, [[22, 'open'], [80, 'closed'], [443, 'open']], `${name}: every port`);
    const svc = await query(db.conn, "SELECT name, product, tunnel FROM services WHERE scan_id = $1 AND port = 443", [r.scanId]);
    t.same(svc.rows, [['http', 'nginx', 'ssl']], `${name}: the service and its tunnel`);
    t.same((await query(db.conn, 'SELECT count(*)::INT FROM hosts WHERE scan_id = $1', [r.scanId])).rows, [[1]]);
  }
});

t.test('a file with no rows is an error unless --allow-empty', async (t) => {
  const empty = await write('jsonl', 'empty.jsonl', [records()[0]!, records().at(-1)!]);
  const db = path.join(tmp, 'empty.duckdb');
  let r = await runCli(['db', 'import', db, empty]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^prtip: ".*empty\.jsonl" \(prtip-jsonl\) holds no hosts or ports: nothing imported \(--allow-empty stores it as an empty scan\)\n$/);
  r = await runCli(['sql', db, 'select count(*) as n from scans', '--json']);
  t.same(JSON.parse(r.stdout), [{ n: 0 }], 'nothing stored');
  r = await runCli(['db', 'import', db, empty, '--allow-empty']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /imported as scan prtip-[0-9a-f]{16} \(prtip-jsonl, 0 records, 0 open ports\)/);
  const list = path.join(tmp, 'empty.txt');
  fs.writeFileSync(list, '#masscan\n# end\n');
  r = await runCli(['db', 'import', db, list]);
  t.equal(r.code, 1, 'an empty masscan list too');
  t.match(r.stderr, /masscan-list\) holds no hosts or ports/);
});

t.test('format detection and refusals', async (t) => {
  t.equal(detectImportFormat('<?xml version="1.0"?>\n<!-- masscan v1.0 scan -->\n<nmaprun scanner="masscan" start="1">'), 'masscan-xml');
  t.equal(detectImportFormat('<?xml version="1.0"?>\n<nmaprun scanner="nmap" args="nmap x">'), 'nmap-xml');
  t.equal(detectImportFormat('{"ip":"198.18.0.2","timestamp":"1","port":22,"proto":"tcp","rec_type":"status","data":{"status":"open"}}\n'), 'masscan-ndjson');
  t.equal(detectImportFormat('open tcp 22 198.18.0.2 1796117846\n'), 'masscan-list');
  t.equal(detectImportFormat('hello'), undefined);
  const bad = path.join(tmp, 'bad.txt');
  fs.writeFileSync(bad, 'hello world\n');
  const r = await runCli(['db', 'import', path.join(tmp, 'x.duckdb'), bad]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^prtip: ".*bad\.txt" is not a format prtip imports/);
  const r2 = await runCli(['db', 'import', path.join(tmp, 'x.duckdb'), bad, '--format', 'csv']);
  t.match(r2.stderr, /^prtip: --format "csv": use one of nmap-xml, masscan-xml/);
});
