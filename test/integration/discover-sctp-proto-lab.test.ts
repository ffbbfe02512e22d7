// -PY (SCTP INIT ping) and -PO (IP protocol ping) in the namespace lab, against nmap -sn with the
// same options on the same hosts in the same run: the on-link target with the userspace SCTP
// endpoint (test/lab/sctp-responder.py; --disable-arp-ping so the probes, not ARP, decide, for
// both scanners), routed AnyIP hosts that answer everything, hosts that answer -PO only with a
// protocol unreachable (ICMP dropped on the way in), and hosts that drop everything. The capture
// in the target namespace checks the probes' wire form against nmap's own probes.
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { targetRules } from '../lab/probe-lab.js';
import { sctpChecksumOk, sctpResponder } from '../lab/sctp-lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const LIVE = '198.19.0.0/24';
const ICMP_BLIND = '198.19.1.0/24';
const DROPPED = '198.19.2.0/24';

interface HostRow { ip: string; state: string; reason: string }

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [], anyIpV4: '198.19.0.0/16' });
  t.teardown(() => lab.teardown());
  await sctpResponder(lab, [80]);
  const tgt = async (argv: string[], input?: string) => {
    const r = await lab.exec(argv, { ns: 'target', ...(input !== undefined ? { input } : {}) });
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  await tgt(['ip', 'route', 'del', 'local', '198.19.0.0/16', 'dev', 'lo', 'table', 'local']);
  for (const net of [LIVE, ICMP_BLIND, DROPPED]) await tgt(['ip', 'route', 'add', 'local', net, 'dev', 'lo']);
  await tgt(['sysctl', '-q', '-w', 'net.ipv4.icmp_ratelimit=0']);
  // The responder's table drops every protocol unreachable the kernel sends (they would contradict
  // the endpoint); only the endpoint's address needs that: the AnyIP hosts must send theirs.
  await tgt(['nft', '-f', '-'], [
    'flush chain inet sctp_lab output',
    `add rule inet sctp_lab output ip saddr ${lab.targetV4} icmp type destination-unreachable icmp code prot-unreachable drop`,
    `add rule inet sctp_lab output ip6 saddr ${lab.targetV6} icmpv6 type parameter-problem icmpv6 code 1 drop`, ''].join('\n'));
  await targetRules(lab, [`ip daddr ${ICMP_BLIND} ip protocol icmp drop`, `ip daddr ${DROPPED} drop`]);

  const hosts = ['198.19.0.5', '198.19.0.6', '198.19.1.5', '198.19.1.6', '198.19.2.5'];
  const prtip = async (args: string[], targets: string[]) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sn', '-n', '--max-retries', '1', '--disable-arp-ping', '-oD', '-', ...args, ...targets], { timeoutMs: 60_000 });
    const rows = jsonLines(r.stdout.toString()).filter((x) => x.type === 'host') as unknown as HostRow[];
    return { code: r.code, stderr: r.stderr, lines: rows.map((h) => `${h.ip} ${h.state} ${h.state === 'up' ? h.reason : ''}`.trim()).sort() };
  };
  const nmap = async (args: string[], targets: string[]) => {
    const r = await lab.exec(['nmap', '-sn', '-n', '--max-retries', '1', '--disable-arp-ping', '-v', '-oX', '-', ...args, ...targets], { timeoutMs: 120_000 });
    const lines: string[] = [];
    for (const h of r.stdout.toString().split(/<host[ >]/).slice(1)) {
      const ip = /<address addr="([^"]+)" addrtype="ipv[46]"/.exec(h)?.[1];
      const st = /<status state="(\w+)" reason="([^"]+)"/.exec(h);
      if (ip && st) lines.push(`${ip} ${st[1]} ${st[1] === 'up' ? st[2] : ''}`.trim());
    }
    return { code: r.code, stderr: r.stderr, lines: lines.sort() };
  };
  const l4 = (p: CapturedPacket) => (p.family === 4 ? p.ip.subarray((p.ip[0]! & 15) * 4) : p.ip.subarray(40));

  t.test('-PY: INIT-ACK from a listening port, ABORT from a closed one, silence where no endpoint is: as nmap -sn -PY', async (t) => {
    const targets = [lab.targetV4, ...hosts];
    for (const [flag, reason] of [['-PY', 'init-ack'], ['-PY81', 'abort']] as const) {
      const cap = await lab.capture(`sctp and src host ${lab.scannerV4}`);
      const ours = await prtip([flag], targets);
      const ourPackets = (await cap.stop()).map(l4);
      t.equal(ours.code, 0, ours.stderr);
      const truth = [`${lab.targetV4} up ${reason}`, ...hosts.map((h) => `${h} down`)].sort();
      t.same(ours.lines, truth, `${flag}: the endpoint's host up (${reason}), the AnyIP hosts (no SCTP endpoint there) down`);
      const capN = await lab.capture(`sctp and src host ${lab.scannerV4}`);
      const theirs = await nmap([flag], targets);
      const nmapPackets = (await capN.stop()).map(l4);
      t.equal(theirs.code, 0, theirs.stderr);
      t.same(ours.lines, theirs.lines, `${flag}: the same hosts up, for the same reason, as nmap -sn ${flag}`);
      const port = flag === '-PY' ? 80 : 81;
      t.ok(ourPackets.length >= targets.length, 'an INIT per host went out');
      t.ok(ourPackets.every((s) => s.readUInt16BE(2) === port && s[12] === 1 && s.readUInt32BE(4) === 0), `every probe: INIT to ${port}, vtag 0`);
      t.ok(ourPackets.every(sctpChecksumOk), 'every CRC32c checks out');
      t.same([...new Set(ourPackets.map((s) => `${s.readUInt16BE(2)} ${s[12]} ${s.readUInt16BE(14)}`))],
        [...new Set(nmapPackets.map((s) => `${s.readUInt16BE(2)} ${s[12]} ${s.readUInt16BE(14)}`))], 'the same port, chunk and chunk length as nmap\'s probes');
    }
  });

  t.test('-PO: an answer in the protocol from live hosts, a protocol unreachable, nothing from dropped hosts: as nmap -sn -PO', async (t) => {
    const cap = await lab.capture(`dst net 198.19.0.0/16 and src host ${lab.scannerV4}`);
    const ours = await prtip(['-PO'], hosts);
    const ourPackets = await cap.stop();
    t.equal(ours.code, 0, ours.stderr);
    const capN = await lab.capture(`dst net 198.19.0.0/16 and src host ${lab.scannerV4}`);
    const theirs = await nmap(['-PO'], hosts);
    const nmapPackets = await capN.stop();
    t.equal(theirs.code, 0, theirs.stderr);
    t.same(ours.lines, theirs.lines, 'the same hosts up, for the same reason, as nmap -sn -PO');
    // Live hosts answer the echo, the dropping host nothing (ICMP-blind ones answer IP-in-IP with a
    // protocol unreachable unless the kernel has the ipip module: nmap decides that one above).
    t.same(ours.lines.filter((l) => !l.startsWith('198.19.1.')), ['198.19.0.5 up proto-response', '198.19.0.6 up proto-response', '198.19.2.5 down']);
    // The wire: protocols 1, 2 and 4, each shaped as nmap shapes it (IP length, first L4 byte). To
    // a down host nmap sends every probe; to a live one it stops at the first answer (a subset).
    const shape = (ps: CapturedPacket[], dst: string) => [...new Set(ps.filter((p) => p.dst === dst).map((p) => `${p.protoNumber} ${p.length} ${l4(p)[0] ?? '-'}`))].sort();
    t.same(shape(ourPackets, '198.19.2.5'), ['1 28 8', '2 28 17', '4 20 -'], 'ICMP echo (28 bytes), IGMP query (type 0x11), bare IP-in-IP header');
    t.same(shape(ourPackets, '198.19.2.5'), shape(nmapPackets, '198.19.2.5'), 'as nmap\'s -PO probes to the same host');
    for (const h of hosts) {
      const mine = new Set(shape(ourPackets, h));
      t.ok(shape(nmapPackets, h).every((k) => mine.has(k)), `${h}: every probe shape nmap sent, prtip sent`);
    }
    t.same([...new Set(ourPackets.map((p) => p.protoNumber))].sort(), [1, 2, 4], 'protocols 1, 2, 4 only');
    // A host answering only with a protocol unreachable (ICMP dropped inbound, protocol 99 unknown to its kernel).
    const unreach = await prtip(['-PO99'], ['198.19.1.5', '198.19.2.5']);
    t.same(unreach.lines, ['198.19.1.5 up proto-unreach', '198.19.2.5 down'], '-PO99: protocol unreachable proves the host up');
    t.same(unreach.lines, (await nmap(['-PO99'], ['198.19.1.5', '198.19.2.5'])).lines, '-PO99: as nmap');
    const two = await prtip(['-PO6,17'], ['198.19.1.5', '198.19.2.5']);
    t.same(two.lines, (await nmap(['-PO6,17'], ['198.19.1.5', '198.19.2.5'])).lines, '-PO6,17: as nmap (the RST to the TCP ACK)');
  });

  t.test('IPv6: -PO as nmap -6 -sn; -PY by the endpoint\'s answer', async (t) => {
    const po = await prtip(['-6', '-PO'], [lab.targetV6]);
    t.equal(po.code, 0, po.stderr);
    t.same(po.lines, (await nmap(['-6', '-PO'], [lab.targetV6])).lines, '-6 -PO: as nmap');
    for (const [flag, chunk, reason] of [['-PY', 2, 'init-ack'], ['-PY81', 6, 'abort']] as const) {
      const cap = await lab.capture('ip6 and sctp');
      const ours = await prtip(['-6', flag], [lab.targetV6]);
      const packets = await cap.stop();
      t.equal(ours.code, 0, ours.stderr);
      t.same(ours.lines, [`${lab.targetV6} up ${reason}`], `-6 ${flag}: up by the endpoint's ${reason}`);
      t.ok(packets.some((p) => p.src === lab.scannerV6 && l4(p)[12] === 1 && sctpChecksumOk(l4(p))), 'an INIT over IPv6 with a good CRC32c went out');
      t.ok(packets.some((p) => p.dst === lab.scannerV6 && l4(p)[12] === chunk), `and the endpoint answered it (chunk ${chunk})`);
      // nmap 7.93 sends the same INIT over IPv6 and gets the same answer, but reports the host down
      // (its IPv6 SCTP ping does not match the reply): shown for the record, not a reference here.
      t.comment(`nmap -6 -sn ${flag}: ${(await nmap(['-6', flag], [lab.targetV6])).lines.join('; ')}`);
    }
  });

  t.test('before a port scan: -PY decides which hosts are port-scanned', async (t) => {
    const cap = await lab.capture(`tcp and src host ${lab.scannerV4}`);
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sS', '-n', '-p', '7', '--disable-arp-ping', '-PY', '-oD', '-', lab.targetV4, '198.19.0.5'], { timeoutMs: 60_000 });
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const rows = jsonLines(r.stdout.toString());
    t.same(rows.filter((x) => x.type === 'host').map((h) => `${h.ip} ${h.state} ${h.reason}`).sort(), [`${lab.targetV4} up init-ack`, '198.19.0.5 down no-response']);
    t.same(rows.filter((x) => x.type === 'port').map((p) => `${p.ip}:${p.port} ${p.state}`), [`${lab.targetV4}:7 closed`]);
    t.notOk(packets.some((p) => p.dst === '198.19.0.5'), 'no port probe to the host -PY found down');
  });
}
