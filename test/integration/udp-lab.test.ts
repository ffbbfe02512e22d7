// -sU in the namespace lab: states and reasons equal nmap -sU on the same ports (open by a UDP
// reply, closed by port unreachable, filtered by other unreachables, open|filtered by silence), the
// payloads on the wire equal the ones nmap sends for each port, --data-* replace them, the
// target's ICMP rate limit is waited out (and --defeat-icmp-ratelimit does not wait), and -sV
// reaches UDP services.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { icmpRateLimit, runNmap, targetRules, udpResponders, verdictLines, type PortVerdict } from '../lab/probe-lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const RESPONDERS = [7777, 5353];
const DROPPED = 9999;
const PROHIBITED = 9998;
const HOST_UNREACH = 9997;
const CLOSED = [7, 69, 123, 161, 500, 1900];

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: ['dnsmasq'], tcpListeners: [] });
  t.teardown(() => lab.teardown());
  await udpResponders(lab, RESPONDERS);
  await targetRules(lab, [
    `udp dport ${DROPPED} counter drop`,
    `udp dport ${PROHIBITED} counter reject with icmpx type admin-prohibited`,
    `udp dport ${HOST_UNREACH} counter reject with icmpx type host-unreachable`,
  ]);
  const open = [...lab.udpOpen, ...RESPONDERS];
  const ports = [...open, DROPPED, PROHIBITED, HOST_UNREACH, ...CLOSED].sort((a, b) => a - b);
  const list = ports.join(',');
  const truth = (p: number) => open.includes(p) ? 'open udp-response' : p === DROPPED ? 'open|filtered no-response'
    : p === PROHIBITED ? 'filtered admin-prohibited' : p === HOST_UNREACH ? 'filtered host-unreach' : 'closed port-unreach';

  const prtip = async (args: string[], target = lab.targetV4) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sU', '-Pn', '-n', '--max-rtt-timeout', '300ms', '-oD', '-', ...args, target], { timeoutMs: 90_000 });
    const recs = jsonLines(r.stdout.toString());
    return { code: r.code, stderr: r.stderr, rows: recs.filter((x) => x.type === 'port') as unknown as PortVerdict[], recs };
  };
  /** Distinct payloads (hex) per destination port of the captured probes from `sport`-side sender. */
  const payloadsByPort = (packets: CapturedPacket[]) => {
    const m = new Map<number, Set<string>>();
    for (const p of packets) {
      if (p.proto !== 'udp' || p.dport === undefined || !ports.includes(p.dport)) continue;
      const set = m.get(p.dport) ?? new Set<string>();
      set.add(Buffer.from(p.payload ?? []).toString('hex'));
      m.set(p.dport, set);
    }
    return new Map([...m].map(([k, v]) => [k, [...v].sort()]));
  };

  t.test('states and reasons equal nmap -sU; the payloads equal the ones nmap sends', async (t) => {
    const capOurs = await lab.capture(`udp and dst host ${lab.targetV4} and src host ${lab.scannerV4}`);
    const ours = await prtip(['--max-retries', '2', '-p', list]);
    const ourPackets = await capOurs.stop();
    t.equal(ours.code, 0, ours.stderr);
    t.same(verdictLines(ours.rows), ports.map((p) => `${lab.targetV4} ${p}/udp ${truth(p)}`).sort(), 'as the lab is built');
    const capNmap = await lab.capture(`udp and dst host ${lab.targetV4} and src host ${lab.scannerV4}`);
    const theirs = await runNmap(lab, ['-sU', '--max-retries', '2', '-p', list, lab.targetV4]);
    const nmapPackets = await capNmap.stop();
    t.equal(theirs.code, 0, theirs.stderr);
    t.same(verdictLines(ours.rows), verdictLines(theirs.ports), 'same (port, state, reason) as nmap');
    const ourPayloads = payloadsByPort(ourPackets), nmapPayloads = payloadsByPort(nmapPackets);
    t.same(ourPayloads, nmapPayloads, 'per port, the same payloads as nmap (nmap-payloads read at run time)');
    t.ok([...ourPayloads.values()].some((l) => l.length > 1), 'some port gets more than one payload');
    t.ok([...nmapPayloads.values()].some((l) => l.length === 1 && l[0] === ''), 'nmap sent an empty datagram somewhere (and so did we)');
  });

  t.test('--data-string, --data-length and --data replace the payloads on every probe', async (t) => {
    for (const [args, check] of [
      [['--data-string', 'prtip!'], (h: string) => h === Buffer.from('prtip!').toString('hex')],
      [['--data-length', '17'], (h: string) => h.length === 34],
      [['--data', '0xdeadbeef'], (h: string) => h === 'deadbeef'],
    ] as Array<[string[], (h: string) => boolean]>) {
      const cap = await lab.capture(`udp and dst host ${lab.targetV4} and src host ${lab.scannerV4}`);
      const r = await prtip([...args, '--max-retries', '0', '-p', '53,161,7777']);
      const packets = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      const payloads = packets.filter((p) => p.proto === 'udp').map((p) => Buffer.from(p.payload ?? []).toString('hex'));
      t.equal(payloads.length, 3, `${args.join(' ')}: one datagram per port`);
      t.ok(payloads.every(check), `${args.join(' ')}: ${payloads.join(' ')}`);
    }
  });

  t.test('IPv6: the same states', async (t) => {
    const r = await prtip(['--max-retries', '2', '-p', list], lab.targetV6);
    t.equal(r.code, 0, r.stderr);
    t.same(r.rows.map((x) => `${x.port} ${x.state} ${x.reason}`).sort(), ports.map((p) => `${p} ${truth(p)}`).sort(), 'ICMPv6 codes read as nmap names them');
    const theirs = await runNmap(lab, ['-6', '-sU', '--max-retries', '2', '-p', list, lab.targetV6]);
    t.same(verdictLines(r.rows), verdictLines(theirs.ports), 'and as nmap -6 -sU');
  });

  t.test('-sV reaches UDP services found by -sU', async (t) => {
    const r = await prtip(['-sV', '-p', '53']);
    t.equal(r.code, 0, r.stderr);
    const svc = r.recs.find((x) => x.type === 'service' && x.port === 53) as { proto?: string; name?: string } | undefined;
    t.match(svc, { proto: 'udp', name: 'domain' }, 'dnsmasq identified over UDP');
  });

  t.test('-sS -sU in one run: a record per (port, protocol), each as its own scan type finds it', async (t) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sS', '-sU', '-Pn', '-n', '--max-rtt-timeout', '300ms', '--max-retries', '1',
      '-p', `53,${DROPPED},7,T:9,U:7777`, '-oD', '-', '-oX', `${lab.tmpDir}/multi.xml`, lab.targetV4], { timeoutMs: 60_000 });
    t.equal(r.code, 0, r.stderr);
    const rows = jsonLines(r.stdout.toString()).filter((x) => x.type === 'port') as unknown as PortVerdict[];
    const text = readFileSync(`${lab.tmpDir}/multi.xml`, 'utf8');
    t.same(rows.map((x) => `${x.port}/${x.proto} ${x.state}`).sort(), [
      '53/tcp open', '53/udp open', `${DROPPED}/tcp closed`, `${DROPPED}/udp open|filtered`, '7/tcp closed', '7/udp closed', '9/tcp closed', '7777/udp open',
    ].sort());
    t.match(text, /<scaninfo type="syn" protocol="tcp"/, 'XML scaninfo: syn for TCP');
    t.match(text, /<scaninfo type="udp" protocol="udp"/, 'and udp for UDP');
  });

  // Linux's default is 1/s per destination; 10/s keeps the test short and is the same mechanism
  // (a burst of 6, then one per interval): the bench runs the default.
  t.test('a target limiting ICMP to 10/s per destination: waited out, all closed; --defeat-icmp-ratelimit does not wait', async (t) => {
    await icmpRateLimit(lab, { perDestMs: 100 });
    t.teardown(() => icmpRateLimit(lab, { perDestMs: 0 }));
    const many = Array.from({ length: 40 }, (_, i) => 20000 + i);
    const r = await prtip(['-p', many.join(',')]);
    t.equal(r.code, 0, r.stderr);
    t.same(r.rows.map((x) => `${x.port} ${x.state}`).sort(), many.map((p) => `${p} closed`).sort(), 'every port closed despite the limit');
    const end = r.recs.at(-1) as { counters?: { send?: { rateLimitRounds?: number } } };
    t.ok((end.counters?.send?.rateLimitRounds ?? 0) > 0, 'the trailer counts the slowed-down rounds');
    const d = await prtip(['--defeat-icmp-ratelimit', '--max-retries', '1', '-p', many.join(',')], lab.targetV4);
    t.equal(d.code, 0, d.stderr);
    const states = new Set(d.rows.map((x) => x.state));
    t.ok(states.has('closed|filtered'), `unanswered ports are closed|filtered (${[...states].join(', ')})`);
  });
}
