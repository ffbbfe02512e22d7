// --traceroute across real routers (test/lab/routed-lab.ts: scanner → router1 → router2 →
// target): prtip's hops equal nmap --traceroute's in the same namespace, hop for hop, for a SYN
// and a UDP scan and a directly connected host; the wire (captured on router1's link from the
// scanner) shows TTL-limited copies of the scan's own probe; every output format and the DB
// table carry the hops; -R names hops from a lab DNS server; -A runs -O -sV -sC --traceroute.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { labSkipReason } from '../lab/lab.js';
import { createRoutedLab, type RoutedLab } from '../lab/routed-lab.js';
import { startDnsResponder } from '../lab/dns-responder.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

async function run(lab: RoutedLab, argv: string[]) {
  return lab.exec(argv[0] === 'prtip' ? [process.execPath, PRTIP_BIN, ...argv.slice(1)] : argv, { timeoutMs: 90_000 });
}

/** Each host's <trace>: "port/proto" and its hops as "ttl ip [host]". */
function xmlTraces(xml: string): Map<string, { probe: string; hops: string[] }> {
  const out = new Map<string, { probe: string; hops: string[] }>();
  for (const m of xml.matchAll(/<host\b[\s\S]*?<\/host>/g)) {
    const addr = /<address addr="([^"]+)"/.exec(m[0])![1]!;
    const tr = /<trace(?: port="(\d+)" proto="(\w+)")?>([\s\S]*?)<\/trace>/.exec(m[0]);
    if (!tr) continue;
    const hops = [...tr[3]!.matchAll(/<hop ttl="(\d+)" ipaddr="([^"]+)" rtt="[^"]+"(?: host="([^"]+)")?\/>/g)].map((h) => `${h[1]} ${h[2]}${h[3] ? ` ${h[3]}` : ''}`);
    out.set(addr, { probe: tr[1] ? `${tr[1]}/${tr[2]}` : '', hops });
  }
  return out;
}

/** The -oN TRACEROUTE blocks with RTTs masked. */
const normalTraces = (text: string) => [...text.matchAll(/\nTRACEROUTE[^\n]*\n(?:[^\n]+\n)+/g)].map((m) => m[0].replace(/\d+\.\d\d ms/g, 'R ms').replace(/RTT +ADDRESS/, 'RTT ADDRESS').replace(/ +/g, ' '));

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createRoutedLab({ tcpListeners: [8080] });
  t.teardown(() => lab.teardown());
  const out = (name: string) => path.join(lab.tmpDir, name);

  t.test('SYN scan: the hops of nmap --traceroute, TTL-limited SYNs on the wire, every format', async (t) => {
    const targets = [lab.router1, lab.target, lab.targetAny];
    const cap = await lab.capture('tcp and dst port 1 and tcp[tcpflags] & tcp-syn != 0');
    const db = out('syn.duckdb');
    const r = await run(lab, ['prtip', 'scan', '-sS', '-Pn', '-n', '-p', '1,8080', '--traceroute', '-oN', out('syn.nmap'), '-oX', out('syn.xml'),
      '-oG', out('syn.gnmap'), '-oJ', out('syn.json'), '--db', db, ...targets]);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const n = await run(lab, ['nmap', '-sS', '-Pn', '-n', '-p', '1,8080', '--traceroute', '-oX', out('nmap.xml'), '-oN', out('nmap.nmap'), ...targets]);
    t.equal(n.code, 0, n.stderr);
    const mine = xmlTraces(fs.readFileSync(out('syn.xml'), 'utf8'));
    const theirs = xmlTraces(fs.readFileSync(out('nmap.xml'), 'utf8'));
    t.same(mine.get(lab.target)?.hops, [`1 ${lab.hops[0]}`, `2 ${lab.hops[1]}`, `3 ${lab.target}`], 'three hops through both routers');
    for (const ip of targets) t.same(mine.get(ip), theirs.get(ip), `${ip}: the probe and every hop as nmap`);
    t.same(normalTraces(fs.readFileSync(out('syn.nmap'), 'utf8')), normalTraces(fs.readFileSync(out('nmap.nmap'), 'utf8')), '-oN TRACEROUTE blocks as nmap prints them');
    t.match(fs.readFileSync(out('syn.nmap'), 'utf8'), /-   Hops 1-2 are the same as for 198\.18\.22\.2\n3 +\d+\.\d\d ms 198\.18\.23\.5/);
    const v = await run(lab, ['xmllint', '--noout', '--dtdvalid', '/usr/share/nmap/nmap.dtd', out('syn.xml')]);
    t.equal(v.code, 0, v.stderr);
    t.notMatch(fs.readFileSync(out('syn.gnmap'), 'utf8'), /TRACEROUTE|198\.18\.21\.2/, '-oG has no traceroute, as nmap');
    const json = JSON.parse(fs.readFileSync(out('syn.json'), 'utf8')) as { hosts: Array<{ ip: string; trace?: { port: number; proto: string; hops: Array<{ ttl: number; ip?: string }> } }> };
    t.match(json.hosts.find((h) => h.ip === lab.target)?.trace, { port: 1, proto: 'tcp', hops: [{ ttl: 1, ip: lab.hops[0] }, { ttl: 2, ip: lab.hops[1] }, { ttl: 3, ip: lab.target }] });
    const q = await run(lab, ['prtip', 'sql', db, 'select ip, ttl, hop_ip, probe_port, probe_proto from hops order by ip, ttl', '--csv']);
    t.equal(q.code, 0, q.stderr);
    t.same(q.stdout.trim().split(/\r?\n/).slice(1), [
      `${lab.router1},1,${lab.router1},,`,
      `${lab.target},1,${lab.hops[0]},1,tcp`, `${lab.target},2,${lab.hops[1]},1,tcp`, `${lab.target},3,${lab.target},1,tcp`,
      `${lab.targetAny},1,${lab.hops[0]},1,tcp`, `${lab.targetAny},2,${lab.hops[1]},1,tcp`, `${lab.targetAny},3,${lab.targetAny},1,tcp`,
    ]);
    // The wire: the scan's own SYN (TTL 64), then trace SYNs with small TTLs from their own source ports.
    const trace = packets.filter((p) => p.ttl < 64);
    t.ok(trace.length >= 3, `trace probes seen (${trace.length})`);
    t.equal(trace.filter((p) => p.dst === lab.router1).length, 0, 'a directly connected host gets no trace probe');
    t.ok(trace.every((p) => p.flags === 'S' && p.dport === 1), 'copies of the scan\'s SYN to the chosen port');
    t.same([...new Set(trace.filter((p) => p.dst === lab.target).map((p) => p.ttl))].filter((x) => x <= 3).sort(), [1, 2, 3], 'TTLs 1, 2 and 3 to the target');
    t.equal(new Set(trace.map((p) => p.sport)).size, trace.length, 'every probe its own source port (the token)');
    // Counted from the reply TTL's distance (3), down to 1 and up: 10 probes in flight over both hosts, none resent.
    t.ok(trace.every((p) => p.ttl <= 10), 'no TTL past the first window');
    for (const ip of [lab.target, lab.targetAny]) {
      const ttls = trace.filter((p) => p.dst === ip).map((p) => p.ttl);
      t.equal(new Set(ttls).size, ttls.length, `${ip}: one probe per TTL`);
    }
  });

  t.test('UDP scan: traced with the UDP probe, hops as nmap', async (t) => {
    const cap = await lab.capture('udp and dst port 9');
    const r = await run(lab, ['prtip', 'scan', '-sU', '-Pn', '-n', '-p', '9', '--traceroute', '-oX', out('udp.xml'), lab.target]);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const n = await run(lab, ['nmap', '-sU', '-Pn', '-n', '-p', '9', '--traceroute', '-oX', out('nmap-udp.xml'), lab.target]);
    t.equal(n.code, 0, n.stderr);
    t.same(xmlTraces(fs.readFileSync(out('udp.xml'), 'utf8')).get(lab.target), xmlTraces(fs.readFileSync(out('nmap-udp.xml'), 'utf8')).get(lab.target));
    t.same(xmlTraces(fs.readFileSync(out('udp.xml'), 'utf8')).get(lab.target)?.probe, '9/udp');
    t.same([...new Set(packets.filter((p) => p.ttl <= 3).map((p) => p.ttl))].sort(), [1, 2, 3]);
  });

  t.test('-R names the hops from the lab DNS server, as nmap -R does', async (t) => {
    const dns = await startDnsResponder({ tmpDir: lab.tmpDir, spawn: (argv, o) => lab.spawn(argv, o?.ns === 'target' ? 'target' : 'scanner', o?.stdio) },
      { ns: 'target', address: lab.target, table: { ptr: { [lab.hops[0]]: 'r1.lab', [lab.hops[1]]: 'r2.lab', [lab.target]: 'target.lab' } } });
    t.teardown(() => dns.stop());
    const server = `--dns-servers=${lab.target}`;
    const r = await run(lab, ['prtip', 'scan', '-sS', '-Pn', '-R', server, '-p', '1', '--traceroute', '-oX', out('r.xml'), '-oN', out('r.nmap'), lab.target]);
    t.equal(r.code, 0, r.stderr);
    const n = await run(lab, ['nmap', '-sS', '-Pn', '-R', server, '-p', '1', '--traceroute', '-oX', out('nmap-r.xml'), lab.target]);
    t.equal(n.code, 0, n.stderr);
    const mine = xmlTraces(fs.readFileSync(out('r.xml'), 'utf8')).get(lab.target);
    t.same(mine?.hops, [`1 ${lab.hops[0]} r1.lab`, `2 ${lab.hops[1]} r2.lab`, `3 ${lab.target} target.lab`]);
    t.same(mine, xmlTraces(fs.readFileSync(out('nmap-r.xml'), 'utf8')).get(lab.target));
    t.match(fs.readFileSync(out('r.nmap'), 'utf8'), /\n1 +\d+\.\d\d ms r1\.lab \(198\.18\.20\.2\)\n2 +\d+\.\d\d ms r2\.lab \(198\.18\.21\.2\)\n3 +\d+\.\d\d ms target\.lab \(198\.18\.22\.2\)/);
    t.ok(dns.seen.some((q) => q.name === '2.20.18.198.in-addr.arpa'), 'the hop\'s name was asked of the lab server');
  });

  t.test('-A: OS detection, versions, default scripts and the trace in one scan', async (t) => {
    const r = await run(lab, ['prtip', '-A', '-Pn', '-n', '-p', '1,8080', '-oD', '-', lab.target]);
    t.equal(r.code, 0, r.stderr);
    const recs = jsonLines(r.stdout);
    t.match(recs.find((x) => x.type === 'trace'), { ip: lab.target, port: 1, proto: 'tcp', hops: [{ ip: lab.hops[0] }, { ip: lab.hops[1] }, { ip: lab.target }] });
    t.ok(recs.some((x) => x.type === 'os' && x.ip === lab.target), 'an os record (-O)');
    t.ok(recs.some((x) => x.type === 'service' && x.port === 8080), 'a service record (-sV)');
    t.match(recs[0], { type: 'scan' });
    t.match(JSON.stringify(recs.at(-1)), /"script":\{/, 'the script stage ran (-sC)');
  });
}
