// FIN, NULL, Xmas, Maimon, ACK, Window and --scanflags in the namespace lab: states and reasons
// equal nmap's same scan on the same ports (open, closed, dropped and ICMP-rejected ports), and
// the target's capture shows exactly the flags asked for on every probe.
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { runNmap, targetRules, verdictLines, type PortVerdict } from '../lab/probe-lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const DROPPED = 9999;
const PROHIBITED = 9998; // ICMP 3/13
const HOST_UNREACH = 9997; // ICMP 3/1
const CLOSED = [1, 7, 443];

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [8080, 31337] });
  t.teardown(() => lab.teardown());
  await targetRules(lab, [
    `tcp dport ${DROPPED} counter drop`,
    `tcp dport ${PROHIBITED} counter reject with icmpx type admin-prohibited`,
    `tcp dport ${HOST_UNREACH} counter reject with icmpx type host-unreachable`,
  ]);
  const ports = [...lab.tcpOpen, DROPPED, PROHIBITED, HOST_UNREACH, ...CLOSED].sort((a, b) => a - b);
  const list = ports.join(',');

  const prtip = async (args: string[], target = lab.targetV4) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-Pn', '-n', '--max-retries', '1', '--max-rtt-timeout', '300ms', '-p', list, '-oD', '-', ...args, target], { timeoutMs: 60_000 });
    const rows = jsonLines(r.stdout.toString()).filter((x) => x.type === 'port') as unknown as PortVerdict[];
    return { code: r.code, stderr: r.stderr, rows };
  };

  const cases: Array<{ args: string[]; flags: string; expect: { open: string; closed: string; silence?: string } }> = [
    { args: ['-sF'], flags: 'F', expect: { open: 'open|filtered no-response', closed: 'closed reset' } },
    { args: ['-sN'], flags: '', expect: { open: 'open|filtered no-response', closed: 'closed reset' } },
    { args: ['-sX'], flags: 'FPU', expect: { open: 'open|filtered no-response', closed: 'closed reset' } },
    // Linux resets any segment with ACK that reaches a listening socket: Maimon finds no open|filtered here
    { args: ['-sM'], flags: 'FA', expect: { open: 'closed reset', closed: 'closed reset', silence: 'open|filtered no-response' } },
    { args: ['-sA'], flags: 'A', expect: { open: 'unfiltered reset', closed: 'unfiltered reset' } },
    { args: ['-sW'], flags: 'A', expect: { open: 'closed reset', closed: 'closed reset' } },
    // --scanflags: SYN-scan semantics (the default type) with FIN+PSH+URG on the wire
    { args: ['--scanflags', 'URGPSHFIN'], flags: 'FPU', expect: { open: 'filtered no-response', closed: 'closed reset' } },
    { args: ['-sA', '--scanflags', '0x12'], flags: 'SA', expect: { open: 'unfiltered reset', closed: 'unfiltered reset' } },
  ];

  for (const c of cases) {
    t.test(`${c.args.join(' ')}: nmap's states and reasons; probes carry exactly ${c.flags || 'no flags'}`, async (t) => {
      const cap = await lab.capture(`tcp and dst host ${lab.targetV4} and src host ${lab.scannerV4}`, { snaplen: 128 });
      const ours = await prtip(c.args);
      const packets: CapturedPacket[] = await cap.stop();
      t.equal(ours.code, 0, ours.stderr);
      const theirs = await runNmap(lab, [...c.args, '--max-retries', '1', '-p', list, lab.targetV4]);
      t.equal(theirs.code, 0, theirs.stderr);
      t.equal(theirs.ports.length, ports.length, 'nmap reported every port');
      t.same(verdictLines(ours.rows), verdictLines(theirs.ports), 'same (port, state, reason) as nmap');
      // ground truth too, so both scanners being wrong alike cannot pass
      const silence = c.expect.silence ?? (c.expect.open.includes('|') ? 'open|filtered no-response' : 'filtered no-response');
      const want = (p: number) => lab.tcpOpen.includes(p) ? c.expect.open : CLOSED.includes(p) ? c.expect.closed
        : p === PROHIBITED ? 'filtered admin-prohibited' : p === HOST_UNREACH ? 'filtered host-unreach' : silence;
      t.same(verdictLines(ours.rows), ports.map((p) => `${lab.targetV4} ${p}/tcp ${want(p)}`).sort(), 'and as the lab is built');
      const probes = packets.filter((p) => p.sport !== undefined && p.sport >= 1024 && ports.includes(p.dport ?? -1));
      t.ok(probes.length >= ports.length, `${probes.length} probes captured`);
      const letters = [...new Set(probes.map((p) => p.flags))];
      t.same(letters, [c.flags], `every probe has exactly ${c.flags || 'no flags'}`);
    });
  }

  t.test('IPv6: every flag scan equals nmap -6 with the same type', async (t) => {
    const types = ['-sS', '-sF', '-sN', '-sX', '-sM', '-sA', '-sW'];
    const ours = await Promise.all(types.map((type) => prtip([type], lab.targetV6)));
    const theirs = await Promise.all(types.map((type) => runNmap(lab, ['-6', type, '--max-retries', '1', '-p', list, lab.targetV6])));
    types.forEach((type, i) => {
      t.equal(ours[i]!.code, 0, ours[i]!.stderr);
      t.equal(theirs[i]!.ports.length, ports.length, `${type}: nmap reported every port`);
      t.same(verdictLines(ours[i]!.rows), verdictLines(theirs[i]!.ports), `${type} over IPv6: same (port, state, reason) as nmap`);
    });
    t.ok(ours[0]!.rows.some((r) => r.reason === 'admin-prohibited'), 'ICMPv6 errors were part of it');
  });

  t.test('refusals: one line each', async (t) => {
    for (const [args, re] of [
      [['-sT', '--scanflags', 'FIN'], /--scanflags applies to raw scans/],
      [['-sU', '--scanflags', 'FIN'], /--scanflags sets TCP flags/],
      [['-sF', '-sA'], /one scan type per protocol/],
      [['-sS', '--scanflags', 'BOGUS'], /--scanflags "BOGUS": unknown flag/],
    ] as Array<[string[], RegExp]>) {
      const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', ...args, '-p', '80', lab.targetV4], { timeoutMs: 30_000 });
      t.equal(r.code, 1, args.join(' '));
      t.match(r.stderr, re);
      t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
  });
}
