// -O on the wire: prtip -sS -O and nmap -O against the same lab target, each while the target
// namespace captures. prtip's 16 OS probes must be nmap's probe table field by field (probes
// recognised by the lab's own description of nmap's packets, test/lab/os-capture.ts, and compared
// with the same packet of nmap's capture), with valid checksums; prtip's printed fingerprint must
// be what its own captured exchange computes, and equal nmap's print (SP/ISR/TS within one unit of
// clock jitter); the OS section and the top guess must be nmap's. Then `prtip os` in a pipe.
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { exchangeFromCapture, type OsProbeName } from '../lab/os-capture.js';
import { nmapFingerprint, nmapGuesses, nmapOsSection } from '../lab/os-output.js';
import { PRTIP_BIN } from '../helpers/cli.js';
import { computeFingerprint, parseSubmission, firstRound, type OsFpTest } from '../../stages/os/index.js';

const OPEN = 8080;
const CLOSED = 81;
const ALL: OsProbeName[] = ['SEQ1', 'SEQ2', 'SEQ3', 'SEQ4', 'SEQ5', 'SEQ6', 'ECN', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'IE1', 'IE2', 'U1'];
const TIMING = new Set(['SEQ.SP', 'SEQ.ISR', 'SEQ.TS']);
const masked = (tests: OsFpTest[]) => tests.map((x) => `${x.name}(${x.attrs.map(([k, v]) => `${k}=${TIMING.has(`${x.name}.${k}`) ? '*' : v}`).join('%')})`);
const attr = (tests: OsFpTest[], test: string, name: string) => tests.find((x) => x.name === test)?.attrs.find(([k]) => k === name)?.[1];

/** RFC 1071 written out here, independent of native/. */
function csum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}
function checksumsValid(p: CapturedPacket): boolean {
  const ip = p.ip;
  const ihl = (ip[0]! & 15) * 4;
  const l4 = ip.subarray(ihl, ip.readUInt16BE(2));
  if (csum(ip.subarray(0, ihl)) !== 0) return false;
  if (ip[9] === 1) return csum(l4) === 0;
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, ip[9]!, l4.length >> 8, l4.length & 255])]);
  return csum(pseudo, l4) === 0;
}

/** What of a probe must be the same whoever sent it: everything but addresses, ports, random seq/ack/ids, TTL and checksums. */
function probeShape(p: CapturedPacket): unknown[] {
  const ip = p.ip;
  const ihl = (ip[0]! & 15) * 4;
  const l4 = ip.subarray(ihl, ip.readUInt16BE(2));
  const common = [ip[1], ip.readUInt16BE(2), ip.readUInt16BE(6), ip[9]];
  if (ip[9] === 6) return [...common, l4[12], l4[13], l4.readUInt16BE(14), l4.readUInt16BE(18), l4.subarray(20, (l4[12]! >> 4) * 4).toString('hex'), l4.subarray((l4[12]! >> 4) * 4).toString('hex')];
  if (ip[9] === 1) return [...common, l4[0], l4[1], l4.readUInt16BE(6), l4.subarray(8).toString('hex')];
  return [...common, ip.readUInt16BE(4), l4.readUInt16BE(4), l4.subarray(8).toString('hex')];
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [OPEN] });
  t.teardown(() => lab.teardown());
  const filter = `host ${lab.targetV4} and host ${lab.scannerV4}`;
  const prtip = (args: string[]) => lab.exec([process.execPath, PRTIP_BIN, ...args], { timeoutMs: 120_000 });

  t.test('prtip -sS -O against nmap -O on the same target', async (t) => {
    const nmapCap = await lab.capture(filter);
    const nmap = await lab.exec(['nmap', '-O', '--osscan-guess', '--max-os-tries', '1', '-Pn', '-n', '-p', `${OPEN},${CLOSED}`, lab.targetV4], { timeoutMs: 120_000 });
    const nmapPackets = await nmapCap.stop({ settleMs: 300 });
    t.equal(nmap.code, 0, `nmap ran: ${nmap.stderr}`);
    const nmapOut = nmap.stdout.toString();

    const cap = await lab.capture(filter);
    const ours = await prtip(['scan', '-sS', '-O', '--osscan-guess', '--max-os-tries', '1', '-p', `${OPEN},${CLOSED}`, lab.targetV4]);
    const packets = await cap.stop({ settleMs: 300 });
    t.equal(ours.code, 0, `prtip ran: ${ours.stderr}`);
    const out = ours.stdout.toString();

    // The wire: all 16 probes, once each (nothing is lost in the lab), shaped as nmap's.
    const ex = exchangeFromCapture(packets, lab.scannerV4, lab.targetV4, OPEN, CLOSED);
    const theirEx = exchangeFromCapture(nmapPackets, lab.scannerV4, lab.targetV4, OPEN, CLOSED);
    t.same(ALL.filter((n) => !ex.probes.has(n)), [], "every one of nmap's 16 OS probes is in prtip's capture");
    const sends = (e: typeof ex) => ALL.map((n) => `${n}×${e.probes.get(n)?.sends ?? 0}`);
    t.same(sends(ex), sends(theirEx), 'each probe went out as often as nmap sent it');
    for (const n of ALL) {
      const mine = ex.probes.get(n)?.packet;
      const theirs = theirEx.probes.get(n)?.packet;
      if (!mine || !theirs) { t.fail(`${n} missing from a capture`); continue; }
      t.same(probeShape(mine), probeShape(theirs), `${n}: prtip's packet has nmap's TOS, length, DF, flags, window, urgent pointer, options, payload`);
      t.ok(checksumsValid(mine), `${n}: IP and L4 checksums valid`);
    }
    const seq1 = ex.probes.get('SEQ1')!.packet;
    for (const [i, n] of ALL.slice(0, 6).entries()) t.equal(ex.probes.get(n)!.packet.seq, (seq1.seq! + i) >>> 0, `${n} seq = base + ${i}`);
    const order = ALL.slice(0, 6).map((n) => ex.probes.get(n)!.packet.time);
    t.same([...order].sort((a, b) => a - b), order, 'SEQ1–6 leave in order');
    const u1 = ex.probes.get('U1')!.packet;
    t.equal(u1.ipId, 0x1042, 'U1 IP ID 0x1042');

    // The print: prtip's equals what its captured exchange computes, and nmap's (timing masked).
    const ourPrint = parseSubmission(nmapFingerprint(out));
    const theirPrint = parseSubmission(nmapFingerprint(nmapOut));
    const fromWire = computeFingerprint(ex.context, ex.replies).fingerprint.tests;
    t.same(masked(firstRound(ourPrint.tests).tests), masked(fromWire), "prtip's printed fingerprint is its captured exchange's");
    t.same(masked(firstRound(ourPrint.tests).tests), masked(firstRound(theirPrint.tests).tests), "prtip's fingerprint is nmap's (SP/ISR/TS masked)");
    // SP/ISR/TS come from the target's random ISNs and clock: two separate runs differ beyond
    // jitter, so they are checked against prtip's own captured exchange (one unit: send clock vs
    // capture clock), and against nmap only for presence.
    const wireTests = computeFingerprint(ex.context, ex.replies).fingerprint.tests;
    for (const key of TIMING) {
      const [test, a] = key.split('.') as [string, string];
      const mine = attr(ourPrint.tests, test, a);
      const wire = attr(wireTests, test, a);
      t.equal(mine === undefined, attr(theirPrint.tests, test, a) === undefined, `${key} present in prtip's and nmap's prints or in neither`);
      if (mine !== undefined && wire !== undefined && /^[0-9A-F]+$/.test(wire)) t.ok(Math.abs(parseInt(mine, 16) - parseInt(wire, 16)) <= 1, `${key}: printed ${mine}, from the capture ${wire} (one unit of clock jitter at most)`);
      else t.equal(mine, wire, key);
    }
    const sameTiming = [...TIMING].every((k) => { const [x, a] = k.split('.') as [string, string]; return attr(ourPrint.tests, x, a) === attr(theirPrint.tests, x, a); });
    // CU: both pick a random closed UDP port in 30000–44780 when the scan found none.
    for (const p of [ourPrint, theirPrint]) t.ok(Number(p.scan?.['CU']) >= 30000 && Number(p.scan?.['CU']) <= 44780, `CU ${p.scan?.['CU']} in 30000–44780`);
    for (const k of ['E', 'OT', 'CT', 'PV', 'DS', 'DC', 'G', 'M', 'P']) t.equal(ourPrint.scan?.[k], theirPrint.scan?.[k], `SCAN ${k}`);

    // The report: nmap's OS section (fingerprint and SP-dependent lines aside) and top guess.
    const noPrint = (lines: string[]) => lines.filter((l) => !/^(OS:|TCP Sequence|(SCAN|SEQ|OPS|WIN|ECN|T[1-7]|U1|IE)\()/.test(l));
    // Different SP/ISR reorder references tied on the rest: then the guess line is left to the top-guess check.
    const section = (o: string) => noPrint(nmapOsSection(o)).filter((l) => sameTiming || !l.startsWith('Aggressive OS guesses:'));
    t.same(section(out), section(nmapOut), `prtip's OS section is nmap's${sameTiming ? '' : ' (guess line aside: SP/ISR differ between the runs)'}`);
    const mine = nmapGuesses(out);
    const theirs = nmapGuesses(nmapOut);
    t.ok(theirs.list.length > 0, 'nmap printed OS details or guesses');
    // With equal SP/ISR/TS the two prints score alike: the same top accuracy. With different ones
    // (separate runs see different random ISNs) those attributes' MatchPoints move a reference by
    // about a point either way, so the top guess must be within one point of nmap's best.
    const slack = sameTiming ? 0 : 1;
    const top = theirs.list[0]!.percent;
    const tops = theirs.list.filter((g) => g.percent >= top - slack).map((g) => g.name);
    t.ok(tops.includes(mine.list[0]?.name ?? ''), `prtip's top guess ${mine.list[0]?.name} (${mine.list[0]?.percent}%) is one of nmap's best: ${tops.join(', ')} (${top}%)`);
    t.ok(Math.abs((mine.list[0]?.percent ?? -99) - top) <= slack, `top accuracy ${mine.list[0]?.percent}% vs nmap's ${top}%${sameTiming ? '' : ' (SP/ISR/TS differ between the runs: one point either way)'}`);
    t.comment(`prtip: ${mine.list.slice(0, 3).map((g) => `${g.name} (${g.percent}%)`).join(', ')}`);
  });

  t.test('prtip os in a pipe after send', async (t) => {
    const cap = await lab.capture(filter);
    const cmd = `${process.execPath} ${PRTIP_BIN} targets ${lab.targetV4} -p ${OPEN},${CLOSED} | ${process.execPath} ${PRTIP_BIN} send -sS | ${process.execPath} ${PRTIP_BIN} os --max-os-tries 1 | ${process.execPath} ${PRTIP_BIN} format -oD -`;
    const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs: 120_000 });
    const packets = await cap.stop({ settleMs: 300 });
    t.equal(r.code, 0, r.stderr);
    const recs = r.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const os = recs.filter((x) => x.type === 'os');
    t.equal(os.length, 1, 'one os record');
    t.equal(os[0]?.ip, lab.targetV4);
    t.same(os[0]?.portsUsed, [{ state: 'open', proto: 'tcp', port: OPEN }, { state: 'closed', proto: 'tcp', port: CLOSED }, { state: 'closed', proto: 'udp', port: (os[0]?.portsUsed as Array<{ port: number }>)?.[2]?.port }].filter((p) => p.port !== undefined), 'the ports used: the scanned open and closed ones');
    const ex = exchangeFromCapture(packets, lab.scannerV4, lab.targetV4, OPEN, CLOSED);
    t.same(ALL.filter((n) => !ex.probes.has(n)), [], 'all 16 probes on the wire');
    const print = parseSubmission(String(os[0]?.fingerprint ?? ''));
    t.same(masked(firstRound(print.tests).tests), masked(computeFingerprint(ex.context, ex.replies).fingerprint.tests), "the record's fingerprint is the captured exchange's");
  });
}
