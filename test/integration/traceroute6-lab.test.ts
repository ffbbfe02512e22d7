// --traceroute over IPv6 across real routers (test/lab/routed-lab.ts, its IPv6 path: scanner →
// router1 → router2 → target): prtip's hops equal `nmap -6 --traceroute`'s in the same namespace,
// and the wire (captured on router1's link from the scanner) shows hop-limited copies of the
// scan's own probe (SYNs to the traced port with hop limits 1, 2, 3 …), answered by ICMPv6 time
// exceeded from each router.
import t from 'tap';
import { labSkipReason } from '../lab/lab.js';
import { createRoutedLab } from '../lab/routed-lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createRoutedLab({ tcpListeners: [8080] });
  t.teardown(() => lab.teardown());

  t.test('-6 -sS --traceroute: the hops of nmap -6 --traceroute, hop-limited SYNs on the wire', async (t) => {
    const target = lab.v6.target;
    const cap = await lab.capture('ip6 and (tcp or icmp6)');
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-6', '-sS', '-Pn', '-n', '-p', '1', '--traceroute', '-oD', '-', target], { timeoutMs: 90_000 });
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const traces = jsonLines(r.stdout).filter((x) => x.type === 'trace') as Array<{ ip: string; port?: number; proto?: string; hops: Array<{ ttl: number; ip?: string }> }>;
    t.equal(traces.length, 1, `one trace record (${r.stderr.trim()})`);
    const hops = traces[0]!.hops.map((h) => `${h.ttl} ${h.ip ?? '*'}`);
    t.same(hops, [`1 ${lab.v6.hops[0]}`, `2 ${lab.v6.hops[1]}`, `3 ${target}`], 'router1, router2, the target');
    t.same([traces[0]!.port, traces[0]!.proto], [1, 'tcp'], 'traced with the closed port\'s probe');
    // The wire: SYNs to port 1 from the scanner with hop limits 1 and 2 (they expire) and ICMPv6 time exceeded back.
    const syns = packets.filter((p) => p.src === lab.v6.scanner && p.proto === 'tcp' && p.dport === 1 && p.flags === 'S');
    t.ok(syns.some((p) => p.ttl === 1), 'a SYN with hop limit 1');
    t.ok(syns.some((p) => p.ttl === 2), 'a SYN with hop limit 2');
    t.ok(packets.some((p) => p.src === lab.v6.hops[0] && p.protoNumber === 58 && p.icmpType === 3), 'router1 answered ICMPv6 time exceeded');
    const nmap = await lab.exec(['nmap', '-6', '-sS', '-Pn', '-n', '-p', '1', '--traceroute', '-oX', '-', target], { timeoutMs: 120_000 });
    t.equal(nmap.code, 0, nmap.stderr);
    const theirs = [...nmap.stdout.matchAll(/<hop ttl="(\d+)" ipaddr="([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
    t.same(hops, theirs, 'hop for hop as nmap -6 --traceroute');
  });
}
