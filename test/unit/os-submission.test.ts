// The submission format (SCAN line, OS: wrapping, merged rounds, reading a print back), the
// round policy (unfit reasons, tries, best round) and the os record.
import t from 'tap';
import { parseOsDb } from '../../stages/datafiles/index.js';
import {
  bestRound, buildOsRecord, checkMaxOsTries, firstRound, hostQualifies, isPrivateIpv4, matchFingerprint, mergeRounds, parseSubmission,
  pauseBeforeRound, platformTriple, resultsUnreliable, roundIsFinal, roundsFor, scanLine, submissionText, unfitReason,
  type OsFingerprint, type OsMatchResult, type OsRoundResult, type ScanInfo, type SubmissionConditions,
} from '../../stages/os/index.js';

// 2026-12-01 09:22:28 local time; 0x6B0E91D4 = 1796116948.
const WHEN = new Date(2026, 11, 1, 9, 22, 28);
const scan: ScanInfo = {
  version: '7.93', time: WHEN, openTcpPort: 8080, closedTcpPort: 81, closedUdpPort: 41775, privateAddress: false,
  distance: 1, distanceMethod: 'direct', good: true, mac: '02:00:c6:12:00:02', platform: 'x86_64-pc-linux-gnu',
};
const tm = Math.floor(WHEN.getTime() / 1000).toString(16).toUpperCase();

t.test('the SCAN line', async (t) => {
  t.equal(scanLine(scan), `SCAN(V=7.93%E=4%D=12/1%OT=8080%CT=81%CU=41775%PV=N%DS=1%DC=D%G=Y%M=0200C6%TM=${tm}%P=x86_64-pc-linux-gnu)`);
  t.equal(
    scanLine({ ...scan, closedTcpPort: null, closedUdpPort: null, distance: null, distanceMethod: null, good: false, mac: undefined, privateAddress: true }),
    `SCAN(V=7.93%E=4%D=12/1%OT=8080%CT=%CU=%PV=Y%G=N%TM=${tm}%P=x86_64-pc-linux-gnu)`,
    'unknown ports stay empty; DS, DC and M are left out when unknown',
  );
  t.equal(scanLine({ ...scan, distance: 3, distanceMethod: 'icmp', mac: undefined }).includes('%DS=3%DC=I%G=Y%TM='), true);
  t.same(['10.1.2.3', '172.16.0.1', '172.31.9.9', '172.32.0.1', '169.254.1.1', '192.168.0.1', '198.18.0.2'].map(isPrivateIpv4),
    [true, true, true, false, true, true, false]);
  t.equal(platformTriple('x64', 'linux'), 'x86_64-pc-linux-gnu');
  t.equal(platformTriple('arm64', 'linux'), 'aarch64-unknown-linux-gnu');
});

const round1: OsFingerprint = firstRound(parseSubmission('SEQ(SP=107%GCD=1%ISR=10A%TI=Z)\nT1(R=Y%DF=Y%T=40)\nT2(R=N)').tests);
const round2: OsFingerprint = firstRound(parseSubmission('SEQ(SP=FE%GCD=1%ISR=109%TI=Z)\nT1(R=N)\nT2(R=N)\nIE(R=N)').tests);

t.test('merging rounds: a test with the same attribute names is printed once (the first)', async (t) => {
  t.same(mergeRounds([round1, round2]).map((x) => `${x.name}(${x.attrs.map(([k, v]) => `${k}=${v}`).join('%')})`), [
    'SEQ(SP=107%GCD=1%ISR=10A%TI=Z)', // round 2's SEQ has the same names: dropped although its values differ (as nmap)
    'T1(R=Y%DF=Y%T=40)',
    'T1(R=N)', //                        different names: both
    'T2(R=N)',
    'IE(R=N)',
  ]);
});

t.test('wrapping as OS: lines of 72 characters, and reading prints back', async (t) => {
  const text = submissionText(scan, [round1], true);
  const flat = `${scanLine(scan)}SEQ(SP=107%GCD=1%ISR=10A%TI=Z)T1(R=Y%DF=Y%T=40)T2(R=N)`;
  const lines = text.split('\n');
  t.ok(lines.every((l) => l.startsWith('OS:')));
  t.equal(lines.length, Math.ceil(flat.length / 72));
  t.ok(lines.slice(0, -1).every((l) => l.length === 75), 'full lines: OS: and 72 characters');
  t.equal(lines[lines.length - 1]!.length, 3 + flat.length - 72 * (lines.length - 1), 'the rest on the last line');
  t.equal(lines.map((l) => l.slice(3)).join(''), flat);
  const back = parseSubmission(text);
  t.equal(back.scan?.['CU'], '41775');
  t.equal(back.scan?.['M'], '0200C6');
  t.same(back.tests, round1.tests);
  t.equal(submissionText(scan, [round1], false), [scanLine(scan), 'SEQ(SP=107%GCD=1%ISR=10A%TI=Z)', 'T1(R=Y%DF=Y%T=40)', 'T2(R=N)'].join('\n'));
  t.same(parseSubmission(submissionText(scan, [round1], false)).tests, round1.tests, 'one test per line reads back too');
  t.same(parseSubmission('ECN(R=Y%O=%Q=)').tests[0]!.attrs, [['R', 'Y'], ['O', ''], ['Q', '']], 'empty values');
  t.throws(() => parseSubmission('XYZ(R=Y)'), /unknown test "XYZ"/);
  t.throws(() => parseSubmission('T1(R=Y)junk'), /unexpected text/);
  t.throws(() => parseSubmission('T1(RY)'), /bad attribute/);
});

const good: SubmissionConditions = {
  scanDelayMs: 0, timingLevel: 3, openTcpPort: 22, knownClosedTcpPort: 1, distance: 1, maxTimingRatio: 1.01,
  closedUdpPortKnown: true, udpScan: false, incomplete: false,
};

t.test('unfit for submission: nmap reasons in nmap order', async (t) => {
  t.equal(unfitReason(good), null);
  t.equal(unfitReason({ ...good, scanDelayMs: 600 }), 'Scan delay (600) is greater than 500');
  t.equal(unfitReason({ ...good, timingLevel: 5 }), 'Timing level 5 (Insane) used');
  t.equal(unfitReason({ ...good, openTcpPort: null }), 'Missing an open TCP port so results incomplete');
  t.equal(unfitReason({ ...good, knownClosedTcpPort: null }), 'Missing a closed TCP port so results incomplete');
  t.equal(unfitReason({ ...good, distance: 6 }), 'Host distance (6 network hops) is greater than five');
  t.equal(unfitReason({ ...good, distance: -2 }), 'Host distance (-2 network hops) appears to be negative');
  t.equal(unfitReason({ ...good, maxTimingRatio: 1.5 }), 'maxTimingRatio (1.500000e+00) is greater than 1.4');
  t.equal(unfitReason({ ...good, closedUdpPortKnown: false }), "Didn't receive UDP response. Please try again with -sSU");
  t.equal(unfitReason({ ...good, closedUdpPortKnown: false, udpScan: true }), null, 'with -sU a silent UDP port is no reason');
  t.equal(unfitReason({ ...good, incomplete: true }), 'Some probes failed to send so results incomplete');
  t.equal(unfitReason({ ...good, scanDelayMs: 600, timingLevel: 5 }), 'Scan delay (600) is greater than 500', 'the first reason wins');
});

t.test('rounds: tries, the host filter, the round reported', async (t) => {
  t.equal(roundsFor(5, false), 5);
  t.equal(roundsFor(5, true), 2, 'unfit: two rounds at most');
  t.equal(roundsFor(1, true), 1);
  t.equal(checkMaxOsTries(5), null);
  t.match(checkMaxOsTries(0), /--max-os-tries must be a whole number from 1 to 50, got 0/);
  t.match(checkMaxOsTries(2.5), /got 2.5/);
  t.equal(hostQualifies(1, 0, false), true, 'without --osscan-limit every up host is scanned');
  t.equal(hostQualifies(1, 0, true), false, '--osscan-limit: an open and a closed TCP port are needed');
  t.equal(hostQualifies(2, 3, true), true);
  t.equal(resultsUnreliable(1, 0), true);
  t.equal(resultsUnreliable(1, 1), false);
  t.same([0, 1, 2, 3, 4].map(pauseBeforeRound), [0, 1000, 1000, 2500, 1000]);

  const db = parseOsDb(['MatchPoints', 'T1(R=100%DF=20)', '', 'Fingerprint A', 'Class A | A || x', 'T1(R=Y%DF=Y)', '', 'Fingerprint B', 'Class B | B || x', 'T1(R=Y%DF=N)', ''].join('\n'));
  const fp = (df: string) => firstRound(parseSubmission(`T1(R=Y%DF=${df})`).tests);
  const none: OsMatchResult = { outcome: 'no-matches', matches: [], perfect: 0 };
  const perfectA = matchFingerprint(db, fp('Y')); // A 1.0, B 100/120 < 0.85
  t.equal(roundIsFinal(perfectA), true);
  t.equal(roundIsFinal(matchFingerprint(db, fp('X'))), false, 'DF=X matches neither (100/120 each, under 0.85)');
  t.equal(bestRound([none, perfectA, perfectA]), 1, 'the first perfect round');
  t.equal(bestRound([none, none]), 0);
});

t.test('the os record', async (t) => {
  const db = parseOsDb([
    'MatchPoints', 'T1(R=100%DF=20)', '',
    'Fingerprint Linux 5.0 - 5.4', 'Class Linux | Linux | 5.X | general purpose', 'CPE cpe:/o:linux:linux_kernel:5 auto', 'T1(R=Y%DF=Y)', '',
    'Fingerprint Router', 'Class Acme | AcmeOS | 1 | router', 'CPE cpe:/o:acme:acmeos:1', 'Class Acme | AcmeOS | 2 | WAP', 'T1(R=Y%DF=Y)', '',
  ].join('\n'));
  const match = matchFingerprint(db, firstRound(parseSubmission('T1(R=Y%DF=Y)').tests));
  const round: OsRoundResult = {
    fingerprint: { tests: [] }, distance: 1, distanceGuess: 0, timingRatio: 1,
    seq: { responses: 6, seqs: [0xa, 0xb, 0xc, 0xd, 0xe, 0xf], ipids: [0, 0, 0, 0, 0, 0], timestamps: [1, 2, 3, 4, 5, 6], index: 263, ipIdClass: { kind: 'zero' }, tsClass: 'other', tsHz: 1e9, lastboot: 1000 },
  };
  const r = buildOsRecord({
    ip: '198.18.0.2', round, match, fingerprint: 'OS:SCAN(...)', openTcpPort: 8080, knownClosedTcpPort: 81, closedUdpPort: 41775,
    distance: { hops: 1, method: 'D' }, unfitReason: null, unreliable: false, nowSeconds: 1000 + 86400,
  });
  t.same(r, {
    type: 'os', ip: '198.18.0.2', outcome: 'success', perfect: true, fingerprint: 'OS:SCAN(...)',
    matches: [
      { name: 'Linux 5.0 - 5.4', accuracy: 100, score: 1, line: 4, vendor: 'Linux', osfamily: 'Linux', osgen: '5.X', devicetype: 'general purpose', cpe: ['cpe:/o:linux:linux_kernel:5'] },
      {
        name: 'Router', accuracy: 100, score: 1, line: 9, vendor: 'Acme', osfamily: 'AcmeOS', osgen: '1', devicetype: 'router', cpe: ['cpe:/o:acme:acmeos:1'],
        classes: [
          { vendor: 'Acme', osfamily: 'AcmeOS', osgen: '1', devicetype: 'router', cpe: ['cpe:/o:acme:acmeos:1'] },
          { vendor: 'Acme', osfamily: 'AcmeOS', osgen: '2', devicetype: 'WAP', cpe: [] },
        ],
      },
    ],
    classes: [
      { vendor: 'Linux', osfamily: 'Linux', osgen: '5.X', devicetype: 'general purpose', cpe: ['cpe:/o:linux:linux_kernel:5'], score: 1 },
      { vendor: 'Acme', osfamily: 'AcmeOS', osgen: '1', devicetype: 'router', cpe: ['cpe:/o:acme:acmeos:1'], score: 1 },
      { vendor: 'Acme', osfamily: 'AcmeOS', osgen: '2', devicetype: 'WAP', cpe: [], score: 1 },
    ],
    classesPerfect: 3,
    portsUsed: [{ state: 'open', proto: 'tcp', port: 8080 }, { state: 'closed', proto: 'tcp', port: 81 }, { state: 'closed', proto: 'udp', port: 41775 }],
    distance: { hops: 1, method: 'D' },
    uptime: { seconds: 86400, lastboot: 1000 },
    tcpSequence: { index: 263, difficulty: 'Good luck!', values: ['A', 'B', 'C', 'D', 'E', 'F'] },
    ipIdSequence: { class: 'All zeros', values: ['0', '0', '0', '0', '0', '0'] },
    tcpTsSequence: { class: 'other', values: ['1', '2', '3', '4', '5', '6'] },
  });
});

t.test('merging two os records keeps the OS-stage fields of the better one', async (t) => {
  const { mergeOs } = await import('../../stages/merge/precedence.js');
  const a = { type: 'os' as const, ip: '198.18.0.2', matches: [{ name: 'A', accuracy: 90 }], fingerprint: 'OS:a', distance: { hops: 1, method: 'D' as const } };
  const b = { type: 'os' as const, ip: '198.18.0.2', matches: [{ name: 'B', accuracy: 95 }, { name: 'A', accuracy: 80 }], fingerprint: 'OS:b' };
  t.same(mergeOs(a, b), { type: 'os', ip: '198.18.0.2', fingerprint: 'OS:b', matches: [{ name: 'B', accuracy: 95 }, { name: 'A', accuracy: 90 }] });
  t.same(mergeOs(b, a).fingerprint, 'OS:b', 'whichever came first');
});
