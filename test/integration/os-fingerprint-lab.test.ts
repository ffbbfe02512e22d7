// OS fingerprint math against nmap on real packets, without prtip sending any: nmap -O runs one
// round against the lab's Linux target while tcpdump captures its probes and the replies in the
// target namespace; the captured replies go through stages/os's fingerprint computation, and the
// result must equal the fingerprint nmap printed for the same exchange (timing-derived SP/ISR/TS
// within one unit: nmap times its sends with its own clock, the capture with the kernel's). The
// matcher, fed nmap's own fingerprint, must give nmap's guess list (names and percentages), and
// fed ours, nmap's top guess; the os record through the format stage must give nmap's -oN OS
// section, -oX <os> elements and -oG OS fields. Then the same with the
// target's TCP/IP stack changed (sysctls, then ICMP filtered), and with nmap's default tries: the
// rounds on the wire follow the round policy and the merged rounds are nmap's print.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { createLab, labSkipReason } from '../lab/lab.js';
import { exchangeFromCapture, splitRounds, type OsProbeName } from '../lab/os-capture.js';
import { loadOsDb, serviceName } from '../../stages/datafiles/index.js';
import { formatRecords } from '../../stages/format/index.js';
import { newHeader, newTrailer, PRTIP_VERSION, type AnyRecord } from '../../stages/records/index.js';
import {
  bestRound, computeFingerprint, firstRound, guessList, matchFingerprint, mergeRounds, parseSubmission, platformTriple,
  roundsFor, scanLine, submissionText, unfitReason, buildOsRecord, DEFAULT_MAX_OS_TRIES, OS_PROBES,
  type OsFingerprint, type OsFpTest,
} from '../../stages/os/index.js';

const OPEN = 8080;
const CLOSED = 81;
const ALL_PROBES: OsProbeName[] = ['SEQ1', 'SEQ2', 'SEQ3', 'SEQ4', 'SEQ5', 'SEQ6', 'ECN', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'IE1', 'IE2', 'U1'];
const TIMING_ATTRS = new Set(['SEQ.SP', 'SEQ.ISR', 'SEQ.TS']);

/** nmap's fingerprint block: the lines after "TCP/IP fingerprint:" up to a blank line. */
function nmapFingerprint(out: string): string {
  const lines = out.split('\n');
  const at = lines.indexOf('TCP/IP fingerprint:');
  if (at < 0) throw new Error(`nmap printed no fingerprint:\n${out}`);
  const block: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() === '') break;
    block.push(l);
  }
  return block.join('\n');
}

/** "Aggressive OS guesses: A (96%), B (95%)" or "OS details: A, B" → entries. */
function nmapGuesses(out: string): { perfect: boolean; list: Array<{ name: string; percent: number }> } {
  const details = /^OS details: (.*)$/m.exec(out);
  if (details) return { perfect: true, list: details[1]!.split(', ').map((name) => ({ name, percent: 100 })) };
  const guesses = /^Aggressive OS guesses: (.*)$/m.exec(out);
  if (!guesses) return { perfect: false, list: [] };
  return { perfect: false, list: [...guesses[1]!.matchAll(/(.+?) \((\d+)%\)(?:, |$)/g)].map((m) => ({ name: m[1]!, percent: Number(m[2]) })) };
}

/** nmap's OS section: from its first OS line to "IP ID Sequence Generation", blank lines dropped, the uptime's value masked. */
function nmapOsSection(out: string): string[] {
  const lines = out.split('\n');
  const first = lines.findIndex((l) => /^(Warning: OSScan|Device type:|Running|OS CPE:|OS details:|Aggressive OS guesses:|No exact OS|No OS matches|OS fingerprint not ideal|Too many fingerprints)/.test(l));
  const last = lines.findIndex((l) => l.startsWith('IP ID Sequence Generation:'));
  if (first < 0 || last < first) throw new Error(`no OS section in nmap's output:\n${out}`);
  return lines.slice(first, last + 1).filter((l) => l.trim() !== '').map(maskUptime);
}
const maskUptime = (l: string) => (l.startsWith('Uptime guess:') ? 'Uptime guess: *' : l);

const masked = (fp: OsFingerprint) => maskedTests(fp.tests);
const maskedTests = (tests: OsFpTest[]) => tests.map((x) => `${x.name}(${x.attrs.map(([k, v]) => `${k}=${TIMING_ATTRS.has(`${x.name}.${k}`) ? '*' : v}`).join('%')})`);
const attr = (fp: OsFingerprint, test: string, name: string) => fp.tests.find((x) => x.name === test)?.attrs.find(([k]) => k === name)?.[1];

/** Decoded attributes of every <tag …> in an XML text. */
function xmlTags(xml: string, tag: string): Array<Record<string, string>> {
  const dec = (v: string) => v.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCharCode(parseInt(h, 16))).replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
    .replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return [...xml.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>`, 'g'))].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w]+)="([^"]*)"/g)].map((a) => [a[1]!, dec(a[2]!)])));
}
/** Each <osmatch> with its <osclass> children and their CPEs, as text. */
function xmlOsMatches(xml: string): string[] {
  return [...xml.matchAll(/<osmatch\s[^>]*?(?:\/>|>[\s\S]*?<\/osmatch>)/g)].map((m) => m[0].replace(/\s+</g, '<'));
}

/** prtip's -oX (or another format) for one os record, through the format stage. */
async function prtipXml(records: AnyRecord[], file: string, format: 'xml' | 'grepable' | 'normal' = 'xml', verbose = 0): Promise<string> {
  const stage = formatRecords({ outputs: [{ format, path: file }], view: { openOnly: false, reason: false, verbose, serviceName: (p) => serviceName(p, 'tcp') }, stdout: new PassThrough() });
  async function* src() { yield* records; }
  for await (const _ of stage(src())) { /* drain */ }
  return readFileSync(file, 'utf8');
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [OPEN] });
  t.teardown(() => lab.teardown());
  const db = loadOsDb();

  /**
   * nmap with its default tries: the capture must hold as many rounds as the round policy gives
   * (5 without a perfect match, 2 for an unfit print), the merged rounds must be nmap's print, and
   * the best round's guesses nmap's.
   */
  const roundsCase = (name: string) => t.test(name, async (t) => {
    const cap = await lab.capture(`host ${lab.targetV4} and host ${lab.scannerV4}`);
    const nmap = await lab.exec(['nmap', '-O', '--osscan-guess', '-d', '-Pn', '-n', '-p', `${OPEN},${CLOSED}`, lab.targetV4], { timeoutMs: 180_000 });
    const packets = await cap.stop({ settleMs: 300 });
    t.equal(nmap.code, 0, nmap.stderr);
    const out = nmap.stdout.toString();
    const rounds = splitRounds(packets, lab.scannerV4, lab.targetV4, OPEN, CLOSED)
      .map((seg) => exchangeFromCapture(seg, lab.scannerV4, lab.targetV4, OPEN, CLOSED))
      .map((ex) => computeFingerprint(ex.context, ex.replies));
    const unfit = unfitReason({
      scanDelayMs: 0, timingLevel: 3, openTcpPort: OPEN, knownClosedTcpPort: CLOSED, distance: 1,
      maxTimingRatio: rounds[0]!.timingRatio, closedUdpPortKnown: rounds[0]!.distance !== null, udpScan: false, incomplete: false,
    }) !== null;
    const matches = rounds.map((r) => matchFingerprint(db, r.fingerprint));
    const perfectAt = matches.findIndex((m) => m.perfect > 0);
    const expectedRounds = perfectAt >= 0 ? perfectAt + 1 : roundsFor(DEFAULT_MAX_OS_TRIES, unfit);
    t.equal(rounds.length, expectedRounds, `${rounds.length} rounds on the wire (${unfit ? 'unfit print' : 'fit print'}${perfectAt >= 0 ? ', perfect match' : ''})`);
    const printed = parseSubmission(nmapFingerprint(out));
    t.same(maskedTests(mergeRounds(rounds.map((r) => r.fingerprint))), maskedTests(printed.tests), "the merged rounds are nmap's print (SP/ISR/TS masked)");
    const expected = nmapGuesses(out);
    const best = matches[bestRound(matches)]!;
    const ours = expected.perfect ? best.matches.slice(0, best.perfect).map((e) => ({ name: e.reference.name, percent: 100 })) : guessList(best);
    const tops = expected.list.filter((g) => g.percent === expected.list[0]!.percent).map((g) => g.name);
    t.ok(tops.includes(ours[0]?.name ?? ''), `the best round's top match ${ours[0]?.name} is one of nmap's best: ${tops.join(', ')}`);
  });

  roundsCase('several rounds with the default stack');

  // Each case changes the target further (the lab is shared by the cases, in this order).
  // [name, sysctls, commands in the target, attributes the change must show (test, attribute, value)]
  const stacks: Array<[string, string[], string[][], Array<[string, string, string]>]> = [
    ['the default Linux stack', [], [], [['T1', 'T', '40'], ['ECN', 'CC', 'Y'], ['U1', 'R', 'Y'], ['IE', 'R', 'Y']]],
    ['no timestamps, window scaling, SACK or ECN; no PMTU discovery; TTL 128',
      ['net.ipv4.tcp_timestamps=0', 'net.ipv4.tcp_window_scaling=0', 'net.ipv4.tcp_sack=0', 'net.ipv4.tcp_ecn=0', 'net.ipv4.ip_no_pmtu_disc=1', 'net.ipv4.ip_default_ttl=128'], [],
      [['SEQ', 'TS', 'U'], ['OPS', 'O1', 'M5B4'], ['ECN', 'CC', 'N'], ['T1', 'T', '80']]],
    // Partial replies: echo ignored, port unreachables dropped → IE and U1 R=N, TG for T, an unfit print.
    ['ICMP echo ignored and port unreachables filtered', ['net.ipv4.icmp_echo_ignore_all=1'], [
      ['nft', 'add', 'table', 'inet', 'osblock'],
      ['nft', 'add', 'chain', 'inet', 'osblock', 'out', '{ type filter hook output priority 0 ; }'],
      ['nft', 'add', 'rule', 'inet', 'osblock', 'out', 'icmp', 'type', 'destination-unreachable', 'drop'],
    ], [['U1', 'R', 'N'], ['IE', 'R', 'N'], ['T1', 'TG', '80']]],
  ];
  for (const [name, sysctls, commands, shows] of stacks) {
    t.test(name, async (t) => {
      if (sysctls.length) {
        const s = await lab.exec(['sysctl', '-q', '-w', ...sysctls], { ns: 'target' });
        t.equal(s.code, 0, `sysctl in the target namespace: ${s.stderr}`);
      }
      for (const c of commands) {
        const r = await lab.exec(c, { ns: 'target' });
        t.equal(r.code, 0, `${c.join(' ')}: ${r.stderr}`);
      }
      const cap = await lab.capture(`host ${lab.targetV4} and host ${lab.scannerV4}`);
      const nmapXml = join(lab.tmpDir, `nmap-${stacks.findIndex((c) => c[0] === name)}.xml`);
      const nmap = await lab.exec(
        ['nmap', '-O', '--osscan-guess', '-d', '--max-os-tries', '1', '-Pn', '-n', '-p', `${OPEN},${CLOSED}`, '-oX', nmapXml, '-oG', `${nmapXml}.gnmap`, lab.targetV4],
        { timeoutMs: 120_000 },
      );
      const packets = await cap.stop({ settleMs: 300 });
      t.equal(nmap.code, 0, `nmap ran: ${nmap.stderr}`);
      const out = nmap.stdout.toString();

      // The wire: one round of nmap's 16 probes, T5–T7 to the closed port.
      const ex = exchangeFromCapture(packets, lab.scannerV4, lab.targetV4, OPEN, CLOSED);
      t.same(ALL_PROBES.filter((p) => !ex.probes.has(p)), [], 'every OS probe is in the capture');
      t.equal(ex.replies.seq.length, 6, 'the open port answered all six SEQ probes');
      if (name === stacks[0]![0]) {
        // stages/os's probe table (what prtip's probe modules will build) against nmap's packets.
        const seq1 = ex.probes.get('SEQ1')!.packet;
        const ie1 = ex.probes.get('IE1')!.packet;
        const l4 = (p: typeof seq1) => p.ip.subarray((p.ip[0]! & 0x0f) * 4);
        for (const spec of OS_PROBES) {
          const p = ex.probes.get(spec.name)!.packet;
          const h = l4(p);
          if (spec.kind === 'tcp') {
            t.same(
              [p.tcpFlags, p.window, Buffer.from(spec.options).equals(p.tcpOptions ?? Buffer.alloc(0)), p.dontFragment, h.readUInt16BE(18), h[12]! & 0x0f, p.seq, p.ack, p.dport],
              [spec.flags, spec.window, true, spec.df, spec.urgentPointer, spec.reserved, (seq1.seq! + spec.seqOffset) >>> 0, spec.ack === 'zero' ? 0 : seq1.ack, spec.port === 'open' ? OPEN : CLOSED],
              `${spec.name} on the wire is the table's`,
            );
          } else if (spec.kind === 'icmp') {
            const data = h.subarray(8);
            t.same(
              [p.ip[1], p.dontFragment, p.icmpCode, h.readUInt16BE(4), h.readUInt16BE(6), data.length, data.every((b) => b === 0)],
              [spec.tos, spec.df, spec.code, (l4(ie1).readUInt16BE(4) + spec.idOffset) & 0xffff, spec.seq, spec.dataLength, true],
              `${spec.name} on the wire is the table's`,
            );
          } else {
            const data = h.subarray(8);
            t.same(
              [p.ipId, p.length, data.length, data.every((b) => b === spec.patternByte), p.ttl >= spec.ttlRange[0] && p.ttl <= spec.ttlRange[1]],
              [spec.ipId, spec.totalLength, spec.dataLength, true, true],
              `${spec.name} on the wire is the table's`,
            );
          }
        }
      }

      const printed = parseSubmission(nmapFingerprint(out));
      const theirs = firstRound(printed.tests);
      const round = computeFingerprint(ex.context, ex.replies);
      const ours = round.fingerprint;
      t.same(masked(ours), masked(theirs), 'every test and attribute as nmap computed it (SP/ISR/TS masked)');
      for (const [test, a, v] of shows) t.equal(attr(theirs, test, a), v, `the stack change shows: ${test}.${a}=${v}`);
      for (const key of TIMING_ATTRS) {
        const [test, a] = key.split('.') as [string, string];
        const mine = attr(ours, test, a);
        const nm = attr(theirs, test, a);
        t.equal(mine === undefined, nm === undefined, `${key} present in both or neither`);
        if (mine !== undefined && nm !== undefined && /^[0-9A-F]+$/.test(nm)) {
          t.ok(Math.abs(parseInt(mine, 16) - parseInt(nm, 16)) <= 1, `${key}: ours ${mine}, nmap ${nm} (one unit of clock jitter at most)`);
        } else {
          t.equal(mine, nm, key);
        }
      }

      // SCAN: the same conditions give the same line (but for the version, date and time).
      const scan = printed.scan!;
      t.ok(scan, 'nmap printed a SCAN line');
      const reason = unfitReason({
        scanDelayMs: 0, timingLevel: 3, openTcpPort: OPEN, knownClosedTcpPort: CLOSED, distance: 1,
        maxTimingRatio: round.timingRatio, closedUdpPortKnown: round.distance !== null, udpScan: false, incomplete: false,
      });
      const good = reason === null;
      const ourScan = parseSubmission(scanLine({
        version: scan['V']!, time: new Date(), openTcpPort: OPEN, closedTcpPort: CLOSED,
        closedUdpPort: round.distance !== null ? ex.context.closedUdpPort : null,
        privateAddress: false, distance: 1, distanceMethod: 'direct', good, mac: lab.targetMac, platform: platformTriple(),
      })).scan!;
      for (const k of ['E', 'OT', 'CT', 'CU', 'PV', 'DS', 'DC', 'G', 'M', 'P']) t.equal(ourScan[k], scan[k], `SCAN ${k}`);
      if (ex.replies.u1) t.equal(round.distance, 1, 'U1 measured one hop');
      else t.equal(round.distance, null, 'no U1 answer, no measured distance');

      // Matching: nmap's own fingerprint gives nmap's list; ours gives nmap's top guess.
      const expected = nmapGuesses(out);
      t.ok(expected.list.length > 0, 'nmap printed OS details or guesses');
      const fromTheirs = matchFingerprint(db, theirs);
      const list = (m: ReturnType<typeof matchFingerprint>) => expected.perfect
        ? m.matches.slice(0, m.perfect).map((e) => ({ name: e.reference.name, percent: 100 }))
        : guessList(m);
      t.same(list(fromTheirs), expected.list, `the matcher gives nmap's ${expected.perfect ? 'OS details' : 'guesses'} for nmap's fingerprint`);
      const fromOurs = list(matchFingerprint(db, ours));
      const sameTiming = [...TIMING_ATTRS].every((k) => {
        const [test, a] = k.split('.') as [string, string];
        return attr(ours, test, a) === attr(theirs, test, a);
      });
      if (sameTiming) {
        // Equal fingerprints: the whole list (ties keep database order in both).
        t.same(fromOurs, expected.list, "our fingerprint (equal to nmap's) gives nmap's list");
      } else {
        // SP/ISR one unit apart can reorder references tied on the rest.
        const tops = expected.list.filter((g) => g.percent === expected.list[0]!.percent).map((g) => g.name);
        t.ok(tops.includes(fromOurs[0]?.name ?? ''), `our top match ${fromOurs[0]?.name} is one of nmap's best: ${tops.join(', ')}`);
      }

      // -oX: prtip's os record, through the format stage, against nmap's XML for the same exchange.
      const theirXml = readFileSync(nmapXml, 'utf8');
      const u1Port = round.distance !== null ? ex.context.closedUdpPort : null;
      const osRec = buildOsRecord({
        ip: lab.targetV4, round, match: matchFingerprint(db, ours),
        fingerprint: submissionText({
          version: PRTIP_VERSION, time: new Date(), openTcpPort: OPEN, closedTcpPort: CLOSED, closedUdpPort: u1Port, privateAddress: false,
          distance: 1, distanceMethod: 'direct', good, mac: lab.targetMac, platform: platformTriple(),
        }, [ours], good),
        openTcpPort: OPEN, knownClosedTcpPort: CLOSED, closedUdpPort: u1Port, distance: { hops: 1, method: 'D' },
        unfitReason: reason, unreliable: false, guess: true, nowSeconds: Date.now() / 1000,
      });
      const ourXmlFile = join(lab.tmpDir, 'prtip-os.xml');
      const ourXml = await prtipXml([
        newHeader(['prtip scan -O']), { type: 'host', ip: lab.targetV4, state: 'up', reason: 'arp-response', time: Date.now() }, osRec, newTrailer(),
      ], ourXmlFile);
      const lint = spawnSync('xmllint', ['--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', ourXmlFile], { encoding: 'utf8' });
      t.equal(lint.status, 0, `prtip's <os> validates against nmap.dtd: ${lint.stderr.slice(0, 500)}`);
      t.same(xmlTags(ourXml, 'portused'), xmlTags(theirXml, 'portused'), '<portused>');
      t.same(xmlTags(ourXml, 'distance'), xmlTags(theirXml, 'distance'), '<distance>');
      t.same(xmlTags(ourXml, 'ipidsequence'), xmlTags(theirXml, 'ipidsequence'), '<ipidsequence> class and values');
      t.same(xmlTags(ourXml, 'tcptssequence'), xmlTags(theirXml, 'tcptssequence'), '<tcptssequence> class and values');
      const [ourSeq, theirSeq] = [xmlTags(ourXml, 'tcpsequence')[0], xmlTags(theirXml, 'tcpsequence')[0]];
      t.equal(ourSeq?.['values'], theirSeq?.['values'], '<tcpsequence> values: the same ISNs');
      t.equal(xmlTags(ourXml, 'uptime').length, xmlTags(theirXml, 'uptime').length, '<uptime> in both or neither');
      const fpOf = (xml: string) => maskedTests(parseSubmission(xmlTags(xml, 'osfingerprint')[0]?.['fingerprint'] ?? '').tests);
      t.same(fpOf(ourXml), fpOf(theirXml), '<osfingerprint> test lines (SP/ISR/TS masked)');
      if (sameTiming) {
        t.equal(ourSeq?.['index'], theirSeq?.['index'], '<tcpsequence> index');
        t.same(xmlOsMatches(ourXml), xmlOsMatches(theirXml), "<osmatch> and <osclass> elements are nmap's");
      }

      const ports = [[OPEN, 'open', 'syn-ack'], [CLOSED, 'closed', 'reset']].map(([p, state, why]) => ({
        type: 'port', ip: lab.targetV4, port: p, proto: 'tcp', state, reason: why, ttl: 64, rtt: 0.1, time: Date.now(),
      }) as AnyRecord);
      // -oN: the OS section from the record (at -vv, which shows what nmap -d shows) is nmap's.
      const ourN = await prtipXml([newHeader(['prtip scan -O']), ...ports, osRec, newTrailer()], `${ourXmlFile}.nmap`, 'normal', 2);
      // The fingerprint text itself (V=, TM= differ) is compared above; here it is one placeholder.
      const noPrint = (lines: string[]) => lines.filter((l) => !/^(OS:|(SCAN|SEQ|OPS|WIN|ECN|T[1-7]|U1|IE)\()/.test(l));
      const ourSection = noPrint(nmapOsSection(ourN));
      const theirSection = noPrint(nmapOsSection(out));
      if (sameTiming) t.same(ourSection, theirSection, "-oN's OS section is nmap's, line for line");
      else t.same(ourSection.filter((l) => !l.startsWith('TCP Sequence')), theirSection.filter((l) => !l.startsWith('TCP Sequence')), "-oN's OS section is nmap's (SP masked)");

      // -oG: the OS fields after the ports (OS: for perfect matches only, Seq Index, IP ID Seq).
      const osFieldsOf = (text: string) => /\t((?:OS|Seq Index|IP ID Seq): .*)$/m.exec(text.split('\n').find((l) => l.includes('\tPorts: ')) ?? '')?.[1] ?? '';
      const ourG = await prtipXml([newHeader(['prtip scan -O']), ...ports, osRec, newTrailer()], `${ourXmlFile}.gnmap`, 'grepable');
      const theirG = readFileSync(`${nmapXml}.gnmap`, 'utf8');
      const mask = (f: string) => (sameTiming ? f : f.replace(/Seq Index: \d+/, 'Seq Index: *'));
      t.ok(osFieldsOf(theirG).includes('IP ID Seq: '), `nmap's -oG has OS fields: ${osFieldsOf(theirG)}`);
      t.equal(mask(osFieldsOf(ourG)), mask(osFieldsOf(theirG)), "-oG OS fields are nmap's");
      t.comment(`nmap: ${expected.list.slice(0, 3).map((g) => `${g.name} (${g.percent}%)`).join(', ')}`);
    });
  }
  roundsCase('rounds with an unfit print (no U1 answer)');
}
