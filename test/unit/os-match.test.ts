// Scoring, the guess list, classification and the report lines, over a hand-written database.
// Accuracies are worked out by hand from the MatchPoints weights (arithmetic in the comments).
import t from 'tap';
import { parseOsDb } from '../../stages/datafiles/index.js';
import {
  classify, classificationLines, compareFingerprint, guessList, matchFingerprint, osReportLines, parseSubmission, firstRound,
  type OsFingerprint, type OsReportInput,
} from '../../stages/os/index.js';

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

t.test('classification and the Device type / Running / OS CPE lines', async (t) => {
  const c = classify(matchFingerprint(DB, observed));
  t.same(c.classes.map((x) => [x.osClass.vendor, x.osClass.generation ?? '', x.osClass.deviceType]), [
    ['Beta', '2.X', 'router'], ['Fox', '', 'general purpose'], ['Fox', '3', 'general purpose'], ['Kilo', '', 'specialized'],
  ]);
  t.same(classificationLines(c, true), [
    'Device type: router|general purpose|specialized',
    'Running (JUST GUESSING): Beta BetaOS 2.X (97%), Fox FoxOS 3 (96%), Kilo (90%)',
    'OS CPE: cpe:/o:beta:betaos:2 cpe:/o:fox:foxos',
  ]);
  t.same(classificationLines(c, false), [], 'without guessing and without a perfect match: nothing');
});

const reportBase = (over: Partial<OsReportInput>): OsReportInput => ({
  result: matchFingerprint(DB, observed), unfitReason: null, guess: false, verbose: 0, debug: 0, unreliable: false,
  fingerprintWrapped: 'OS:WRAPPED', fingerprintPlain: 'PLAIN', uptimeSeconds: null, distance: 1,
  seqResponses: 6, seqIndex: 260, ipIdClass: { kind: 'zero' }, ...over,
});

t.test('report lines: guesses, unfit conditions, verbosity', async (t) => {
  t.same(osReportLines(reportBase({ guess: true })), [
    'Device type: router|general purpose|specialized',
    'Running (JUST GUESSING): Beta BetaOS 2.X (97%), Fox FoxOS 3 (96%), Kilo (90%)',
    'OS CPE: cpe:/o:beta:betaos:2 cpe:/o:fox:foxos',
    'Aggressive OS guesses: Beta 2 (97%), Foxtrot (96%), Lima (96%), Kilo (90%)',
    'No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).',
    'TCP/IP fingerprint:',
    'OS:WRAPPED',
    'Network Distance: 1 hop',
  ]);
  t.same(osReportLines(reportBase({})).slice(0, 1), ['No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).'],
    'no --osscan-guess and fit for submission: no guesses, no classes');
  t.same(osReportLines(reportBase({ unfitReason: 'Missing a closed TCP port so results incomplete', unreliable: true, verbose: 2, uptimeSeconds: 86400 * 1.5, lastbootText: 'Mon Nov 30 21:00:00 2026' })), [
    'Warning: OSScan results may be unreliable because we could not find at least 1 open and 1 closed port',
    'Device type: router|general purpose|specialized',
    'Running (JUST GUESSING): Beta BetaOS 2.X (97%), Fox FoxOS 3 (96%), Kilo (90%)',
    'OS CPE: cpe:/o:beta:betaos:2 cpe:/o:fox:foxos',
    'OS fingerprint not ideal because: Missing a closed TCP port so results incomplete',
    'Aggressive OS guesses: Beta 2 (97%), Foxtrot (96%), Lima (96%), Kilo (90%)',
    'No exact OS matches for host (test conditions non-ideal).',
    'TCP/IP fingerprint:',
    'PLAIN',
    'Uptime guess: 1.500 days (since Mon Nov 30 21:00:00 2026)',
    'Network Distance: 1 hop',
    'TCP Sequence Prediction: Difficulty=260 (Good luck!)',
    'IP ID Sequence Generation: All zeros',
  ], 'an unfit print guesses without being asked and prints the fingerprint unwrapped at -vv');
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
  t.same(osReportLines(reportBase({ result: m, guess: true, distance: null })), [
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
  t.same(osReportLines(reportBase({ result: tm, distance: null })), ['Too many fingerprints match this host to give specific OS details']);
  const nine = [...points];
  for (let i = 0; i < 9; i++) nine.push(...rec(`P${i}`, ['Class P | P || x'], 'T1(R=Y%DF=Y%T=40)'));
  t.same(osReportLines(reportBase({ result: matchFingerprint(parseOsDb(nine.join('\n')), fp), distance: null })),
    ['Device type: x', 'Running: P', 'Too many fingerprints match this host to give specific OS details'],
    'more than 8 perfect matches are not listed either (their classes still are, as nmap prints them)');
});
