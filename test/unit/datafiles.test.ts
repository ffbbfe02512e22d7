import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_DATADIR,
  clearServicesCache,
  loadServicesTable,
  parseServices,
  resolveDatadir,
  serviceName,
  setFallbackNotice,
} from '../../stages/datafiles/index.js';

const fixtureDir = fileURLToPath(new URL('../fixtures/targets/datadir', import.meta.url));

t.test('resolveDatadir: explicit, then $PRTIP_DATADIR, then /usr/share/nmap', async (t) => {
  const saved = process.env['PRTIP_DATADIR'];
  t.teardown(() => {
    if (saved === undefined) delete process.env['PRTIP_DATADIR'];
    else process.env['PRTIP_DATADIR'] = saved;
  });
  delete process.env['PRTIP_DATADIR'];
  t.equal(resolveDatadir(), DEFAULT_DATADIR);
  t.equal(DEFAULT_DATADIR, '/usr/share/nmap');
  process.env['PRTIP_DATADIR'] = '/opt/nmapdata';
  t.equal(resolveDatadir(), '/opt/nmapdata');
  t.equal(resolveDatadir('/explicit'), '/explicit');
  process.env['PRTIP_DATADIR'] = '';
  t.equal(resolveDatadir(), DEFAULT_DATADIR, 'empty env var is ignored');
});

t.test('parses the hand-written fixture', async (t) => {
  const table = loadServicesTable(fixtureDir);
  t.equal(table.source, join(fixtureDir, 'nmap-services'));
  t.equal(table.fallbackReason, undefined);
  t.equal(table.entries.length, 19, 'good lines, including one without a frequency');
  t.equal(table.skipped, 6, 'malformed lines and the duplicate 22/tcp are skipped');
  t.same(table.skippedLines.length, 6);
  t.equal(table.serviceName(22, 'tcp'), 'ssh', 'first of duplicate port/proto wins');
  t.equal(table.serviceName(53, 'udp'), 'domain');
  t.equal(table.serviceName(80, 'sctp'), 'http');
  t.equal(table.serviceName(6001, 'tcp'), 'X11:1');
  t.equal(table.serviceName(1001, 'tcp'), 'no-freq');
  t.equal(table.serviceName(9999, 'tcp'), undefined);
  t.equal(table.serviceName(70000, 'tcp'), undefined);
  t.equal(table.serviceName(-1, 'tcp'), undefined);
  t.same(
    table.lookup('HTTP').map((e) => `${e.port}/${e.proto}`),
    ['80/tcp', '80/udp', '80/sctp', '8008/tcp'],
    'name lookup is case-insensitive and keeps file order',
  );
  t.same(table.lookup('nosuch'), []);
  t.same(
    table.top('tcp', 6).map((e) => e.port),
    [80, 443, 22, 23, 25, 53],
    'top ports by frequency',
  );
  t.same(
    table.top('tcp', 8).map((e) => e.port).slice(5),
    [53, 8080, 8008],
    'equal frequencies keep file order',
  );
  t.same(table.top('udp', 10).map((e) => e.port), [53, 7, 80, 22]);
  t.same(table.top('sctp', 0), []);
  t.equal(table.top('tcp', 1000).length, 14, 'asking for more than exist gives all');
  t.ok([...table.names()].includes('x11:1'));
});

t.test('serviceName() is cached per data directory', async (t) => {
  t.equal(serviceName(443, 'tcp', fixtureDir), 'https');
  t.equal(loadServicesTable(fixtureDir), loadServicesTable(fixtureDir), 'same table object');
});

t.test('tolerates CRLF, tabs and spaces, and odd frequencies', async (t) => {
  const table = parseServices('a 1/tcp 0.5\r\nb\t2/UDP\t1e-3 # c\r\n c  3/tcp  .25\nd 4/tcp 1.5\ne 5/tcp -0.1\n', 'inline');
  t.same(
    table.entries.map((e) => [e.name, e.port, e.proto, e.freq]),
    [
      ['a', 1, 'tcp', 0.5],
      ['b', 2, 'udp', 0.001],
      ['c', 3, 'tcp', 0.25],
    ],
  );
  t.equal(table.skipped, 2, 'frequencies outside 0..1 are malformed');
});

/** Loads with $PRTIP_DATADIR pointing at dir: the default data directory, where a missing file is not an error. */
function loadAsDefault(dir: string) {
  const before = process.env['PRTIP_DATADIR'];
  process.env['PRTIP_DATADIR'] = dir;
  try {
    return loadServicesTable();
  } finally {
    if (before === undefined) delete process.env['PRTIP_DATADIR'];
    else process.env['PRTIP_DATADIR'] = before;
  }
}

t.test('falls back to the built-in table when the default data directory lacks the file, and says so once', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'prtip-datadir-'));
  const notices: string[] = [];
  const prev = setFallbackNotice((m) => notices.push(m));
  t.teardown(() => { setFallbackNotice(prev); });
  const table = loadAsDefault(empty);
  clearServicesCache();
  loadAsDefault(empty);
  t.equal(notices.length, 1, `announced once: ${JSON.stringify(notices)}`);
  t.match(notices[0], /nmap-services: ENOENT: using prtip's built-in services table \(about 100 TCP and 20 UDP ports/);
  t.equal(table.source, 'built-in');
  t.match(table.fallbackReason, /ENOENT/);
  t.equal(table.skipped, 0, 'the built-in table parses cleanly');
  const tcp = table.entries.filter((e) => e.proto === 'tcp').length;
  const udp = table.entries.filter((e) => e.proto === 'udp').length;
  t.ok(tcp >= 90 && tcp <= 110, `about 100 TCP ports (${tcp})`);
  t.ok(udp >= 18 && udp <= 30, `about 20 UDP ports (${udp})`);
  t.equal(table.serviceName(80, 'tcp'), 'http');
  t.equal(table.serviceName(53, 'udp'), 'domain');
  t.equal(table.top('tcp', 1)[0]!.port, 80);
  t.equal(new Set(table.top('tcp', 1000).map((e) => e.port)).size, tcp, 'no duplicate ports');
});

t.test('a file appearing later is picked up after clearServicesCache()', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-datadir-'));
  const prev = setFallbackNotice(() => {});
  t.teardown(() => { setFallbackNotice(prev); });
  t.equal(loadAsDefault(dir).source, 'built-in');
  writeFileSync(join(dir, 'nmap-services'), 'mine\t4242/tcp\t0.9\n');
  t.equal(loadAsDefault(dir).source, 'built-in', 'cached');
  clearServicesCache();
  t.equal(serviceName(4242, 'tcp', dir), 'mine');
});

t.test('an explicit --datadir without the file is an error, not a quiet fallback', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-datadir-'));
  t.throws(() => loadServicesTable(dir), { name: 'UserInputError', message: /^--datadir .*: cannot read nmap-services \(ENOENT\); point --datadir at Nmap's data files/ });
  t.throws(() => loadServicesTable(join(dir, 'typo')), { name: 'UserInputError' });
});

t.test('the installed nmap-services loads whole', async (t) => {
  const table = loadServicesTable('/usr/share/nmap');
  t.equal(table.source, '/usr/share/nmap/nmap-services', 'nmap is installed on this machine and in CI');
  t.ok(table.entries.length > 20_000, `${table.entries.length} entries`);
  t.equal(table.skipped, 0, 'every line of the real file parses');
  t.equal(table.serviceName(22, 'tcp'), 'ssh');
  t.equal(table.serviceName(53, 'udp'), 'domain');
  t.equal(table.serviceName(443, 'tcp'), 'https');
  t.equal(table.top('tcp', 1000).length, 1000);
  t.equal(table.top('tcp', 1)[0]!.port, 80, 'http is the most frequently open TCP port');
  const top = table.top('tcp', 100);
  for (let i = 1; i < top.length; i++) if (top[i - 1]!.freq < top[i]!.freq) t.fail(`top list not sorted at ${i}`);
});
