// The SYN scan of several hosts on the local link: each SYN carries its host's own MAC, resolved
// by prtip through the kernel (ARP/NDP) — the lab pre-sets a neighbour entry only for the
// target's main address. Two extra hosts are macvlans with MACs of their own (a frame with the
// wrong MAC shows on the wire), one more address shares the target's MAC, and one address has
// no host at all: its ports are filtered/no-response, no SYN leaves for it, and the host is down.
import t from 'tap';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const SNAP = { snaplen: 160 };
// Hosts on the link besides the target's main address: macvlans with their own MACs, and an
// address on the target's veth (same MAC as the target).
const MACVLANS = [
  { ifname: 'mv3', v4: '198.18.0.3', v6: '2001:2::3', mac: '02:00:c6:12:00:33' },
  { ifname: 'mv4', v4: '198.18.0.4', v6: '2001:2::4', mac: '02:00:c6:12:00:44' },
];
const SHARED_V4 = '198.18.0.5';
const SHARED_V6 = '2001:2::5';
const UNUSED_V4 = '198.18.0.9';
const UNUSED_V6 = '2001:2::9';
const CLOSED = [1, 22, 443];

interface PortRow { ip: string; port: number; state: string; reason: string }
interface HostRow { ip: string; state: string }

const key = (r: PortRow) => `${r.ip} ${r.port}/tcp ${r.state} ${r.reason}`;

async function sh(lab: Lab, shellCommand: string, timeoutMs = 90_000) {
  const cmd = shellCommand.replaceAll('prtip ', `${process.execPath} ${PRTIP_BIN} `);
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

async function must(lab: Lab, argv: string[], ns: 'scanner' | 'target' = 'target') {
  const r = await lab.exec(argv, { ns });
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

/** nmap's port lines as "ip port/tcp state reason", expanding <extraports>, and its host states. */
function nmapResults(xml: string, ports: number[]): { ports: string[]; hosts: Map<string, string> } {
  const out: string[] = [];
  const hosts = new Map<string, string>();
  for (const host of xml.split(/<host[\s>]/).slice(1)) {
    const ip = /<address addr="([^"]+)" addrtype="ipv[46]"/.exec(host)?.[1];
    if (!ip) continue;
    const status = /<status state="([a-z]+)"/.exec(host)?.[1];
    if (status) hosts.set(ip, status);
    const listed = new Set<number>();
    for (const m of host.matchAll(/<port protocol="tcp" portid="(\d+)"><state state="([a-z|]+)" reason="([a-z-]+)"/g)) {
      out.push(`${ip} ${m[1]}/tcp ${m[2]} ${m[3]}`);
      listed.add(Number(m[1]));
    }
    const extra = /<extraports state="([a-z]+)" count="(\d+)">\s*<extrareasons reason="([a-z-]+)"/.exec(host);
    if (extra) for (const p of ports) if (!listed.has(p)) out.push(`${ip} ${p}/tcp ${extra[1]} ${extra[3]}`);
  }
  return { ports: out.sort(), hosts };
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({});
  t.teardown(() => lab.teardown());
  // arp_ignore 1: the target's veth answers ARP only for its own addresses, so each macvlan host
  // answers for itself with its own MAC (IPv6 neighbour discovery is per interface already).
  await must(lab, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1']);
  for (const m of MACVLANS) {
    await must(lab, ['ip', 'link', 'add', m.ifname, 'link', lab.targetIf, 'address', m.mac, 'type', 'macvlan', 'mode', 'bridge']);
    await must(lab, ['ip', 'addr', 'add', `${m.v4}/24`, 'dev', m.ifname]);
    await must(lab, ['ip', 'addr', 'add', `${m.v6}/64`, 'dev', m.ifname, 'nodad']);
    await must(lab, ['ip', 'link', 'set', m.ifname, 'up']);
  }
  await must(lab, ['ip', 'addr', 'add', `${SHARED_V4}/24`, 'dev', lab.targetIf]);
  await must(lab, ['ip', 'addr', 'add', `${SHARED_V6}/64`, 'dev', lab.targetIf, 'nodad']);

  const ports = [...lab.tcpOpen, ...CLOSED].sort((a, b) => a - b);
  const portList = ports.join(',');
  const truth = (ip: string) => ports.map((p) => `${ip} ${p}/tcp ${lab.tcpOpen.includes(p) ? 'open syn-ack' : 'closed reset'}`);
  const fast = '--max-rtt-timeout 300ms --max-retries 1';

  for (const family of [4, 6] as const) {
    const main = family === 4 ? lab.targetV4 : lab.targetV6;
    const shared = family === 4 ? SHARED_V4 : SHARED_V6;
    const unused = family === 4 ? UNUSED_V4 : UNUSED_V6;
    const live = [main, ...MACVLANS.map((m) => (family === 4 ? m.v4 : m.v6)), shared];
    const macOf = new Map<string, string>([
      [main, lab.targetMac], [shared, lab.targetMac], ...MACVLANS.map((m) => [family === 4 ? m.v4 : m.v6, m.mac] as [string, string]),
    ]);

    t.test(`IPv${family}: SYNs reach each on-link host with its own MAC; results = ground truth; a host without ARP/NDP answer is down`, async (t) => {
      const before = await must(lab, ['ip', '-j', 'neigh', 'show', 'dev', lab.scannerIf], 'scanner');
      const known = (JSON.parse(before) as Array<{ dst: string; lladdr?: string }>).filter((n) => n.lladdr).map((n) => n.dst);
      t.same(known.filter((a) => live.includes(a) && a !== main), [], 'before the scan, the scanner knows no MAC but the main target\'s');
      const cap = await lab.capture(`${family === 4 ? 'ip' : 'ip6'} and tcp`, SNAP);
      const r = await sh(lab, `prtip scan -sS ${fast} -p ${portList} -oD - ${[...live, unused].join(' ')}`);
      const packets = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      const recs = jsonLines(r.stdout);
      const rows = recs.filter((x) => x.type === 'port') as unknown as PortRow[];
      // Host discovery (ARP/ND on the link, as nmap) finds the unused address down: it gets no port probe.
      const expected = live.flatMap(truth).sort();
      t.same(rows.map(key).sort(), expected, 'every live host as ground truth, no port rows for the unused address');
      const hosts = recs.filter((x) => x.type === 'host') as unknown as HostRow[];
      t.same(hosts.map((h) => `${h.ip} ${h.state}`).sort(), [...live.map((a) => `${a} up`), `${unused} down`].sort(), 'hosts up, the unused one down');
      const end = recs.at(-1) as { counters: { send: { unresolved?: number; probes: number }; discover: { down: number; arp: number } } };
      t.equal(end.counters.discover.down, 1, 'discovery: the address without an ARP/ND answer is down');
      t.equal(end.counters.discover.arp, live.length + 1, 'discovery asked ARP/ND for every on-link target');
      t.equal(end.counters.send.unresolved, undefined, 'so no port probe lacked a MAC');
      t.equal(end.counters.send.probes, live.length * ports.length, 'the other probes went to the engine');

      const syns = packets.filter((p) => p.flags === 'S' && p.family === family);
      for (const host of live) {
        const mine = syns.filter((p) => p.dst === host);
        t.same([...new Set(mine.map((p) => p.dport))].sort((a, b) => a! - b!), ports, `${host}: a SYN to every port`);
        t.same([...new Set(mine.map((p) => p.ethDst))], [macOf.get(host)], `${host}: every SYN to Ethernet ${macOf.get(host)}`);
      }
      t.equal(syns.filter((p) => p.dst === unused).length, 0, `no SYN left for ${unused}`);
      t.equal(syns.length, live.length * ports.length, 'one SYN per probe, no more');

      const after = JSON.parse(await must(lab, ['ip', '-j', 'neigh', 'show', 'dev', lab.scannerIf], 'scanner')) as Array<{ dst: string; lladdr?: string }>;
      for (const m of MACVLANS) {
        const a = family === 4 ? m.v4 : m.v6;
        t.equal(after.find((n) => n.dst === a)?.lladdr, m.mac, `the kernel resolved ${a} (ARP/NDP) to its own MAC`);
      }
    });

    t.test(`IPv${family}: same port states and host states as nmap -sS`, async (t) => {
      const targets = [...live, unused];
      const nmap = await lab.exec(['nmap', '-sS', '-n', '-Pn', '--max-retries', '1', '-p', portList, '-oX', '-', ...(family === 6 ? ['-6'] : []), ...targets], { timeoutMs: 120_000 });
      t.equal(nmap.code, 0, nmap.stderr);
      const theirs = nmapResults(nmap.stdout.toString(), ports);
      const ours = await sh(lab, `prtip scan -sS --max-retries 1 -p ${portList} -oD - ${targets.join(' ')}`);
      t.equal(ours.code, 0, ours.stderr);
      const rows = jsonLines(ours.stdout).filter((x) => x.type === 'port') as unknown as PortRow[];
      // On the link, nmap -Pn still resolves MACs first: a host without an ARP/ND answer is down, with no ports.
      t.equal(theirs.ports.length, live.length * ports.length, 'nmap reported every port of the live hosts');
      t.notOk(theirs.hosts.get(unused) === 'up', `nmap: ${unused} is not up`);
      t.same(rows.filter((r) => r.ip !== unused).map(key).sort(), theirs.ports, 'port by port, nmap -sS -Pn and prtip -sS agree on the live hosts');
      t.same(rows.filter((r) => r.ip === unused), [], `prtip: ${unused} is down (discovery), no port rows, as nmap`);
      // Host discovery: nmap's ARP/ND ping (no -Pn) finds the same hosts up and the unused one down.
      const ping = await lab.exec(['nmap', '-sn', '-n', '-oX', '-', ...(family === 6 ? ['-6'] : []), ...targets], { timeoutMs: 60_000 });
      t.equal(ping.code, 0, ping.stderr);
      const up = [...nmapResults(ping.stdout.toString(), []).hosts].filter(([, s]) => s === 'up').map(([ip]) => ip).sort();
      const oursUp = (jsonLines(ours.stdout).filter((x) => x.type === 'host') as unknown as HostRow[]).filter((h) => h.state === 'up').map((h) => h.ip).sort();
      t.same(oursUp, up, 'the hosts nmap finds up are the hosts prtip reports up');
    });
  }

  t.test('a LAN scan that includes this machine skips its own address with a warning', async (t) => {
    const r = await sh(lab, `prtip scan -sS ${fast} -p 8080 -oD - ${lab.scannerV4} ${lab.targetV4}`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, new RegExp(`-sS skips ${lab.scannerV4.replaceAll('.', '\\.')}: it is an address of this machine`));
    const rows = jsonLines(r.stdout).filter((x) => x.type === 'port') as unknown as PortRow[];
    t.same(rows.map(key), [`${lab.targetV4} 8080/tcp open syn-ack`]);
  });

  t.test('the whole /24 the scanner is on: live hosts found, no SYN to addresses without a host', async (t) => {
    const live = [lab.targetV4, ...MACVLANS.map((m) => m.v4), SHARED_V4];
    const cap = await lab.capture('ip and tcp', SNAP);
    const r = await sh(lab, `prtip scan -sS ${fast} -p 8080,1 -oD - 198.18.0.0/24`);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, /-sS skips 198\.18\.0\.1: it is an address of this machine/);
    const recs = jsonLines(r.stdout);
    const up = (recs.filter((x) => x.type === 'host') as unknown as HostRow[]).filter((h) => h.state === 'up').map((h) => h.ip).sort();
    t.same(up, [...live, lab.scannerV4].sort(), 'exactly the live hosts are up, and our own address (localhost-response, as nmap)');
    const rows = recs.filter((x) => x.type === 'port') as unknown as PortRow[];
    t.same(rows.filter((x) => x.state !== 'filtered').map(key).sort(), live.flatMap((a) => [`${a} 1/tcp closed reset`, `${a} 8080/tcp open syn-ack`]).sort());
    t.equal(rows.length, live.length * 2, 'the live hosts have their ports reported; discovery left the others out');
    const syns = packets.filter((p) => p.flags === 'S');
    t.same([...new Set(syns.map((p) => p.dst))].sort(), [...live].sort(), 'SYNs went only to hosts that answered ARP');
    const end = recs.at(-1) as { counters: { send: { unresolved?: number; ownAddress?: number } } };
    t.equal(end.counters.send.unresolved, undefined, 'no port probe went to an address without a host (discovery found them down)');
    t.equal(end.counters.send.ownAddress, 2, 'send.ownAddress: our own address\'s probes, skipped');
  });
}
