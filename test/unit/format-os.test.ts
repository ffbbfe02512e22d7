// The OS stage's record in -oG and -oX: nmap's grepable OS fields and nmap.dtd's <os> and siblings.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { formatRecords, type OutputFormatName } from '../../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord, type OsRecord } from '../../stages/records/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-format-os-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function render(format: OutputFormatName, records: AnyRecord[]): Promise<string> {
  const file = path.join(tmp, `out.${format}`);
  const stage = formatRecords({ outputs: [{ format, path: file }], view: { openOnly: false, reason: false, verbose: 0, serviceName: () => undefined }, stdout: new PassThrough() });
  async function* src() { yield* records; }
  for await (const _ of stage(src())) { /* drain */ }
  return fs.readFileSync(file, 'utf8');
}

const osRec: OsRecord = {
  type: 'os', ip: '198.18.0.2', outcome: 'success', perfect: true, fingerprint: 'OS:SCAN(V=0.1.0%E=4)\nOS:T1(R=Y)',
  matches: [
    { name: 'Linux 5.0 - 5.4', accuracy: 100, line: 68140, vendor: 'Linux', osfamily: 'Linux', osgen: '5.X', devicetype: 'general purpose', cpe: ['cpe:/o:linux:linux_kernel:5'] },
    {
      name: 'Acme / Router', accuracy: 100, line: 9, vendor: 'Acme', osfamily: 'AcmeOS', devicetype: 'router', cpe: ['cpe:/o:acme:acmeos'],
      classes: [
        { vendor: 'Acme', osfamily: 'AcmeOS', devicetype: 'router', cpe: ['cpe:/o:acme:acmeos'] },
        { vendor: 'Acme', osfamily: 'AcmeOS', osgen: '2', devicetype: 'WAP', cpe: [] },
      ],
    },
  ],
  portsUsed: [{ state: 'open', proto: 'tcp', port: 22 }, { state: 'closed', proto: 'tcp', port: 1 }],
  distance: { hops: 1, method: 'D' },
  uptime: { seconds: 86400, lastboot: 1_796_000_000 },
  tcpSequence: { index: 263, difficulty: 'Good luck!', values: ['A', 'B', 'C', 'D', 'E', 'F'] },
  ipIdSequence: { class: 'All zeros', values: ['0', '0', '0', '0', '0', '0'] },
  tcpTsSequence: { class: 'none returned (unsupported)' },
};
const records = (o: OsRecord): AnyRecord[] => [
  newHeader(['prtip scan -O 198.18.0.2']),
  { type: 'port', ip: '198.18.0.2', port: 22, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 0.1, time: 1_796_086_400_000 },
  o,
  newTrailer(),
];

t.test('-oG: perfect matches joined by |, then Seq Index and IP ID Seq', async (t) => {
  const g = await render('grepable', records(osRec));
  t.match(g, /\tPorts: 22\/open\/tcp\/\/\/\/\/\tOS: Linux 5.0 - 5.4\|Acme \| Router\tSeq Index: 263\tIP ID Seq: All zeros\n/);
  const guesses = await render('grepable', records({ ...osRec, perfect: false, matches: osRec.matches.map((m) => ({ ...m, accuracy: 95 })) }));
  t.match(guesses, /\tPorts: 22\/open\/tcp\/\/\/\/\/\tSeq Index: 263\tIP ID Seq: All zeros\n/, 'guesses are not grepable OS fields (as nmap)');
  const imported = await render('grepable', records({ type: 'os', ip: '198.18.0.2', matches: [{ name: 'BSD', accuracy: 90 }] }));
  t.match(imported, /\tOS: BSD\n/, 'an imported record (no OS-stage fields) shows its first match');
});

t.test('-oX: <os> with portused, osmatch/osclass per Class, osfingerprint; uptime … tcptssequence', async (t) => {
  const x = await render('xml', records(osRec));
  const lint = spawnSync('xmllint', ['--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', path.join(tmp, 'out.xml')], { encoding: 'utf8' });
  t.equal(lint.status, 0, lint.stderr.slice(0, 1000));
  t.match(x, '<os>\n<portused state="open" proto="tcp" portid="22"/>\n<portused state="closed" proto="tcp" portid="1"/>\n');
  t.match(x, '<osmatch name="Linux 5.0 - 5.4" accuracy="100" line="68140"><osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="5.X" accuracy="100"><cpe>cpe:/o:linux:linux_kernel:5</cpe></osclass></osmatch>');
  t.match(x, '<osmatch name="Acme / Router" accuracy="100" line="9"><osclass type="router" vendor="Acme" osfamily="AcmeOS" accuracy="100"><cpe>cpe:/o:acme:acmeos</cpe></osclass><osclass type="WAP" vendor="Acme" osfamily="AcmeOS" osgen="2" accuracy="100"/></osmatch>');
  t.match(x, '<osfingerprint fingerprint="OS:SCAN(V=0.1.0%E=4)&#10;OS:T1(R=Y)"/>\n</os>');
  t.match(x, /<uptime seconds="86400" lastboot="[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}"\/>\n<distance value="1"\/>\n/);
  t.match(x, '<tcpsequence index="263" difficulty="Good luck!" values="A,B,C,D,E,F"/>\n<ipidsequence class="All zeros" values="0,0,0,0,0,0"/>\n<tcptssequence class="none returned (unsupported)"/>');
});

t.test('-oJ: matches under os, the rest of the OS stage under osDetection', async (t) => {
  const j = JSON.parse(await render('json', records(osRec))) as { hosts: Array<{ os: unknown[]; osDetection?: Record<string, unknown> }> };
  t.equal(j.hosts[0]!.os.length, 2);
  t.same(j.hosts[0]!.osDetection?.['fingerprint'], osRec.fingerprint);
  t.same(j.hosts[0]!.osDetection?.['tcpSequence'], osRec.tcpSequence);
  const imported = JSON.parse(await render('json', records({ type: 'os', ip: '198.18.0.2', matches: [{ name: 'BSD', accuracy: 90 }] }))) as { hosts: Array<Record<string, unknown>> };
  t.notOk('osDetection' in imported.hosts[0]!, 'an imported record has nothing more');
});
