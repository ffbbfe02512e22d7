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
