// -sY and -sZ in the namespace lab, against a userspace SCTP endpoint (test/lab/sctp-responder.py:
// the kernel has no SCTP): states and reasons equal nmap's same scan on the same ports in the same
// run (open by INIT-ACK, closed by ABORT, filtered by silence or admin-prohibited, open|filtered by
// a COOKIE-ECHO's silence), the chunks on the wire with checksums checked here (and nmap's pass the
// same check), --badsum probes the endpoint drops, IPv6, and the XML scaninfo.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { runNmap, targetRules, verdictLines, type PortVerdict } from '../lab/probe-lab.js';
import { sctpChecksumOk, sctpResponder } from '../lab/sctp-lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const LISTENING = [80, 2905];
const CLOSED = [81, 3868];
const DROPPED = 9999;
const PROHIBITED = 9998;
const PORTS = [...LISTENING, ...CLOSED, DROPPED, PROHIBITED].sort((a, b) => a - b);

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [] });
  t.teardown(() => lab.teardown());
  await sctpResponder(lab, LISTENING);
  await targetRules(lab, [`sctp dport ${DROPPED} counter drop`, `sctp dport ${PROHIBITED} counter reject with icmpx type admin-prohibited`]);

  const prtip = async (args: string[], target = lab.targetV4) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-Pn', '-n', '--max-retries', '1', '--max-rtt-timeout', '300ms', '-oD', '-', ...args, target], { timeoutMs: 60_000 });
    return { code: r.code, stderr: r.stderr, rows: jsonLines(r.stdout.toString()).filter((x) => x.type === 'port') as unknown as PortVerdict[] };
  };
  const sctpOut = (packets: CapturedPacket[]) => packets.filter((p) => p.protoNumber === 132).map((p) => p.ip!.subarray((p.ip![0]! & 15) * 4));
  const list = PORTS.join(',');

  for (const [flag, truth] of [
    ['-sY', (p: number) => LISTENING.includes(p) ? 'open init-ack' : CLOSED.includes(p) ? 'closed abort' : p === DROPPED ? 'filtered no-response' : 'filtered admin-prohibited'],
    ['-sZ', (p: number) => LISTENING.includes(p) ? 'open|filtered no-response' : CLOSED.includes(p) ? 'closed abort' : p === DROPPED ? 'open|filtered no-response' : 'filtered admin-prohibited'],
  ] as Array<[string, (p: number) => string]>) {
    const chunk = flag === '-sY' ? 1 : 10;
    t.test(`${flag}: as the lab is built, as nmap ${flag} finds it, the chunks on the wire`, async (t) => {
      const cap = await lab.capture(`sctp and src host ${lab.scannerV4}`);
      const ours = await prtip([flag, '-p', list, '-oX', `${lab.tmpDir}/${flag}.xml`]);
      const ourPackets = sctpOut(await cap.stop());
      t.equal(ours.code, 0, ours.stderr);
      t.same(verdictLines(ours.rows), PORTS.map((p) => `${lab.targetV4} ${p}/sctp ${truth(p)}`).sort(), 'as the lab is built');
      const capN = await lab.capture(`sctp and src host ${lab.scannerV4}`);
      const theirs = await runNmap(lab, [flag, '--max-retries', '1', '-p', list, lab.targetV4]);
      const nmapPackets = sctpOut(await capN.stop());
      t.equal(theirs.code, 0, theirs.stderr);
      t.same(verdictLines(ours.rows), verdictLines(theirs.ports), `the same (port, state, reason) as nmap ${flag}`);
      t.ok(ourPackets.length >= PORTS.length, 'a probe per port went out');
      t.ok(ourPackets.every((s) => s[12] === chunk), `every probe carries chunk ${chunk}`);
      t.ok(ourPackets.every(sctpChecksumOk), 'every CRC32c checks out');
      t.ok(nmapPackets.length > 0 && nmapPackets.every(sctpChecksumOk), 'and nmap\'s pass the same check');
      t.same(ourPackets.map((s) => s.readUInt16BE(14)), ourPackets.map(() => (chunk === 1 ? 20 : 8)), 'chunk length as nmap sends it');
      t.same([...new Set(ourPackets.map((s) => s[12]))], [...new Set(nmapPackets.map((s) => s[12]))], 'the same chunk type as nmap');
      if (chunk === 1) t.ok(ourPackets.every((s) => s.readUInt32BE(4) === 0 && s.readUInt32BE(16) !== 0), 'INIT: vtag 0, an initiate tag');
      else t.ok(ourPackets.every((s) => s.readUInt32BE(4) !== 0), 'COOKIE-ECHO: a vtag');
      const xml = readFileSync(`${lab.tmpDir}/${flag}.xml`, 'utf8');
      t.match(xml, new RegExp(`<scaninfo type="${flag === '-sY' ? 'sctpinit' : 'sctpcookieecho'}" protocol="sctp" numservices="6"`));
    });
  }

  t.test('1,000 ports at full speed: every one decided as nmap decides it', async (t) => {
    const r = await prtip(['-sY', '-p', '1-1000']);
    t.equal(r.code, 0, r.stderr);
    t.same(r.rows.filter((x) => x.state !== 'closed').map((x) => `${x.port} ${x.state} ${x.reason}`), ['80 open init-ack'], 'port 80 open, the other 999 closed');
    t.equal(r.rows.length, 1000);
    const theirs = await runNmap(lab, ['-sY', '-p', '1-1000', lab.targetV4]);
    t.same(theirs.ports.filter((x) => x.state !== 'closed').map((x) => `${x.port} ${x.state} ${x.reason}`), ['80 open init-ack'], 'as nmap -sY');
  });

  t.test('-sS -sY in one run: a record per (port, protocol), XML scaninfo for both', async (t) => {
    const r = await prtip(['-sS', '-sY', '-p', 'T:81,S:80,81', '-oX', `${lab.tmpDir}/mixed.xml`]);
    t.equal(r.code, 0, r.stderr);
    t.same(r.rows.map((x) => `${x.port}/${x.proto} ${x.state}`).sort(), ['80/sctp open', '81/sctp closed', '81/tcp closed']);
    const xml = readFileSync(`${lab.tmpDir}/mixed.xml`, 'utf8');
    t.match(xml, /<scaninfo type="syn" protocol="tcp"/);
    t.match(xml, /<scaninfo type="sctpinit" protocol="sctp"/);
  });

  t.test('--badsum: the endpoint drops every probe, so nothing is open', async (t) => {
    const r = await prtip(['-sY', '--badsum', '--max-retries', '0', '-p', LISTENING.join(',')]);
    t.equal(r.code, 0, r.stderr);
    t.same(r.rows.map((x) => `${x.port} ${x.state}`).sort(), LISTENING.map((p) => `${p} filtered`).sort());
  });

  t.test('IPv6: the same states, as nmap -6 -sY', async (t) => {
    const r = await prtip(['-sY', '-p', list], lab.targetV6);
    t.equal(r.code, 0, r.stderr);
    const truth = (p: number) => LISTENING.includes(p) ? 'open init-ack' : CLOSED.includes(p) ? 'closed abort' : p === DROPPED ? 'filtered no-response' : 'filtered admin-prohibited';
    t.same(r.rows.map((x) => `${x.port} ${x.state} ${x.reason}`).sort(), PORTS.map((p) => `${p} ${truth(p)}`).sort());
    const theirs = await runNmap(lab, ['-6', '-sY', '--max-retries', '1', '-p', list, lab.targetV6]);
    t.same(verdictLines(r.rows), verdictLines(theirs.ports), 'as nmap -6 -sY');
  });
}
