// --script selection against the installed script.db, --script-args parsing, and the script
// results in -oN (nmap's "| id:" / "|_" lines) and -oX (valid against the installed nmap.dtd).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScriptArgs, selectScripts } from '../../stages/script/index.js';
import { formatRecords } from '../../stages/format/index.js';
import { newHeader, newTrailer, type AnyRecord } from '../../stages/records/index.js';

const DIR = '/usr/share/nmap/scripts';
// The expected sets come from script.db's text by a plain line scan, not from the parser under test.
const lines = readFileSync(join(DIR, 'script.db'), 'utf8').split('\n').filter((l) => l.startsWith('Entry'));
const inCat = (cat: string) => new Set(lines.filter((l) => l.includes(`"${cat}"`)).map((l) => l.split('"')[1]!.replace('.nse', '')));
const ids = (spec: string) => new Set(selectScripts(spec, DIR).map((s) => s.id));

t.test('categories, names, globs and boolean expressions select as nmap does', async (t) => {
  const def = inCat('default');
  const safe = inCat('safe');
  const intrusive = inCat('intrusive');
  t.ok(def.size > 50, `script.db has ${def.size} default scripts`);
  t.same(ids('default'), def);
  t.same(ids('default or safe'), new Set([...def, ...safe]));
  t.same(ids('default and not intrusive'), new Set([...def].filter((x) => !intrusive.has(x))));
  t.same(ids('not intrusive').size, lines.length - intrusive.size);
  t.same(ids('http-title,ssh-hostkey.nse'), new Set(['http-title', 'ssh-hostkey']));
  const http = new Set(lines.map((l) => l.split('"')[1]!.replace('.nse', '')).filter((n) => n.startsWith('http-')));
  t.same(ids('http-*'), http);
  t.same(ids('(http-* or ssl-*) and default'), new Set([...def].filter((x) => x.startsWith('http-') || x.startsWith('ssl-'))));
  t.same(selectScripts('+http-title', DIR), [{ id: 'http-title', path: join(DIR, 'http-title.nse'), forced: true, byName: true }]);
  t.same(selectScripts('default', DIR).filter((s) => s.byName), [], 'a category selects no script by name');
  t.throws(() => selectScripts('no-such-script-here', DIR), /not a script, category, file or directory/);
  t.throws(() => selectScripts('default and (safe', DIR), /missing "\)"/);
  const dir = mkdtempSync(join(tmpdir(), 'prtip-nse-'));
  writeFileSync(join(dir, 'mine.nse'), 'action = function() end');
  t.same(selectScripts(dir, DIR).map((s) => s.id), ['mine'], 'a directory selects its .nse files');
  t.same(selectScripts(join(dir, 'mine.nse'), DIR).map((s) => s.path), [join(dir, 'mine.nse')], 'a path selects that file');
});

t.test('--script-args: names, nested tables, quoted values, bare flags', async (t) => {
  t.same(parseScriptArgs('user=admin,http.useragent="a, b",list={x,y},unsafe'), {
    user: 'admin', 'http.useragent': 'a, b', list: { 1: 'x', 2: 'y' }, 1: 'unsafe',
  });
  t.throws(() => parseScriptArgs('a={b'), /missing "}"/);
});

async function render(format: 'normal' | 'xml' | 'json' | 'grepable', recs: AnyRecord[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-nse-'));
  const file = join(dir, `out.${format}`);
  const gen = formatRecords({ outputs: [{ format, path: file }], view: { openOnly: false, serviceName: () => undefined } as never })(
    (async function* () { yield* recs; })(),
  );
  for await (const _ of gen) { /* drain */ }
  return readFileSync(file, 'utf8');
}

const ip = '198.18.0.2';
const RECS: AnyRecord[] = [
  newHeader(['test']),
  { type: 'port', ip, port: 22, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 1, time: 1 },
  { type: 'port', ip, port: 80, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 1, time: 1 },
  { type: 'script', id: 'ssh-hostkey', scope: 'port', ip, port: 22, proto: 'tcp', output: '\n  256 aa (ECDSA)\n  256 bb (ED25519)',
    elements: [{ table: [{ key: 'bits', value: '256' }, { key: 'type', value: 'ecdsa' }] }, { table: [{ key: 'bits', value: '256' }] }] },
  { type: 'script', id: 'http-title', scope: 'port', ip, port: 80, proto: 'tcp', output: 'A <b>&"title"', elements: [{ key: 'title', value: 'A <b>&"title"' }] },
  { type: 'script', id: 'clock-skew', scope: 'host', ip, output: '0s' },
  newTrailer(),
];

t.test('-oN: script lines under their port and under "Host script results:"', async (t) => {
  const text = await render('normal', RECS);
  t.match(text, 'PORT   STATE SERVICE\n22/tcp open  unknown\n| ssh-hostkey: \n|   256 aa (ECDSA)\n|_  256 bb (ED25519)\n80/tcp open  unknown\n|_http-title: A <b>&"title"\n');
  t.match(text, '\nHost script results:\n|_clock-skew: 0s\n');
});

t.test('-oX: <script id output> with <table>/<elem>, valid against nmap.dtd', async (t) => {
  const xml = await render('xml', RECS);
  t.match(xml, '<script id="http-title" output="A &lt;b&gt;&amp;&quot;title&quot;"><elem key="title">A &lt;b&gt;&amp;"title"</elem>\n</script>');
  t.match(xml, '<script id="ssh-hostkey" output="&#10;  256 aa (ECDSA)&#10;  256 bb (ED25519)"><table>\n<elem key="bits">256</elem>\n<elem key="type">ecdsa</elem>\n</table>\n');
  t.match(xml, '<hostscript><script id="clock-skew" output="0s"/></hostscript>');
  const file = join(mkdtempSync(join(tmpdir(), 'prtip-nse-')), 'x.xml');
  writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', file], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});

t.test('-oJ: scripts per port and per host; -oG leaves them out', async (t) => {
  const doc = JSON.parse(await render('json', RECS)) as { hosts: Array<{ ports: Array<{ port: number; scripts: unknown[] }>; hostscripts: unknown[] }> };
  const h = doc.hosts[0]!;
  t.same(h.ports.find((p) => p.port === 80)!.scripts, [{ id: 'http-title', output: 'A <b>&"title"', elements: [{ key: 'title', value: 'A <b>&"title"' }] }]);
  t.same(h.hostscripts, [{ id: 'clock-skew', output: '0s' }]);
  const g = await render('grepable', RECS);
  t.notMatch(g, /http-title|ssh-hostkey|clock-skew/);
  t.match(g, /Ports: 22\/open\/tcp/);
});
