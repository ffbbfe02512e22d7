// Scoring, the guess list, and — through the os record — the -oN OS section (classification,
// details/guesses, notes), over a hand-written database.
// Accuracies are worked out by hand from the MatchPoints weights (arithmetic in the comments).
import t from 'tap';
import { parseOsDb } from '../../stages/datafiles/index.js';
import {
  buildOsRecord, compareFingerprint, guessList, matchFingerprint, parseSubmission, firstRound,
  type OsFingerprint, type OsMatchResult, type OsRecordInput, type OsRoundResult,
} from '../../stages/os/index.js';
import { osNormalLines } from '../../stages/format/os-normal.js';

const POINTS = ['MatchPoints', 'SEQ(TI=100%TS=100)', 'OPS(O1=20)', 'T1(R=100%DF=20%T=15%TG=15)', 'IE(R=50%CD=100)', ''];
const rec = (name: string, cls: string[], ...tests: string[]) => [`Fingerprint ${name}`, ...cls, ...tests, ''];
const DB = parseOsDb([
  ...POINTS,
  ...rec('Beta 2', ['Class Beta | BetaOS | 2.X | router', 'CPE cpe:/o:beta:betaos:2'],
    'SEQ(TI=I%TS=A)', 'OPS(O1=M5B4)', 'T1(R=Y%DF=N%T=3B-45%TG=40)', 'IE(R=Y%CD=S)'),
  ...rec('Foxtrot', ['Class Fox | FoxOS || general purpose', 'CPE cpe:/o:fox:foxos'],
    'SEQ(TI=I%TS=A)', 'OPS(O1=M5B4)', 'T1(R=Y%DF=N%T=3B-45%TG=40)', 'IE(R=Y%CD=S)'),
  ...rec('Beta 2', ['Class Beta | BetaOS | 2.X | router', 'CPE cpe:/o:beta:betaos:2'],
    'SEQ(TI=I%TS=A)', 'OPS(O1=M5B4)', 'T1(R=Y%DF=Y%T=7B-85%TG=80)', 'IE(R=Y%CD=S)'),
  ...rec('Hotel', ['Class Hotel | Hotel || specialized'], 'T1(R=Y%DF=N)'),
  ...rec('Kilo', ['Class Kilo | Kilo || specialized'], 'SEQ(TI=I%TS=A)', 'OPS(O1=M5B4)', 'T1(R=Y%DF=Y%T=40)', 'IE(R=N%CD=S)'),
  ...rec('Lima', ['Class Fox | FoxOS | 3 | general purpose'], 'SEQ(TI=I%TS=A)', 'OPS(O1=M5B4)', 'T1(R=Y%DF=N%T=40)', 'IE(R=Y%CD=S)'),
].join('\n'));

const observed: OsFingerprint = firstRound(parseSubmission('SEQ(TI=I%TS=A)\nOPS(O1=M5B4)\nT1(R=Y%DF=Y%T=40)\nIE(R=Y%CD=S)').tests);

t.test('accuracy = matched points / points both sides have', async (t) => {
  t.same(DB.problems, []);
  const acc = DB.references.map((r) => compareFingerprint(DB, r, observed));
  // Possible for a full reference: SEQ 100+100, OPS 20, T1 R 100 + DF 20 + T 15 (TG is not observed), IE 50+100 = 505.
  t.equal(acc[0], 485 / 505, 'Beta 2 (1st): DF differs, −20');
  t.equal(acc[1], 485 / 505, 'Foxtrot: the same');
  t.equal(acc[2], 490 / 505, 'Beta 2 (2nd): T 0x40 outside 7B-85, −15');
  t.equal(acc[3], 100 / 120, 'Hotel: only T1 R and DF compare, DF differs');
  t.equal(acc[4], 455 / 505, 'Kilo: IE R differs, −50');
  t.equal(acc[5], 485 / 505, 'Lima: DF differs');
  t.equal(compareFingerprint(DB, DB.references[0]!, { tests: [] }), 0, 'nothing comparable → 0');
});

t.test('the guess list: threshold, one entry per name, ties in database order', async (t) => {
  const m = matchFingerprint(DB, observed);
  t.equal(m.outcome, 'success');
  t.equal(m.perfect, 0);
  t.same(m.matches.map((e) => [e.reference.name, e.reference.line]), [
    ['Beta 2', DB.references[2]!.line], // the better Beta 2 (0.970) replaced the first (0.960)
    ['Foxtrot', DB.references[1]!.line], // 0.960, listed before Lima (same accuracy, earlier in the file)
    ['Lima', DB.references[5]!.line],
    ['Kilo', DB.references[4]!.line], // 0.901; Hotel (0.833) is under 0.85
  ]);
  t.same(guessList(m), [{ name: 'Beta 2', percent: 97 }, { name: 'Foxtrot', percent: 96 }, { name: 'Lima', percent: 96 }, { name: 'Kilo', percent: 90 }]);
  t.same(matchFingerprint(DB, observed, 0.8).matches.map((e) => e.reference.name).slice(-1), ['Hotel'], 'a lower threshold lets Hotel in');
  const none = matchFingerprint(DB, firstRound(parseSubmission('T1(R=N%DF=N)').tests));
  t.same([none.outcome, none.matches.length], ['no-matches', 0]);
});

const round: OsRoundResult = {
  fingerprint: { tests: [] }, distance: 1, distanceGuess: 0, timingRatio: 1,
  seq: { responses: 6, seqs: [1, 2, 3, 4, 5, 6], ipids: [0, 0, 0, 0, 0, 0], timestamps: [], index: 260, ipIdClass: { kind: 'zero' }, tsClass: 'unsupported', tsHz: 0 },
};
const record = (match: OsMatchResult, over: Partial<OsRecordInput> = {}) => buildOsRecord({
  ip: '198.18.0.2', round, match, fingerprint: 'OS:SCAN(V=1)T1(R=Y', openTcpPort: 22, knownClosedTcpPort: 1, closedUdpPort: 33000,
  distance: { hops: 1, method: 'D' }, unfitReason: null, unreliable: false, nowSeconds: 0, ...over,
});

t.test('the record lists what nmap lists; -oN: classification and guesses', async (t) => {
  const rec = record(matchFingerprint(DB, observed), { guess: true });
  t.same(rec.matches.map((m) => [m.name, m.accuracy, m.score]), [['Beta 2', 97, 490 / 505], ['Foxtrot', 96, 485 / 505], ['Lima', 96, 485 / 505], ['Kilo', 90, 455 / 505]]);
  t.same(osNormalLines(rec, 0), [
    'Device type: router|general purpose|specialized',
    'Running (JUST GUESSING): Beta BetaOS 2.X (97%), Fox FoxOS 3 (96%), Kilo (90%)',
    'OS CPE: cpe:/o:beta:betaos:2 cpe:/o:fox:foxos',
    'Aggressive OS guesses: Beta 2 (97%), Foxtrot (96%), Lima (96%), Kilo (90%)',
    'No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).',
    'TCP/IP fingerprint:',
    'OS:SCAN(V=1)T1(R=Y',
    'Network Distance: 1 hop',
  ]);
  t.same(osNormalLines(record(matchFingerprint(DB, observed)), 0).slice(0, 1), ['No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).'],
    'no --osscan-guess and fit for submission: no guesses, no classes');
});

t.test('-oN: unfit conditions and verbosity', async (t) => {
  const rec = record(matchFingerprint(DB, observed), { unfitReason: 'Missing a closed TCP port so results incomplete', unreliable: true, nowSeconds: 86400 * 1.5 });
  rec.uptime = { seconds: 86400 * 1.5, lastboot: 0 };
  const lines = osNormalLines(rec, 2);
  t.match(lines.splice(lines.findIndex((l) => l.startsWith('Uptime')), 1)[0], /^Uptime guess: 1\.500 days \(since (Thu Jan  1|Wed Dec 31) \d\d:\d\d:00 19(70|69)\)$/);
  t.same(lines, [
    'Warning: OSScan results may be unreliable because we could not find at least 1 open and 1 closed port',
    'Device type: router|general purpose|specialized',
    'Running (JUST GUESSING): Beta BetaOS 2.X (97%), Fox FoxOS 3 (96%), Kilo (90%)',
    'OS CPE: cpe:/o:beta:betaos:2 cpe:/o:fox:foxos',
    'OS fingerprint not ideal because: Missing a closed TCP port so results incomplete',
    'Aggressive OS guesses: Beta 2 (97%), Foxtrot (96%), Lima (96%), Kilo (90%)',
    'No exact OS matches for host (test conditions non-ideal).',
    'TCP/IP fingerprint:',
    'SCAN(V=1)\nT1(R=Y', //                     unwrapped, one test per line
    'Network Distance: 1 hop',
    'TCP Sequence Prediction: Difficulty=260 (Good luck!)',
    'IP ID Sequence Generation: All zeros',
  ], 'an unfit print guesses without being asked and prints the fingerprint unwrapped at -vv');
  t.same(osNormalLines({ type: 'os', ip: '198.18.0.2', matches: [{ name: 'Imported', accuracy: 91 }] }, 0), ['Aggressive OS guesses: Imported (91%)'],
    'an imported record: its guesses only');
});

const PERFECT = parseOsDb([
  'MatchPoints', 'T1(R=100%DF=20)', 'IE(R=50%CD=100)', '',
  ...rec('Papa', ['Class Papa | PapaOS | 1 | general purpose', 'CPE cpe:/o:papa:papaos:1'], 'IE(R=Y%CD=S)'),
  ...rec('Quebec', ['Class Quebec | Quebec || router'], 'IE(R=Y%CD=S|Z)'),
  ...rec('Romeo', ['Class Romeo | Romeo || router'], 'IE(R=Y%CD=Z)'), // 50/150
].join('\n'));

t.test('perfect matches: OS details', async (t) => {
  const fp = firstRound(parseSubmission('IE(R=Y%CD=S)').tests);
  const m = matchFingerprint(PERFECT, fp);
  t.same([m.outcome, m.perfect, m.matches.map((e) => e.reference.name)], ['success', 2, ['Papa', 'Quebec']]);
  t.same(osNormalLines(record(m, { guess: true, distance: null }), 0), [
    'Device type: general purpose|router',
    'Running: Papa PapaOS 1, Quebec',
    'OS CPE: cpe:/o:papa:papaos:1',
    'OS details: Papa, Quebec',
  ], 'perfect classes without percentages; the family alone when vendor and family are equal');
});

t.test('the list holds 36; the entrance requirement rises; too many perfect matches', async (t) => {
  const points = ['MatchPoints', 'T1(R=18%DF=1%T=1)', ''];
  const fp = firstRound(parseSubmission('T1(R=Y%DF=Y%T=40)').tests);
  const lines = [...points];
  // 36 references at 19/20 = 0.95 (DF differs), then one more at 0.95 (list full: needs > 0.95001), then one at 1.
  for (let i = 0; i < 36; i++) lines.push(...rec(`N${i}`, ['Class N | N || x'], 'T1(R=Y%DF=N%T=40)'));
  lines.push(...rec('Late-equal', ['Class N | N || x'], 'T1(R=Y%DF=N%T=40)'));
  lines.push(...rec('Late-perfect', ['Class N | N || x'], 'T1(R=Y%DF=Y%T=40)'));
  const m = matchFingerprint(parseOsDb(lines.join('\n')), fp);
  t.equal(m.matches.length, 36);
  t.equal(m.matches[0]!.reference.name, 'Late-perfect');
  t.equal(m.matches[35]!.reference.name, 'N34', 'N35 fell off the end');
  t.notOk(m.matches.some((e) => e.reference.name === 'Late-equal'), 'equal to the 36th is not enough once the list is full');

  const many = [...points];
  for (let i = 0; i < 37; i++) many.push(...rec(`P${i}`, ['Class P | P || x'], 'T1(R=Y%DF=Y%T=40)'));
  const tm = matchFingerprint(parseOsDb(many.join('\n')), fp);
  t.same([tm.outcome, tm.perfect], ['too-many-matches', 36]);
  t.same(osNormalLines(record(tm, { distance: null }), 0), ['Too many fingerprints match this host to give specific OS details']);
  const nine = [...points];
  for (let i = 0; i < 9; i++) nine.push(...rec(`P${i}`, ['Class P | P || x'], 'T1(R=Y%DF=Y%T=40)'));
  t.same(osNormalLines(record(matchFingerprint(parseOsDb(nine.join('\n')), fp), { distance: null }), 0),
    ['Device type: x', 'Running: P', 'Too many fingerprints match this host to give specific OS details'],
    'more than 8 perfect matches are not listed either (their classes still are, as nmap prints them)');
});

t.test('classes come from the whole guess list, not only the 10 printed guesses', async (t) => {
  // 11 references at 1 − 20/505 (DF differs): the first 10 share one class, the 11th has its own.
  // nmap prints 10 guesses but classifies all of them, so the 11th's class shows in Device type.
  const lines = [...POINTS];
  for (let i = 0; i < 11; i++) {
    lines.push(...rec(`G${i}`, [i < 10 ? 'Class Same | SameOS | 1 | router' : 'Class Other | OtherOS | 2 | printer'],
      'SEQ(TI=I%TS=A)', 'OPS(O1=M5B4)', 'T1(R=Y%DF=N%T=40)', 'IE(R=Y%CD=S)'));
  }
  const m = matchFingerprint(parseOsDb(lines.join('\n')), observed);
  t.equal(m.matches.length, 11);
  const r = record(m, { guess: true });
  t.equal(r.matches.length, 10, 'the record lists the 10 nmap prints');
  t.same(osNormalLines(r, 0).slice(0, 2), ['Device type: router|printer', 'Running (JUST GUESSING): Same SameOS 1 (96%), Other OtherOS 2 (96%)']);
});
