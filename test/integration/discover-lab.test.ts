// Host discovery in the namespace lab (test/lab/discovery-lab.ts): prtip's up/down answer equals
// `nmap -sn` run in the same scanner namespace (live, dead, filtered, TCP-only and UDP-only /24s);
// the wire shows the probes nmap's defaults imply and nothing else, -PE alone sends only echo
// requests, the pipe gives what the single command gives, a port scan skips the hosts found down,
// and hosts on the local link are found by ARP (IPv4) and ND (IPv6) alone.
import t from 'tap';
import { labSkipReason } from '../lab/lab.js';
import { createDiscoveryLab, type DiscoveryLab } from '../lab/discovery-lab.js';
import { PRTIP_BIN } from '../helpers/cli.js';

interface HostRow { ip: string; state: string; reason: string; rtt?: number }

async function sh(lab: DiscoveryLab, cmd: string, timeoutMs = 180_000) {
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd.replaceAll('prtip ', `${process.execPath} ${PRTIP_BIN} `)], { timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}
const hostRows = (jsonl: string) => jsonl.split('\n').filter((l) => l.includes('"type":"host"')).map((l) => JSON.parse(l) as HostRow);
const upSet = (rows: HostRow[]) => rows.filter((r) => r.state === 'up').map((r) => r.ip).sort();
async function nmapUp(lab: DiscoveryLab, args: string): Promise<string[]> {
  const r = await sh(lab, `nmap -sn -n -oG - ${args}`, 600_000);
  if (r.code !== 0) throw new Error(`nmap: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => /Status: Up/.test(l)).map((l) => /^Host: (\S+)/.exec(l)![1]!).sort();
}
/** Reasons per /24 ("198.19.3 up reset": 256), to read a failure at a glance. */
function byNet(rows: HostRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) { const k = `${r.ip.split('.').slice(0, 3).join('.')} ${r.state} ${r.reason}`; out[k] = (out[k] ?? 0) + 1; }
  return out;
}

const skip = labSkipReason();
if (skip) {
  t.comment(`LAB SKIPPED: ${skip}`);
  t.pass(`lab skipped: ${skip}`);
} else {
  t.test('discovery lab', async (t) => {
    const lab = await createDiscoveryLab({ tcpListeners: [] });
    t.teardown(() => lab.teardown());
    // A /26 of each kind of /24 (and the lone hosts) keeps nmap's share of the test's time small.
    const targets = `198.19.0.0/26 198.19.1.0/26 198.19.2.0/26 198.19.3.0/26 198.19.4.0/26 ${lab.sparseHosts.join(' ')}`;

    await t.test('-sn with nmap\'s defaults: the same up set as nmap -sn, nmap\'s reasons, the default probes on the wire', async (t) => {
      const cap = await lab.capture('dst net 198.19.0.0/16', { snaplen: 128 });
      const r = await sh(lab, `prtip scan -sn -n -oD - ${targets}`);
      const packets = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      const rows = hostRows(r.stdout);
      t.equal(rows.length, 5 * 64 + lab.sparseHosts.length, 'a host record for every target');
      // Live hosts answer every default probe; the reason is whichever answer came first (the
      // ping kinds go out side by side), as nmap's is.
      const firstAnswer = new Set(['echo-reply', 'reset', 'syn-ack', 'timestamp-reply']);
      const got = byNet(rows.map((r) => (r.ip.startsWith('198.19.0.') && r.state === 'up' && firstAnswer.has(r.reason) ? { ...r, reason: 'a-default-probe-answer' } : r)));
      t.same(got, {
        '198.19.0 up a-default-probe-answer': 64, '198.19.1 down no-response': 64, '198.19.2 down no-response': 64,
        '198.19.3 up reset': 64, '198.19.4 down no-response': 64,
        '198.19.17 up echo-reply': 1, '198.19.99 up echo-reply': 1, '198.19.200 up echo-reply': 1, '198.19.255 up echo-reply': 1,
      }, 'live and ICMP-blind hosts up; dead, filtered and UDP-only hosts down');
      t.same(upSet(rows), await nmapUp(lab, targets), 'up set equals nmap -sn');
      t.ok(rows.filter((x) => x.state === 'up').every((x) => typeof x.rtt === 'number' && x.rtt >= 0), 'up hosts carry a latency');
      // The wire: to a dead host, exactly nmap's four default probes (each maybe retried), nothing else.
      const dead = packets.filter((p) => p.dst === '198.19.1.37');
      const kinds = new Set(dead.map((p) => p.proto === 'icmp' ? `icmp ${p.icmpType}` : `${p.proto} ${p.dport} ${p.flags}`));
      t.same([...kinds].sort(), ['icmp 13', 'icmp 8', 'tcp 443 S', 'tcp 80 A'], 'echo, timestamp, SYN to 443, ACK to 80');
      t.notOk(packets.some((p) => p.proto === 'udp'), 'no UDP probe without -PU');
      const normal = await sh(lab, 'prtip scan -sn -n 198.19.0.7 198.19.1.7');
      t.match(normal.stdout, /prtip scan report for 198\.19\.0\.7\nHost is up \(\d\.\d+s latency\)\./, 'nmap\'s "Host is up (…s latency)." line');
      t.match(normal.stdout, /2 IP addresses \(1 host up\) scanned in/);
      t.notMatch(normal.stdout, /PORT|Not shown/, 'no port table in a ping scan');
      const xml = await sh(lab, 'prtip scan -sn -n -oX - 198.19.3.7 198.19.1.7');
      t.match(xml.stdout, /<status state="up" reason="reset"/);
      t.notMatch(xml.stdout, /<address addr="198\.19\.1\.7"/, 'the down host is not listed (nmap lists down hosts with -v only)');
      t.match(xml.stdout, /<hosts up="1" down="1" total="2"\/>/);
    });

    await t.test('-PE alone sends only echo requests (and finds no ICMP-blind host)', async (t) => {
      const cap = await lab.capture('dst net 198.19.0.0/16', { snaplen: 128 });
      const r = await sh(lab, 'prtip scan -sn -n -PE -oD - 198.19.0.0/26 198.19.3.0/26');
      const packets = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      t.ok(packets.length >= 128, `${packets.length} probes seen`);
      t.ok(packets.every((p) => p.proto === 'icmp' && p.icmpType === 8 && p.icmpCode === 0), 'only ICMP echo requests');
      t.same(byNet(hostRows(r.stdout)), { '198.19.0 up echo-reply': 64, '198.19.3 down no-response': 64 });
    });

    await t.test('-PS/-PA find TCP-only hosts; -PU finds UDP-only hosts; each as nmap', async (t) => {
      const cap = await lab.capture('dst net 198.19.3.0/24 or dst net 198.19.4.0/24', { snaplen: 128 });
      const syn = await sh(lab, 'prtip scan -sn -n -PS22,8080 -oD - 198.19.3.0/26');
      const udp = await sh(lab, 'prtip scan -sn -n -PU -oD - 198.19.4.0/28');
      const packets = await cap.stop();
      t.same(byNet(hostRows(syn.stdout)), { '198.19.3 up reset': 64 });
      t.same(byNet(hostRows(udp.stdout)), { '198.19.4 up port-unreach': 16 });
      t.same(upSet(hostRows(udp.stdout)), await nmapUp(lab, '-PU 198.19.4.0/28'), '-PU: nmap agrees');
      const tcpPorts = new Set(packets.filter((p) => p.proto === 'tcp').map((p) => `${p.dport} ${p.flags}`));
      t.same([...tcpPorts].sort(), ['22 S', '8080 S'], '-PS22,8080: SYNs to those ports only');
      t.ok(packets.filter((p) => p.proto === 'udp').every((p) => p.dport === 40125), '-PU: the default port 40125');
      const ack = await sh(lab, 'prtip scan -sn -n -PA --discovery-ignore-rst -oD - 198.19.3.0/28');
      t.same(byNet(hostRows(ack.stdout)), { '198.19.3 down no-response': 16 }, '--discovery-ignore-rst: a RST proves nothing');
    });

    await t.test('without CAP_NET_RAW: connect() to 80 and 443, a refused connection proves the host up', async (t) => {
      const cap = await lab.capture('dst net 198.19.0.0/16', { snaplen: 128 });
      const r = await sh(lab, 'setpriv --bounding-set=-net_raw --inh-caps=-net_raw prtip scan -sn -n -oD - 198.19.0.7 198.19.1.7 198.19.3.7');
      const packets = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      t.same(hostRows(r.stdout).map((h) => `${h.ip} ${h.state} ${h.reason}`).sort(),
        ['198.19.0.7 up conn-refused', '198.19.1.7 down no-response', '198.19.3.7 up conn-refused']);
      t.notOk(packets.some((p) => p.proto === 'icmp'), 'no ICMP without raw sockets');
      const syns = new Set(packets.filter((p) => p.proto === 'tcp').map((p) => `${p.dport} ${p.flags}`));
      t.same([...syns].sort(), ['443 S', '80 S'], 'kernel SYNs to 80 and 443 only');
    });

    await t.test('the pipe gives what the single command gives', async (t) => {
      const one = await sh(lab, `prtip scan -sn -n -oD - ${targets}`);
      const pipe = await sh(lab, `prtip targets ${targets} -p 80 | prtip discover -sn | prtip format -oD -`);
      t.equal(pipe.code, 0, pipe.stderr);
      const key = (rows: HostRow[]) => rows.map((r) => `${r.ip} ${r.state} ${r.reason}`).sort();
      t.same(key(hostRows(pipe.stdout)), key(hostRows(one.stdout)));
      // With the port scan: targets | discover | send equals scan, host for host and port for port.
      const portKey = (out: string) => out.split('\n').filter((l) => l.includes('"type":"port"')).map((l) => { const p = JSON.parse(l) as { ip: string; port: number; state: string }; return `${p.ip}:${p.port} ${p.state}`; }).sort();
      const scan = await sh(lab, 'prtip scan -sS -n -p 7,9 -oD - 198.19.0.9 198.19.1.9 198.19.3.9');
      const piped = await sh(lab, 'prtip targets 198.19.0.9 198.19.1.9 198.19.3.9 -p 7,9 | prtip discover | prtip send -sS | prtip format -oD -');
      t.equal(piped.code, 0, piped.stderr);
      t.same(portKey(piped.stdout), portKey(scan.stdout));
      t.same(key(hostRows(piped.stdout)), key(hostRows(scan.stdout)));
      t.equal(hostRows(piped.stdout).length, 3, 'one host record per host (send adds none after discover)');
    });

    await t.test('a port scan probes only the hosts discovery found up', async (t) => {
      const cap = await lab.capture('dst net 198.19.0.0/16 and tcp', { snaplen: 128 });
      const r = await sh(lab, 'prtip scan -sS -n -p 7,9 -oD - 198.19.0.9 198.19.1.9 198.19.3.9');
      const packets = await cap.stop();
      t.equal(r.code, 0, r.stderr);
      const ports = r.stdout.split('\n').filter((l) => l.includes('"type":"port"')).map((l) => JSON.parse(l) as { ip: string; port: number; state: string });
      t.same(ports.map((p) => `${p.ip}:${p.port} ${p.state}`).sort(), ['198.19.0.9:7 closed', '198.19.0.9:9 closed', '198.19.3.9:7 closed', '198.19.3.9:9 closed']);
      t.notOk(packets.some((p) => p.dst === '198.19.1.9' && (p.dport === 7 || p.dport === 9)), 'no port probe to the host found down');
      t.same(byNet(hostRows(r.stdout)), { '198.19.0 up echo-reply': 1, '198.19.1 down no-response': 1, '198.19.3 up reset': 1 });
      const pn = await sh(lab, 'prtip scan -sS -n -Pn -p 7 -oD - 198.19.1.9');
      t.same(hostRows(pn.stdout).map((h) => `${h.state} ${h.reason}`), ['up user-set'], '-Pn: no ping probe, the host is up by user-set');
      // nmap resolves on-link hosts even with -Pn: one without an ARP answer is down, with no ports.
      const pnLink = await sh(lab, 'prtip scan -sS -n -Pn -p 7 -oD - 198.18.0.2 198.18.0.30');
      t.same(hostRows(pnLink.stdout).map((h) => `${h.ip} ${h.state} ${h.reason}`).sort(), ['198.18.0.2 up user-set', '198.18.0.30 down no-response'], pnLink.stderr);
      t.same(pnLink.stdout.split('\n').filter((l) => l.includes('"type":"port"')).map((l) => (JSON.parse(l) as { ip: string }).ip), ['198.18.0.2'], 'ports of the resolved host only');
    });

    await t.test('on the local link: ARP (IPv4) and ND (IPv6) alone decide', async (t) => {
      for (const a of ['198.18.0.10/24', '198.18.0.11/24']) await lab.exec(['ip', 'addr', 'add', a, 'dev', lab.targetIf], { ns: 'target' });
      for (const a of ['2001:2::10/64', '2001:2::11/64']) await lab.exec(['ip', 'addr', 'add', a, 'dev', lab.targetIf, 'nodad'], { ns: 'target' });
      const cap = await lab.capture('arp or icmp or icmp6', { snaplen: 128 });
      const v4 = await sh(lab, 'prtip scan -sn -n -oD - 198.18.0.10 198.18.0.11 198.18.0.20');
      const v6 = await sh(lab, 'prtip scan -sn -n -6 -oD - 2001:2::10 2001:2::11 2001:2::20');
      await cap.stop();
      const key = (rows: HostRow[]) => rows.map((r) => `${r.ip} ${r.state} ${r.reason}`).sort();
      t.same(key(hostRows(v4.stdout)), ['198.18.0.10 up arp-response', '198.18.0.11 up arp-response', '198.18.0.20 down no-response'], v4.stderr);
      t.same(key(hostRows(v6.stdout)), ['2001:2::10 up nd-response', '2001:2::11 up nd-response', '2001:2::20 down no-response'], v6.stderr);
      t.same(upSet(hostRows(v4.stdout)), await nmapUp(lab, '198.18.0.10 198.18.0.11 198.18.0.20'), 'nmap agrees (IPv4)');
      const text = (await lab.exec(['tcpdump', '-nr', cap.file], { ns: 'target' })).stdout.toString();
      t.match(text, /ARP, Request who-has 198\.18\.0\.20/, 'ARP requests on the wire');
      t.match(text, /neighbor solicitation, who has 2001:2::20/, 'neighbour solicitations on the wire');
      t.notMatch(text, /198\.18\.0\.2[0-9]?: ICMP echo request|> 198\.18\.0\.1[01]: ICMP echo request/, 'no ICMP echo to on-link hosts');
    });
  });
}
