// The nmap-service-probes parser on a hand-written fixture (every directive, delimiter, flag and
// template feature), the templates on hand-made responses, and the whole installed file.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import {
  checkProbeFile,
  parseServiceProbes,
  regexOf,
  substituteTemplate,
  unescapeProbeString,
  versionFields,
  builtinProbes,
  testResponse,
  probeOrder,
  loadServiceProbes,
} from '../../stages/detect/index.js';

// Hand-written for these tests (not from Nmap's file).
const FIXTURE = String.raw`# a comment line
Exclude 9,T:9100-9102,U:7

Probe TCP NULL q||
totalwaitms 4000
tcpwrappedms 1500
match ssh m|^SSH-([\d.]+)-Lab_([\w.]+) (\w+)\r\n| p/LabSSH/ v/$2/ i/protocol $1/ o/$3/ cpe:/a:lab:labssh:$2/a cpe:/o:lab:$3/
match ftp m=^220 (\S+) FTP=i p|Lab FTP| h|$1|
match echo m%^ECHO\x00(.)% d/bridge/ p/echo $P(1)/
softmatch smtp m@^220 .*SMTP@s
match utf16 m/^U\0(.+)\0$/s p/$P(1)/
match subst m~^V (\S+)~ p/subst/ v/$SUBST(1,"_",".")/
match ints m|^I(..)(....)|s p/ints/ v/$I(1,">")/ i/$I(2,"<")/
match dollar m|^D(x)?y| p/dollar/ v/[$1]/

Probe TCP Hello q|HELLO\r\n\x00\x7f\\\0\a\b\f\n\r\t\v|
rarity 3
ports 25,587,1000-1002
sslports 465
fallback GetThing
match smtp m|^250 (\S+) Hello| p/LabMail/ h/$1/

Probe TCP GetThing q|GET\r\n| no-payload
rarity 8
ports 80
match http m|^HTTP/1\.0 200| p/LabHTTP/

Probe UDP Ask q|\x01\x02|
rarity 1
ports 53
totalwaitms 1200
match domain m|^\x01\x02\x81| p/LabDNS/

Probe TCP Rare q|R|
rarity 9
match rare m|^R| p/rare/
`;

t.test('every directive is read', async (t) => {
  const f = parseServiceProbes(FIXTURE, 'fixture');
  t.same(f.problems, [], 'no problems');
  t.equal(f.probes.length, 5);
  t.same(f.probes.map((p) => `${p.proto}:${p.name}`), ['tcp:NULL', 'tcp:Hello', 'tcp:GetThing', 'udp:Ask', 'tcp:Rare']);
  t.ok(f.exclude.tcp.has(9) && f.exclude.tcp.has(9101) && !f.exclude.tcp.has(9103), 'Exclude T: and bare ports');
  t.ok(f.exclude.udp.has(9) && f.exclude.udp.has(7) && !f.exclude.udp.has(9100), 'Exclude U: and bare ports');
  const nul = f.byName.get('tcp:NULL')!;
  t.equal(nul.totalwaitms, 4000);
  t.equal(nul.tcpwrappedms, 1500);
  t.equal(nul.payload.length, 0);
  t.equal(nul.matches.length, 8);
  const hello = f.byName.get('tcp:Hello')!;
  t.same([...hello.payload], [...Buffer.from('HELLO\r\n'), 0, 0x7f, 0x5c, 0, 7, 8, 12, 10, 13, 9, 11], 'payload escapes');
  t.equal(hello.rarity, 3);
  t.ok(hello.ports.has(25) && hello.ports.has(1001) && !hello.ports.has(1003));
  t.ok(hello.sslports.has(465));
  t.same(hello.fallback, ['GetThing']);
  const get = f.byName.get('tcp:GetThing')!;
  t.equal(get.noPayload, true, 'no-payload');
  const ask = f.byName.get('udp:Ask')!;
  t.equal(ask.proto, 'udp');
  t.equal(ask.totalwaitms, 1200);
  // match fields and delimiters
  const [ssh, ftp, echo, smtp] = nul.matches;
  t.equal(ssh!.service, 'ssh');
  t.same(ssh!.templates, { p: 'LabSSH', v: '$2', i: 'protocol $1', o: '$3', cpe: ['a:lab:labssh:$2', 'o:lab:$3'] });
  t.equal(ftp!.flags, 'i', '= delimiter with the i flag');
  t.same(ftp!.templates, { p: 'Lab FTP', h: '$1', cpe: [] }, '| delimiters in version fields');
  t.equal(echo!.pattern, '^ECHO\\x00(.)', '% delimiter');
  t.equal(smtp!.soft, true);
  t.equal(smtp!.flags, 's', '@ delimiter with the s flag');
  t.equal(nul.matches[5]!.pattern, '^V (\\S+)', '~ delimiter');
  t.equal(checkProbeFile(f).untranslatable.length, 0);
});

t.test('templates fill from hand-made responses', async (t) => {
  const f = parseServiceProbes(FIXTURE, 'fixture');
  const nul = f.byName.get('tcp:NULL')!;
  const hit = (data: string) => testResponse(f, nul, data);
  const ssh = hit('SSH-2.0-Lab_7.4p1 LabOS\r\n')!;
  t.equal(ssh.service, 'ssh');
  t.same(ssh.fields, { product: 'LabSSH', version: '7.4p1', extrainfo: 'protocol 2.0', ostype: 'LabOS', cpe: ['cpe:/a:lab:labssh:7.4p1', 'cpe:/o:lab:labos'] }, '$1 $2 $3 and cpe (lower-cased)');
  t.same(hit('220 mail.lab ftp ready')!.fields, { product: 'Lab FTP', hostname: 'mail.lab', cpe: [] }, 'caseless match, h/');
  t.same(hit('ECHO\0\x01')!.fields, { product: 'echo', devicetype: 'bridge', cpe: [] }, '$P drops unprintable bytes');
  t.same(hit('U\0L\0a\0b\0')!.fields, { product: 'Lab', cpe: [] }, '$P on UTF-16');
  t.same(hit('V 1_2_3 ')!.fields, { product: 'subst', version: '1.2.3', cpe: [] }, '$SUBST');
  t.same(hit('I\x01\x02\x10\x00\x00\x00')!.fields, { product: 'ints', version: '258', extrainfo: '16', cpe: [] }, '$I big and little endian');
  t.same(hit('Dy')!.fields, { product: 'dollar', version: '[]', cpe: [] }, 'a group that did not take part substitutes as empty');
  const soft = hit('220 relay\nSMTP ready')!;
  t.equal(soft.soft, true, 'softmatch with s flag');
  t.equal(soft.service, 'smtp');
  t.equal(hit('nothing'), undefined);
});

t.test('substituteTemplate details', async (t) => {
  const g = (n: number) => (['all', 'a_b', 'x\x00y', '\x01\x00'] as Array<string | undefined>)[n];
  t.equal(substituteTemplate('v$1!', g), 'va_b!');
  t.equal(substituteTemplate('$SUBST(1, "_", " ")', g), 'a b', 'spaces after commas');
  t.equal(substituteTemplate('$SUBST(2,"\\x00","-")', g), 'x-y', 'escaped bytes in $SUBST');
  t.equal(substituteTemplate('$I(3,"<")', g), '1');
  t.equal(substituteTemplate('$I(3,">")', g), '256');
  t.equal(substituteTemplate('$P(2)', g), 'xy');
  t.equal(substituteTemplate('cost $ 5', g), 'cost $ 5', 'a lone $ stays');
});

t.test('fallbacks and the NULL probe apply to other probes', async (t) => {
  const f = parseServiceProbes(FIXTURE, 'fixture');
  const hello = f.byName.get('tcp:Hello')!;
  t.equal(testResponse(f, hello, '250 mx.lab Hello')!.fields.hostname, 'mx.lab', 'own match');
  t.equal(testResponse(f, hello, 'HTTP/1.0 200 OK')!.service, 'http', 'fallback probe matches');
  t.equal(testResponse(f, hello, 'SSH-2.0-Lab_1 X\r\n')!.service, 'ssh', 'NULL probe matches are an implicit fallback');
  const ask = f.byName.get('udp:Ask')!;
  t.equal(testResponse(f, ask, 'SSH-2.0-Lab_1 X\r\n'), undefined, 'UDP probes do not fall back to NULL');
});

t.test('probe order: port-listed probes first regardless of rarity, then rarity ≤ intensity in file order', async (t) => {
  const f = parseServiceProbes(FIXTURE, 'fixture');
  t.same(probeOrder(f, 'tcp', 80, false, 7).map((p) => p.name), ['GetThing', 'Hello'], 'GetThing (rarity 8) listed for 80 comes first');
  t.same(probeOrder(f, 'tcp', 22, false, 7).map((p) => p.name), ['Hello']);
  t.same(probeOrder(f, 'tcp', 22, false, 9).map((p) => p.name), ['Hello', 'GetThing', 'Rare']);
  t.same(probeOrder(f, 'tcp', 22, false, 0).map((p) => p.name), [], 'intensity 0: only port-listed probes');
  t.same(probeOrder(f, 'tcp', 465, true, 0).map((p) => p.name), ['Hello'], 'sslports inside TLS');
  t.same(probeOrder(f, 'tcp', 465, false, 0).map((p) => p.name), [], 'sslports do not count in plain text');
  t.same(probeOrder(f, 'udp', 53, false, 7).map((p) => p.name), ['Ask']);
});

t.test('bad lines are problems with line numbers, not crashes', async (t) => {
  const text = [
    'match x m|^a|', // before any probe
    'Probe TCP NULL q||',
    'Probe ICMP X q||',
    'Probe TCP Y q|abc',
    'match x m|unterminated',
    'match x m|^a|z',
    'match x m|^a| q/bad field/',
    'rarity 12',
    'ports 80-70',
    'totalwaitms soon',
    'Exclude T:1',
    'frobnicate 1',
    'fallback Nowhere',
    'match ok m|^(a)| p/$9/',
    'match ok2 m|^(a|',
    'match ok3 m|^fine| p/fine/',
    'Probe TCP Z q|\\xZZ|',
  ].join('\n');
  const f = parseServiceProbes(text, 'bad');
  const lines = f.problems.map((p) => p.line);
  t.same(lines, [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17, 2], `problems: ${JSON.stringify(f.problems.map((p) => p.reason))}`);
  const c = checkProbeFile(f);
  t.same(c.untranslatable.map((u) => u.line), [14, 15], 'a template naming a missing group and an untranslatable pattern are reported');
  t.equal(c.loaded, 1);
  t.equal(regexOf(f.byName.get('tcp:NULL')!.matches.find((m) => m.service === 'ok3')!)?.test('fine'), true);
});

t.test('unescapeProbeString', async (t) => {
  t.same([...unescapeProbeString('\\x41\\0\\\\q')], [0x41, 0, 0x5c, 0x71]);
  t.throws(() => unescapeProbeString('\\x4'), /bad \\x/);
  t.throws(() => unescapeProbeString('abc\\'), /backslash/);
});

t.test('versionFields maps groups through groupMap', async (t) => {
  const f = parseServiceProbes('Probe TCP NULL q||\nmatch a m|^(?>x)(\\d+)| v/$1/\n', 'x');
  const m = f.probes[0]!.matches[0]!;
  const re = regexOf(m)!;
  const r = re.exec('x42')!;
  t.equal(versionFields(m.templates, r, m.groupMap!).version, '42', 'atomic group before it does not shift $1');
});

t.test('the built-in probe set loads whole and identifies common banners', async (t) => {
  const b = builtinProbes();
  t.same(b.problems, []);
  const c = checkProbeFile(b);
  t.equal(c.untranslatable.length, 0, JSON.stringify(c.untranslatable));
  const names = new Set(b.probes.flatMap((p) => p.matches.map((m) => m.service)));
  for (const s of ['http', 'ssl', 'ssh', 'ftp', 'smtp', 'imap', 'pop3', 'redis', 'mysql', 'postgresql', 'domain', 'ntp']) t.ok(names.has(s), `knows ${s}`);
  const nul = b.byName.get('tcp:NULL')!;
  t.same(testResponse(b, nul, 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n')!.fields.version, '9.2p1 Debian 2+deb12u3');
  t.equal(testResponse(b, nul, '220 (vsFTPd 3.0.3)\r\n')!.fields.product, 'vsftpd');
  const get = b.byName.get('tcp:GetRequest')!;
  t.equal(testResponse(b, get, 'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: x\r\n\r\n')!.fields.version, '1.22.1');
});

const INSTALLED = '/usr/share/nmap/nmap-service-probes';
t.test('the whole installed nmap-service-probes loads', { skip: existsSync(INSTALLED) ? false : 'nmap-common not installed' }, async (t) => {
  const text = readFileSync(INSTALLED, 'latin1');
  const matchLines = text.split('\n').filter((l) => /^(soft)?match /.test(l)).length;
  const f = loadServiceProbes('/usr/share/nmap')!;
  const c = checkProbeFile(f);
  t.equal(c.matches + c.softmatches, matchLines, 'every match and softmatch line is on a probe');
  t.equal(c.probes, text.split('\n').filter((l) => l.startsWith('Probe ')).length, 'every Probe line');
  // Debian's nmap 7.93 file: every line translates. A different file may have some that do not;
  // those must then be listed with reasons (never silently dropped).
  t.equal(c.loaded + c.untranslatable.length, matchLines, 'loaded + untranslatable = all match lines');
  t.same(c.untranslatable, [], 'no untranslatable match lines');
  t.same(c.problems, [], 'no problem lines');
  t.comment(`${c.probes} probes, ${c.matches} match + ${c.softmatches} softmatch lines, ${c.loaded} loaded`);
});

t.test('fuzz: mutated probe files never throw; every line is parsed, reported or skipped as a comment', async (t) => {
  const base = FIXTURE.split('\n');
  let seed = 777;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const junk = ['|', '/', '\\', 'm', 'q', '$1', '$P(', '$SUBST(1,"', '(', '[', '\x00', '\xff', ' ', 'cpe:', 'p/', 'i', 's', '9', '-', ','];
  let runs = 0;
  for (let k = 0; k < 2000; k++) {
    const lines = base.map((l) => {
      if (rnd(4) !== 0 || l === '') return l;
      const at = rnd(l.length + 1);
      const op = rnd(3);
      if (op === 0) return l.slice(0, at) + junk[rnd(junk.length)] + l.slice(at);
      if (op === 1) return l.slice(0, at) + l.slice(at + 1 + rnd(4));
      return l.slice(0, at);
    });
    const text = lines.join('\n');
    try {
      const f = parseServiceProbes(text, 'fuzz');
      const c = checkProbeFile(f);
      for (const p of f.probes) testResponse(f, p, 'SSH-2.0-Lab_1 X\r\n');
      if (c.loaded + c.untranslatable.length !== c.matches + c.softmatches) t.fail('a match line was neither loaded nor reported');
      runs++;
    } catch (e) {
      t.fail(`threw on:\n${text}\n${String(e)}`);
      break;
    }
  }
  t.equal(runs, 2000, 'every mutated file parsed without throwing');
});
