// -O's fallbacks against nmap -O on the lab's Linux target, in the same run, -vv for both:
//  - a host where the scan knows only an open port (-p 8080): nmap's "OSScan results may be
//    unreliable" warning, "Missing a closed TCP port" as the unfit reason, T5–T7 to a random port
//    that does not count as closed (CT= empty), the guesses;
//  - a host where it knows only a closed port (-p 81): no SEQ/ECN/T1–T4 probes at all, nmap's
//    "Too many fingerprints match" and its print;
//  - SEQ1 lost (the target's firewall drops the first window-1 SYN once): nmap's TUI phase sends
//    SEQ1's packet again twice, on source ports of their own: as TOPS1 (before ECN, for O1/W1)
//    and as T1 (after ECN), and the T1 test comes from that reply.
// The OS sections are compared line by line, with only what depends on time or chance masked
// (SCAN's V/TM/CU, SEQ's SP/ISR/TS and GCD (random ISNs), the uptime and the sequence difficulty; of the guesses, the
// top one is compared: the rest move with SP/ISR between nmap's own runs).
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { nmapOsSection } from '../lab/os-output.js';
import { PRTIP_BIN } from '../helpers/cli.js';

const OPEN = 8080;
const CLOSED = 81;

/** The OS section with the timing- and chance-dependent values masked. */
function masked(out: string): string[] {
  // A wrapped print (OS: lines) is unwrapped into one test per line, as the unfit print is shown.
  const lines: string[] = [];
  let wrapped = '';
  for (const l of nmapOsSection(out)) {
    if (l.startsWith('OS:')) { wrapped += l.slice(3); continue; }
    if (wrapped) { lines.push(...wrapped.replace(/\)(?=.)/g, ')\n').split('\n')); wrapped = ''; }
    lines.push(l);
  }
  if (wrapped) lines.push(...wrapped.replace(/\)(?=.)/g, ')\n').split('\n'));
  return lines.map((l) => l
    .replace(/^SCAN\(V=[^%]*/, 'SCAN(V=*').replace(/%TM=[0-9A-F]+/, '%TM=*').replace(/%CU=\d*/, '%CU=*')
    .replace(/\b(SP|GCD|ISR|TS)=[0-9A-F]+/g, '$1=*')
    .replace(/^TCP Sequence Prediction: Difficulty=\d+ \(.*\)$/, 'TCP Sequence Prediction: *')
    // The guesses below the top one move with SP/ISR from run to run (nmap's own runs differ): the top one is compared.
    .replace(/^(Aggressive OS guesses: [^,]*), .*$/, '$1, …'));
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [OPEN] });
  t.teardown(() => lab.teardown());
  const nmap = (ports: string) => lab.exec(['nmap', '-O', '-vv', '--max-os-tries', '1', '-Pn', '-n', '-p', ports, lab.targetV4], { timeoutMs: 120_000 });
  const prtip = (ports: string) => lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sS', '-O', '-vv', '--max-os-tries', '1', '-p', ports, lab.targetV4], { timeoutMs: 120_000 });

  t.test('only an open port known', async (t) => {
    const theirs = await nmap(String(OPEN));
    const ours = await prtip(String(OPEN));
    t.equal(ours.code, 0, `prtip ran: ${ours.stderr}`);
    const mine = masked(ours.stdout.toString());
    t.same(mine, masked(theirs.stdout.toString()), "prtip's OS section is nmap's");
    t.equal(mine[0], 'Warning: OSScan results may be unreliable because we could not find at least 1 open and 1 closed port');
    t.ok(mine.includes('OS fingerprint not ideal because: Missing a closed TCP port so results incomplete'), 'the unfit reason');
    t.ok(mine.some((l) => l.startsWith('SCAN(') && l.includes('%CT=%')), 'the random closed port is not named in SCAN');
  });

  t.test('only a closed port known', async (t) => {
    const cap = await lab.capture(`src host ${lab.scannerV4} and dst host ${lab.targetV4} and tcp dst port ${OPEN}`);
    const theirs = await nmap(String(CLOSED));
    const ours = await prtip(String(CLOSED));
    const toOpen = await cap.stop({ settleMs: 300 });
    t.equal(ours.code, 0, `prtip ran: ${ours.stderr}`);
    const mine = masked(ours.stdout.toString());
    t.same(mine, masked(theirs.stdout.toString()), "prtip's OS section is nmap's");
    t.ok(mine.includes('Too many fingerprints match this host to give specific OS details'), "nmap's outcome");
    t.ok(mine.some((l) => l.startsWith('SCAN(') && l.includes('%OT=%CT=81%')), 'SCAN: no open port, the closed one');
    t.same(toOpen.length, 0, 'nothing went to the open port neither scan knew about');
  });

  t.test('SEQ1 lost: T1 is sent again', async (t) => {
    const dropFirstSeq1 = async () => {
      await lab.exec(['nft', 'delete', 'table', 'inet', 'seq1drop'], { ns: 'target' });
      for (const cmd of [
        ['nft', 'add', 'table', 'inet', 'seq1drop'],
        ['nft', 'add', 'chain', 'inet', 'seq1drop', 'in', '{ type filter hook input priority 0 ; }'],
        // SEQ1 and T1 are the only SYNs with window 1; the quota lets through all but the first (60 bytes).
        ['nft', 'add', 'rule', 'inet', 'seq1drop', 'in', 'tcp', 'dport', String(OPEN), 'tcp', 'flags', '&', 'syn', '==', 'syn', 'tcp', 'window', '1', 'quota', 'until', '100', 'bytes', 'drop'],
      ]) {
        const r = await lab.exec(cmd, { ns: 'target' });
        if (r.code !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
      }
    };
    const window1 = (ps: CapturedPacket[]) => ps.filter((p) => p.proto === 'tcp' && p.window === 1 && p.src === lab.scannerV4);
    const filter = `host ${lab.scannerV4} and host ${lab.targetV4}`;

    await dropFirstSeq1();
    const nmapCap = await lab.capture(filter);
    const theirs = await nmap(`${OPEN},${CLOSED}`);
    const nmapPackets = await nmapCap.stop({ settleMs: 300 });
    await dropFirstSeq1();
    const cap = await lab.capture(filter);
    const ours = await prtip(`${OPEN},${CLOSED}`);
    const packets = await cap.stop({ settleMs: 300 });
    await lab.exec(['nft', 'delete', 'table', 'inet', 'seq1drop'], { ns: 'target' });
    t.equal(ours.code, 0, `prtip ran: ${ours.stderr}`);

    const nw = window1(nmapPackets);
    const pw = window1(packets);
    t.equal(nw.length, 3, 'nmap sent SEQ1, then TOPS1 and T1');
    t.equal(pw.length, 3, 'prtip sent SEQ1, then TOPS1 and T1');
    t.equal(new Set(pw.map((p) => p.sport)).size, 3, 'each on a source port of its own');
    t.same(pw.map((p) => p.tcpOptions?.toString('hex')), nw.map((p) => p.tcpOptions?.toString('hex')), "all three are SEQ1's packet");
    t.same(pw.map((p) => (p.seq! - pw[0]!.seq!) >>> 0), nw.map((p) => (p.seq! - nw[0]!.seq!) >>> 0), 'with the same sequence numbers as nmap’s');
    // TOPS1 goes before ECN (window 3), T1 after it and before T2 (window 128), as nmap sends them.
    const at = (ps: CapturedPacket[], w: number) => ps.findIndex((p) => p.src === lab.scannerV4 && p.proto === 'tcp' && p.window === w);
    const order = (ps: CapturedPacket[]) => {
      const [, tops1, t1] = window1(ps).map((p) => ps.indexOf(p));
      return [tops1! < at(ps, 3), at(ps, 3) < t1!, t1! < at(ps, 128)];
    };
    t.same(order(packets), [true, true, true], 'prtip: TOPS1, ECN, T1, T2');
    t.same(order(nmapPackets), [true, true, true], 'nmap: TOPS1, ECN, T1, T2');
    const mine = masked(ours.stdout.toString());
    t.same(mine, masked(theirs.stdout.toString()), "prtip's OS section is nmap's (T1 and O1/W1 from the resent probes)");
    t.ok(mine.some((l) => l.startsWith('T1(R=Y%')), 'T1 was answered');
  });
}
