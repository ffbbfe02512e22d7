// nmap-os-db parsing: a hand-written database exercising every kind of line, the problems it
// must report (with line numbers), and the installed file read whole.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OsDbError, clearOsDbCache, loadOsDb, parseOsDb, OS_TEST_NAMES } from '../../stages/datafiles/index.js';

// Line numbers matter: the problems below name them.
const DB = [
  '# a comment before anything', //                                   1
  'MatchPoints', //                                                    2
  'SEQ(SP=25%GCD=75%ISR=25%TI=100%CI=50%II=100%SS=80%TS=100)', //      3
  'OPS(O1=20%O2=20%O3=20%O4=20%O5=20%O6=20)', //                       4
  'WIN(W1=15%W2=15%W3=15%W4=15%W5=15%W6=15)', //                       5
  'ECN(R=100%DF=20%T=15%TG=15%W=15%O=15%CC=100%Q=20)', //              6
  'T1(R=100%DF=20%T=15%TG=15%S=20%A=20%F=30%RD=20%Q=20)', //           7
  'U1(R=50%DF=20%T=15%TG=15%IPL=100%UN=100%RIPL=100%RID=100%RIPCK=100%RUCK=100%RUD=100)', // 8
  'IE(R=50%DFI=40%T=15%TG=15%CD=100)', //                              9
  '', //                                                               10
  '# Acme routers', //                                                 11
  'Fingerprint Acme RouterOS 1.2 # trailing comment', //               12
  'Class Acme | RouterOS | 1.X | router', //                           13
  'CPE cpe:/o:acme:routeros:1 auto', //                                14
  'Class Acme | RouterOS || WAP', //                                   15
  'CPE cpe:/h:acme:wap', //                                            16
  '# a comment inside a record', //                                    17
  'SEQ(SP=0-5%GCD=1-6|>1000000%ISR=C8-D2%TI=I|RD%TS=U)', //            18
  'OPS(R=N)', //                                                       19
  'ECN(R=Y%DF=N%T=3B-45%TG=40%W=8000%O=|M5B4%CC=N%Q=)', //             20
  'T1(R=Y%DF=N%T=3B-45%TG=40%S=O%A=S+%F=AS%RD=0%Q=)', //               21
  'T1(R=N)', //                                                        22 repeated test
  'XX(R=Y)', //                                                        23 unknown test
  'IE(R=Y%DFI=N%ZZ=1%CD=S)', //                                        24 attribute without weight (kept, unscored)
  'U1(R=Y%DF=N%T=45-3B)', //                                           25 reversed range
  '', //                                                               26
  'Fingerprint Beta OS', //                                            27
  'CPE cpe:/o:beta:os', //                                             28 CPE before Class
  'Class Beta | only two', //                                          29 too few fields
  'Class Beta | Beta OS | 2 | general purpose', //                     30
  'T1(R=Y%DF=Y%T=40', //                                               31 no ')'
  'IE(R=Y%DFI=Y%T=3B-45%TG=40%CD=Z)', //                               32
  '', //                                                               33
  'stray text', //                                                     34 outside a record
  '', //                                                               35
  'Fingerprint Empty', //                                              36
  'Class Nobody | Empty || general purpose', //                        37
  '', //                                                               38
].join('\n');

t.test('MatchPoints, records, classes, CPEs', async (t) => {
  const db = parseOsDb(DB, 'fixture');
  t.equal(db.source, 'fixture');
  t.equal(db.dialect, 'nmap-7.93', 'no nested brackets: nmap 7.93 semantics');
  t.equal(db.lines, 37);
  const mp = db.matchPoints;
  t.same(mp.attrs[0], ['SP', 'GCD', 'ISR', 'TI', 'CI', 'II', 'SS', 'TS']);
  t.same(mp.points[0], [25, 75, 25, 100, 50, 100, 80, 100]);
  t.same(mp.points[OS_TEST_NAMES.indexOf('IE')], [50, 40, 15, 15, 100]);
  t.same(mp.attrs[OS_TEST_NAMES.indexOf('T2')], [], 'tests without weights have none');

  t.same(db.references.map((r) => [r.name, r.line]), [['Acme RouterOS 1.2', 12], ['Beta OS', 27]], 'the empty record is dropped');
  const acme = db.references[0]!;
  t.same(acme.classes, [
    { vendor: 'Acme', family: 'RouterOS', generation: '1.X', deviceType: 'router', cpe: ['cpe:/o:acme:routeros:1'] },
    { vendor: 'Acme', family: 'RouterOS', deviceType: 'WAP', cpe: ['cpe:/h:acme:wap'] },
  ], 'an empty generation is left out; CPE flags dropped; CPEs belong to the Class before them');
  const seq = acme.tests[0]!;
  t.same(seq.attrs.map((a) => [a.name, a.expr, a.index]), [
    ['SP', '0-5', 0], ['GCD', '1-6|>1000000', 1], ['ISR', 'C8-D2', 2], ['TI', 'I|RD', 3], ['TS', 'U', 7],
  ]);
  t.equal(seq.attrs[1]!.match('1000001'), true, 'expressions are compiled');
  t.same(acme.tests[1]!.attrs.map((a) => [a.name, a.index]), [['R', -1]], 'OPS(R=N) is kept, unweighted, as nmap keeps it');
  t.equal(acme.tests[OS_TEST_NAMES.indexOf('T1')]!.text, 'T1(R=Y%DF=N%T=3B-45%TG=40%S=O%A=S+%F=AS%RD=0%Q=)', 'the first of a repeated test is used');
  t.same(acme.tests[OS_TEST_NAMES.indexOf('IE')]!.attrs.map((a) => [a.name, a.index]), [['R', 0], ['DFI', 1], ['ZZ', -1], ['CD', 4]], 'an attribute MatchPoints does not weigh is kept and never scores');
  t.equal(acme.tests[OS_TEST_NAMES.indexOf('U1')], undefined, 'a test line with a bad expression is not used');

  const beta = db.references[1]!;
  t.same(beta.classes, [{ vendor: 'Beta', family: 'Beta OS', generation: '2', deviceType: 'general purpose', cpe: [] }]);
  t.equal(beta.tests[OS_TEST_NAMES.indexOf('T1')], undefined);
  t.ok(beta.tests[OS_TEST_NAMES.indexOf('IE')]);
});

t.test('every line it cannot take is reported with its number', async (t) => {
  const db = parseOsDb(DB, 'fixture');
  t.same(db.problems.map((p) => [p.line, p.reason]), [
    [22, 'test T1 repeated in this fingerprint (the first is used)'],
    [23, 'unknown test "XX"'],
    [25, 'U1.T: "45-3B": range is reversed'],
    [28, 'CPE line before any Class line'],
    [29, 'Class needs vendor | family | generation | device type'],
    [31, 'test line without ")"'],
    [34, 'outside a record and not a Fingerprint or MatchPoints line'],
    [36, 'fingerprint without test lines (dropped)'],
  ]);
  t.equal(db.problems[0]!.text, 'T1(R=N)', 'the line text comes with it');
});

t.test('identical test lines are parsed once and shared', async (t) => {
  const text = ['MatchPoints', 'T1(R=100%DF=20)', '', 'Fingerprint A', 'Class A | A || x', 'T1(R=Y%DF=N)', '', 'Fingerprint B', 'Class B | B || x', 'T1(R=Y%DF=N)', ''].join('\n');
  const db = parseOsDb(text);
  t.equal(db.distinctTests, 1);
  t.equal(db.references[0]!.tests[4], db.references[1]!.tests[4], 'the same object');
});

t.test('nested brackets switch to the 7.95 semantics; MatchPoints is required', async (t) => {
  const db = parseOsDb(['MatchPoints', 'OPS(O1=20)', '', 'Fingerprint N', 'Class N | N || x', 'OPS(O1=M[>500]ST11)', ''].join('\n'));
  t.equal(db.dialect, 'nmap-7.95');
  t.equal(db.references[0]!.tests[1]!.attrs[0]!.match('M5B4ST11'), true);
  t.throws(() => parseOsDb('Fingerprint X\nClass X | X || x\nT1(R=Y)\n'), OsDbError);
  t.same(parseOsDb('MatchPoints\nT1(R=100)\n\nMatchPoints\nT1(R=1)\n').problems.map((p) => p.line), [4], 'a second MatchPoints block is reported');
});

t.test('loadOsDb reads --datadir at run time and says what is missing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prtip-osdb-'));
  writeFileSync(join(dir, 'nmap-os-db'), DB);
  clearOsDbCache();
  const db = loadOsDb(dir);
  t.equal(db.source, join(dir, 'nmap-os-db'));
  t.equal(db.references.length, 2);
  t.equal(loadOsDb(dir), db, 'cached per path');
  t.throws(() => loadOsDb(join(dir, 'nope')), /cannot read the OS database .*nope\/nmap-os-db \(ENOENT\).*--datadir/);
});

t.test('the installed nmap-os-db parses whole', { skip: !safeRead('/usr/share/nmap/nmap-os-db') && 'nmap-os-db not installed' }, async (t) => {
  const text = safeRead('/usr/share/nmap/nmap-os-db')!;
  const db = parseOsDb(text, 'installed');
  t.same(db.problems, [], 'no line left unread');
  // Counted independently of the parser: record starts in the file.
  const records = text.split('\n').filter((l) => /^Fingerprint /.test(l)).length;
  t.equal(db.references.length, records, `${records} fingerprints`);
  const classes = text.split('\n').filter((l) => l.startsWith('Class ')).length;
  t.equal(db.references.reduce((n, r) => n + r.classes.length, 0), classes, `${classes} Class lines`);
  t.ok(db.references.every((r) => r.classes.length > 0), 'every fingerprint has a class');
});

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}
