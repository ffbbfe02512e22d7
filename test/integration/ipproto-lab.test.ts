// -sO in the namespace lab: all 256 IP protocols of a Linux target, states and reasons equal
// `nmap -sO` on the same target in the same run (open by an answer in the protocol or a port
// unreachable, closed by protocol unreachable, filtered by nftables' admin-prohibited, open|filtered
// by silence), the probes on the wire (one per protocol, the right header for ICMP, IGMP, TCP,
// UDP, SCTP), and the outputs: PROTOCOL table, -oX protocol="ip", -oG Protocols:, -oJ and the DB.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { createLab, labSkipReason } from '../lab/lab.js';
import { icmpRateLimit, nmapXmlPorts, targetRules, verdictLines, type PortVerdict } from '../lab/probe-lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const DROPPED = 47; // GRE: nftables drops it → silence
const PROHIBITED = 50; // ESP: nftables rejects it with admin-prohibited

/** nmap's <port>s and the ports its <extraports> summarise (their extrareasons list them), for -sO ("n/a" is ip). */
function nmapAllPorts(xml: string, ip: string): PortVerdict[] {
  const out = nmapXmlPorts(xml);
  for (const m of xml.matchAll(/<extraports state="([^"]+)"[^>]*>\s*((?:<extrareasons [^>]*>\s*)+)/g)) {
    for (const r of m[2]!.matchAll(/<extrareasons reason="([^"]+)" count="\d+" proto="([^"]+)" ports="([^"]+)"/g)) {
      for (const part of r[3]!.split(',')) {
        const [a, b] = part.split('-').map(Number);
        for (let p = a!; p <= (b ?? a!); p++) out.push({ ip, port: p, proto: r[2] === 'n/a' ? 'ip' : r[2]!, state: m[1]!, reason: r[1]! });
      }
    }
  }
  return out;
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [] });
  t.teardown(() => lab.teardown());
  // 256 protocol unreachables at once: no per-destination limit, and a global burst that takes them.
  await icmpRateLimit(lab, { perDestMs: 0, global: { perSec: 100_000, burst: 100_000 } });
  await targetRules(lab, [`meta l4proto ${DROPPED} counter drop`, `meta l4proto ${PROHIBITED} counter reject with icmpx type admin-prohibited`]);

  t.test('all 256 protocols: as the lab is built, and as nmap -sO finds them', async (t) => {
    // A small snaplen and a rate tcpdump keeps up with: a burst of 256 probes overruns its ring otherwise.
    const cap = await lab.capture(`src host ${lab.scannerV4} and dst host ${lab.targetV4}`, { snaplen: 128 });
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sO', '-Pn', '-n', '--reason', '--max-retries', '2', '--max-rtt-timeout', '300ms', '--max-rate', '2000',
      '-oD', `${lab.tmpDir}/o.jsonl`, '-oX', `${lab.tmpDir}/o.xml`, '-oG', `${lab.tmpDir}/o.gnmap`, '-oJ', `${lab.tmpDir}/o.json`,
      '--db', `${lab.tmpDir}/o.duckdb`, lab.targetV4], { timeoutMs: 90_000 });
    const packets = await cap.stop();
    t.comment(`captured ${packets.length}, dropped ${cap.dropped}`);
    t.equal(r.code, 0, r.stderr);
    const rows = jsonLines(readFileSync(`${lab.tmpDir}/o.jsonl`, 'utf8')).filter((x) => x.type === 'port') as unknown as PortVerdict[];
    t.equal(rows.length, 256, 'one record per protocol');
    t.ok(rows.every((x) => x.proto === 'ip'), 'proto "ip"');
    const state = (p: number) => rows.find((x) => x.port === p);
    t.match(state(1), { state: 'open', reason: 'proto-response' }, 'ICMP answers the echo request');
    t.match(state(6), { state: 'open', reason: 'proto-response' }, 'TCP answers the ACK with a RST');
    t.match(state(17), { state: 'open', reason: 'port-unreach' }, 'UDP answers with port unreachable');
    t.match(state(DROPPED), { state: 'open|filtered', reason: 'no-response' }, 'dropped: silence');
    t.match(state(PROHIBITED), { state: 'filtered', reason: 'admin-prohibited' }, 'rejected: admin-prohibited');
    for (const p of [3, 99, 132, 200, 255]) t.match(state(p), { state: 'closed', reason: 'proto-unreach' }, `${p}: the kernel has no such protocol`);

    // The wire: a probe per protocol, with its protocol's header.
    const seen = new Set(packets.map((p) => p.protoNumber));
    t.equal(seen.size, 256, 'every protocol number went out');
    const first = (n: number) => packets.find((p) => p.protoNumber === n)!;
    t.equal(first(1).ip![20], 8, 'ICMP: echo request');
    t.equal(first(2).ip![20], 0x11, 'IGMP: membership query');
    t.match(first(6), { dport: 80, flags: 'A' }, 'TCP: ACK to port 80');
    t.match(first(17), { dport: 40125 }, 'UDP: to port 40125');
    t.equal(first(132).ip![32], 1, 'SCTP: an INIT chunk');
    t.equal(first(99).length, 20, 'others: the IP header alone');

    const nmap = await lab.exec(['nmap', '-n', '-Pn', '-sO', '--max-retries', '2', '-oX', '-', lab.targetV4], { timeoutMs: 120_000 });
    t.equal(nmap.code, 0, nmap.stderr);
    const theirs = { ports: nmapAllPorts(nmap.stdout.toString(), lab.targetV4) };
    t.equal(theirs.ports.length, 256, 'nmap probed 256 protocols too');
    // nmap labels ICMP's open state "proto-unreach" on IPv4 although an echo reply made it open (proto-response on IPv6, as prtip says on both).
    const nmapIcmp = theirs.ports.find((x) => x.port === 1);
    t.match(nmapIcmp, { state: 'open', reason: 'proto-unreach' }, 'nmap: ICMP open (its reason label)');
    const sameAs = (list: PortVerdict[]) => verdictLines(list.filter((x) => x.port !== 1));
    t.same(sameAs(rows), sameAs(theirs.ports), 'every other protocol: the same state and reason as nmap');

    const xml = readFileSync(`${lab.tmpDir}/o.xml`, 'utf8');
    t.match(xml, /<scaninfo type="ipproto" protocol="ip" numservices="256" services="0-255"\/>/);
    t.match(xml, /<port protocol="ip" portid="17"><state state="open" reason="port-unreach" reason_ttl="64"\/><service name="udp" method="table" conf="8"\/><\/port>/);
    const text = r.stdout.toString();
    t.match(text, /^PROTOCOL +STATE +SERVICE +REASON$/m, 'nmap\'s PROTOCOL column');
    t.match(text, /^1 +open +icmp +proto-response ttl 64$/m, 'the service names come from nmap-protocols');
    t.match(text, /^Not shown: \d+ closed n\/a protocols \(proto-unreach\)$/m);
    const gnmap = readFileSync(`${lab.tmpDir}/o.gnmap`, 'utf8');
    t.match(gnmap, /\tProtocols: 1\/open\/icmp\/, 2\/open\|filtered\/igmp\/, 6\/open\/tcp\/, 17\/open\/udp\//);
    const json = JSON.parse(readFileSync(`${lab.tmpDir}/o.json`, 'utf8')) as { hosts: Array<{ ports: Array<{ port: number; proto: string; state: string }> }> };
    t.match(json.hosts[0]!.ports.find((p) => p.port === 6), { proto: 'ip', state: 'open' }, '-oJ');
    const q = await lab.exec([process.execPath, PRTIP_BIN, 'sql', `${lab.tmpDir}/o.duckdb`, "select port from ports where proto = 'ip' and state = 'open' order by port", '--csv']);
    t.equal(q.code, 0, q.stderr);
    t.same(q.stdout.toString().trim().split(/\r?\n/).slice(1), rows.filter((x) => x.state === 'open').map((x) => String(x.port)).sort((a, b) => Number(a) - Number(b)), 'the DB holds the open protocols');
  });

  t.test('IPv6: as nmap -6 -sO (closed by "unrecognized next header", open by other parameter problems)', async (t) => {
    const list = '0-6,17,41,43,44,50,58-60,99,132,255';
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sO', '-Pn', '-n', '--max-retries', '2', '--max-rtt-timeout', '300ms', '-p', list, '-oD', '-', lab.targetV6], { timeoutMs: 60_000 });
    t.equal(r.code, 0, r.stderr);
    const rows = jsonLines(r.stdout.toString()).filter((x) => x.type === 'port') as unknown as PortVerdict[];
    t.match(rows.find((x) => x.port === 58), { state: 'open', reason: 'proto-response' }, 'ICMPv6 echo answered');
    t.match(rows.find((x) => x.port === 99), { state: 'closed', reason: 'param-problem' });
    const nmap = await lab.exec(['nmap', '-6', '-n', '-Pn', '-sO', '--max-retries', '2', '-p', list, '-oX', '-', lab.targetV6], { timeoutMs: 120_000 });
    t.equal(nmap.code, 0, nmap.stderr);
    t.same(verdictLines(rows), verdictLines(nmapAllPorts(nmap.stdout.toString(), lab.targetV6)), 'port for port, state and reason');
  });

  t.test('-sO with port scans in one run is refused: its -p list is of protocols', async (t) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sO', '-sS', '-Pn', '-n', '-p', '80', lab.targetV4], { timeoutMs: 30_000 });
    t.equal(r.code, 1);
    t.match(r.stderr, /-sO\) runs alone/);
  });
}
