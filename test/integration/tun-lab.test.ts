// Raw scans over a non-Ethernet link: a tun device (bare IP packets, no MAC, no ARP: the link
// type of WireGuard and VPN tunnels) between the scanner and target namespaces, carried by a relay
// of our own (test/lab/tun-link.ts). prtip sends IP packets there (AF_PACKET SOCK_DGRAM), reads
// the capture's raw-IP datalink, and must find exactly what nmap -sS finds over the same tun; the
// target-side capture on the tun shows the probes.
import t from 'tap';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { addTunLink, TUN_RANGE, TUN_SCANNER_IF, TUN_SCANNER_V4, TUN_SCANNER_V6, TUN_TARGET_IF, TUN_TARGET_V4, TUN_TARGET_V6 } from '../lab/tun-link.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

interface PortRow { ip: string; port: number; state: string; reason: string }
const key = (r: PortRow) => `${r.ip} ${r.port}/tcp ${r.state} ${r.reason}`;
const CLOSED = [1, 22, 443];
const FAST = '--max-rtt-timeout 300ms --max-retries 1';

async function sh(lab: Lab, shellCommand: string, timeoutMs = 90_000) {
  const cmd = shellCommand.replaceAll('prtip ', `${process.execPath} ${PRTIP_BIN} `);
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

/** nmap's TCP port lines as "ip port/tcp state reason", <extraports> expanded. */
function nmapPorts(xml: string, ports: number[]): string[] {
  const out: string[] = [];
  for (const host of xml.split(/<host[\s>]/).slice(1)) {
    const ip = /<address addr="([^"]+)" addrtype="ipv[46]"/.exec(host)?.[1];
    if (!ip) continue;
    const listed = new Set<number>();
    for (const m of host.matchAll(/<port protocol="tcp" portid="(\d+)"><state state="([a-z|]+)" reason="([a-z-]+)"/g)) {
      out.push(`${ip} ${m[1]}/tcp ${m[2]} ${m[3]}`);
      listed.add(Number(m[1]));
    }
    const extra = /<extraports state="([a-z]+)" count="(\d+)">\s*<extrareasons reason="([a-z-]+)"/.exec(host);
    if (extra) for (const p of ports) if (!listed.has(p)) out.push(`${ip} ${p}/tcp ${extra[1]} ${extra[3]}`);
  }
  return out.sort();
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({});
  t.teardown(() => lab.teardown());
  await addTunLink(lab);
  const ports = [...lab.tcpOpen, ...CLOSED].sort((a, b) => a - b);
  const portList = ports.join(',');
  const truth = (ip: string) => ports.map((p) => `${ip} ${p}/tcp ${lab.tcpOpen.includes(p) ? 'open syn-ack' : 'closed reset'}`).sort();

  t.test('the tun is a non-Ethernet link (link type none) and the route to the range goes through it', async (t) => {
    const link = JSON.parse((await lab.exec(['ip', '-j', 'link', 'show', 'dev', TUN_SCANNER_IF])).stdout.toString()) as Array<{ link_type: string }>;
    t.equal(link[0]?.link_type, 'none');
    const route = JSON.parse((await lab.exec(['ip', '-j', 'route', 'get', TUN_TARGET_V4])).stdout.toString()) as Array<{ dev: string; prefsrc: string }>;
    t.match(route[0], { dev: TUN_SCANNER_IF, prefsrc: TUN_SCANNER_V4 });
  });

  for (const family of [4, 6] as const) {
    const target = family === 4 ? TUN_TARGET_V4 : TUN_TARGET_V6;
    t.test(`IPv${family} -sS over the tun: ground truth, SYNs on the target's tun, discovery by ping probes (no ARP/ND)`, async (t) => {
      const cap = await lab.capture(family === 4 ? 'ip and tcp' : 'ip6 and tcp', { iface: TUN_TARGET_IF, snaplen: 160 });
      const r = await sh(lab, `prtip scan -sS ${FAST} -p ${portList} -oD - ${target}`);
      const packets = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      const recs = jsonLines(r.stdout);
      const rows = recs.filter((x) => x.type === 'port') as unknown as PortRow[];
      t.same(rows.map(key).sort(), truth(target), 'every port as the ground truth');
      const host = recs.find((x) => x.type === 'host') as { state: string; reason: string } | undefined;
      t.equal(host?.state, 'up');
      t.not(host?.reason, family === 4 ? 'arp-response' : 'nd-response', 'the host is up from a ping probe, not from ARP/ND (none on a tun)');
      const end = recs.at(-1) as { counters: { discover: { arp: number }; send: { unresolved?: number } } };
      t.equal(end.counters.discover.arp, 0, 'no ARP/ND on a tun');
      t.equal(end.counters.send.unresolved, undefined, 'no probe waited for a MAC');
      const syns = packets.filter((p) => p.flags === 'S' && p.dst === target);
      t.same([...new Set(syns.map((p) => p.dport))].sort((a, b) => a! - b!), ports, 'the target-side tun saw a SYN to every port');
      t.ok(syns.every((p) => p.src === (family === 4 ? TUN_SCANNER_V4 : TUN_SCANNER_V6)), 'from the scanner\'s tun address');
    });

    t.test(`IPv${family}: prtip -sS and nmap -sS agree port by port over the tun`, async (t) => {
      const nmap = await lab.exec(['nmap', '-sS', '-n', '-Pn', '--max-retries', '1', '-p', portList, '-oX', '-', ...(family === 6 ? ['-6'] : []), target], { timeoutMs: 120_000 });
      t.equal(nmap.code, 0, nmap.stderr);
      const theirs = nmapPorts(nmap.stdout.toString(), ports);
      t.same(theirs, truth(target), 'nmap over the tun sees the ground truth');
      const ours = await sh(lab, `prtip scan -sS -Pn --max-retries 1 -p ${portList} -oD - ${target}`);
      t.equal(ours.code, 0, ours.stderr);
      t.same((jsonLines(ours.stdout).filter((x) => x.type === 'port') as unknown as PortRow[]).map(key).sort(), theirs);
    });
  }

  t.test('other raw scan types over the tun: -sA, -sF, -sU, -sO, each probe seen on the target\'s tun', async (t) => {
    const cases = [
      { flags: '-sA -p 8080,1', filter: 'tcp', want: ['1/tcp unfiltered reset', '8080/tcp unfiltered reset'] },
      { flags: '-sF -p 8080,1', filter: 'tcp', want: ['1/tcp closed reset', '8080/tcp open|filtered no-response'] },
      { flags: '-sU -p 9999,40125', filter: 'udp', want: ['40125/udp closed port-unreach', '9999/udp closed port-unreach'] },
      { flags: '-sO -p 6,17', filter: 'ip', want: ['17/ip open port-unreach', '6/ip open proto-response'] },
    ];
    for (const c of cases) {
      const cap = await lab.capture(`dst host ${TUN_TARGET_V4} and ${c.filter}`, { iface: TUN_TARGET_IF, snaplen: 128 });
      const r = await sh(lab, `prtip scan ${c.flags} -Pn --max-retries 1 -oD - ${TUN_TARGET_V4}`);
      const packets = await cap.stop();
      t.equal(r.code, 0, `${c.flags}: ${r.stderr}`);
      const rows = jsonLines(r.stdout).filter((x) => x.type === 'port') as Array<{ port: number; proto: string; state: string; reason: string }>;
      t.same(rows.map((x) => `${x.port}/${x.proto} ${x.state} ${x.reason}`).sort(), c.want, c.flags);
      t.ok(packets.length >= c.want.length, `${c.flags}: the probes crossed the tun (${packets.length} packets)`);
    }
  });

  t.test('-O over the tun: OS probes cross it and nmap-os-db matches come back', async (t) => {
    const cap = await lab.capture(`dst host ${TUN_TARGET_V4}`, { iface: TUN_TARGET_IF, snaplen: 128 });
    const r = await sh(lab, `prtip scan -sS -O -p 8080,1 -oD - ${TUN_TARGET_V4}`);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.notMatch(r.stderr, /OS detection of .* failed/);
    const os = jsonLines(r.stdout).find((x) => x.type === 'os') as { matches: Array<{ osfamily: string }> } | undefined;
    t.equal(os?.matches[0]?.osfamily, 'Linux', 'the target namespace\'s kernel is Linux');
    // nmap's OS probes include 6 SYNs with its window values to the open port, ICMP echoes and a UDP probe to a closed port.
    t.ok(packets.filter((p) => p.proto === 'icmp').length >= 2, 'the two ICMP echo probes');
    t.ok(packets.some((p) => p.proto === 'udp'), 'the UDP (U1) probe');
  });

  t.test('--packet-trace over the tun prints the SENT and RCVD lines', async (t) => {
    const r = await sh(lab, `prtip scan -sS --packet-trace -Pn -p 8080,1 ${TUN_TARGET_V4}`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, new RegExp(`SENT \\([0-9.]+s\\) TCP ${TUN_SCANNER_V4.replaceAll('.', '\\.')}:\\d+ > ${TUN_TARGET_V4.replaceAll('.', '\\.')}:8080 S ttl=64`));
    t.match(r.stdout, new RegExp(`RCVD \\([0-9.]+s\\) TCP ${TUN_TARGET_V4.replaceAll('.', '\\.')}:8080 > ${TUN_SCANNER_V4.replaceAll('.', '\\.')}:\\d+ SA ttl=64`));
    t.match(r.stdout, /RCVD \([0-9.]+s\) TCP [0-9.]+:1 > [0-9.:]+ RA /);
  });

  t.test('--spoof-mac is refused on a link without MACs', async (t) => {
    const r = await sh(lab, `prtip scan -sS -Pn --spoof-mac 0 -p 8080 ${TUN_TARGET_V4}`);
    t.equal(r.code, 1);
    t.match(r.stderr, /--spoof-mac: tun-scan is a none link, which carries IP packets without a MAC address/);
  });

  t.test('a sweep of the tun range: every address up by ping, one SYN each', async (t) => {
    const cap = await lab.capture('ip and tcp', { iface: TUN_TARGET_IF, snaplen: 128 });
    const r = await sh(lab, `prtip scan -sS ${FAST} -p 8080 -oD - ${TUN_RANGE}`);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const rows = jsonLines(r.stdout).filter((x) => x.type === 'port') as unknown as PortRow[];
    t.equal(rows.filter((x) => x.state === 'open').length, 256, 'port 8080 open on all 256 addresses');
    t.equal(new Set(packets.filter((p) => p.flags === 'S').map((p) => p.dst)).size, 256, 'a SYN reached each address through the tun');
  });
}
