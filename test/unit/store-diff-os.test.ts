// prtip db diff and diffScans report a host's OS change: the best match of a host OS-scanned in
// both scans (a scan without -O for that host is no change; a fingerprint without a match is).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newHeader, newTrailer, type AnyRecord } from '../../stages/records/index.js';
import { diffScans, openDatabase, storeRecords } from '../../stages/store/index.js';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-diff-os-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const plan = { hosts: 4, portsPerHost: 1, probes: 4, shardProbes: 4, ports: { tcp: '22', udp: '', sctp: '' }, seed: 1, shard: { index: 1, count: 1 } };
const osRec = (ip: string, ...matches: Array<[string, number]>): AnyRecord => ({
  type: 'os', ip, matches: matches.map(([name, accuracy]) => ({ name, accuracy })), fingerprint: `OS:SCAN(V=7.93%E=4)${ip}`,
});

async function store(file: string, recs: AnyRecord[], startTime: number): Promise<string> {
  const header = { ...newHeader(['prtip scan -O -p 22 198.18.0.1-4'], { plan }), startTime };
  async function* src() { yield header; yield* recs; yield newTrailer({}); }
  for await (const _ of storeRecords({ path: file })(src())) { /* drain */ }
  return header.scanId;
}

t.test('OS changes between two scans', async (t) => {
  const file = path.join(tmp, 'os.duckdb');
  const a = await store(file, [
    osRec('198.18.0.1', ['Linux 5.0 - 5.14', 98], ['Linux 4.15', 90]),
    osRec('198.18.0.2', ['FreeBSD 13.1', 100]),
    osRec('198.18.0.3', ['OpenBSD 7.2', 95]),
    osRec('198.18.0.4', ['Windows 10', 92]),
  ], 1_790_000_000_000);
  const b = await store(file, [
    osRec('198.18.0.1', ['Linux 5.0 - 5.14', 96]),            // same best match (accuracy moved): no change
    osRec('198.18.0.2', ['Linux 2.6.32', 91], ['FreeBSD 13.1', 88]), // another best match
    osRec('198.18.0.3'),                                       // OS-scanned, nothing matched
    // 198.18.0.4 not OS-scanned this time: not a change
  ], 1_790_000_100_000);
  const db = await openDatabase(file);
  const d = await diffScans(db, a, b);
  db.close();
  t.same(d.os, [
    { ip: '198.18.0.2', before: { name: 'FreeBSD 13.1', accuracy: 100 }, after: { name: 'Linux 2.6.32', accuracy: 91 } },
    { ip: '198.18.0.3', before: { name: 'OpenBSD 7.2', accuracy: 95 }, after: null },
  ]);
  const r = await runCli(['db', 'diff', file]);
  t.equal(r.code, 1, 'changes: exit 1');
  t.match(r.stdout, /~ 198\.18\.0\.2 OS: FreeBSD 13\.1 \(100%\) -> Linux 2\.6\.32 \(91%\)\n~ 198\.18\.0\.3 OS: OpenBSD 7\.2 \(95%\) -> no OS match\n/);
  t.match(r.stdout, /2 OS changed$/m);
  t.notMatch(r.stdout, /198\.18\.0\.[14] OS/);
  const same = await runCli(['db', 'diff', file, a, a]);
  t.equal(same.code, 0, 'a scan against itself: no change');
  t.match(same.stdout, /0 OS changed/);
});
