// The SYN scan in the namespace lab: results against ground truth and against nmap -sS, and the
// wire as the target sees it (flags, options, checksums, rate, retransmissions only to probes
// that got no answer).
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket, type Lab } from '../lab/lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const CLOSED_SAMPLE = [1, 7, 21, 23, 25, 53, 443, 3306, 65535];
const FILTERED = [9999, 139];
// A small snaplen keeps tcpdump's ring from overflowing on line-rate bursts (frames are sized by it).
const SNAP = { snaplen: 160 };

interface PortRow { ip: string; port: number; proto: string; state: string; reason: string; ttl: number | null }

const portRows = (jsonl: string) => jsonLines(jsonl).filter((r) => r.type === 'port') as unknown as PortRow[];
const key = (r: { ip: string; port: number; state: string; reason: string }) => `${r.ip} ${r.port}/tcp ${r.state} ${r.reason}`;

function expected(lab: Lab, ip: string, ports: number[]): string[] {
  return ports.map((p) => {
    if (lab.tcpOpen.includes(p)) return `${ip} ${p}/tcp open syn-ack`;
    if (lab.tcpFiltered.includes(p)) return `${ip} ${p}/tcp filtered no-response`;
    return `${ip} ${p}/tcp closed reset`;
  }).sort();
}

async function sh(lab: Lab, shellCommand: string, timeoutMs = 90_000) {
  const cmd = shellCommand.replaceAll('prtip ', `${process.execPath} ${PRTIP_BIN} `);
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

/** RFC 1071 over the parts, for checking captured checksums independently of native/. */
function csum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

function checksumsValid(p: CapturedPacket): boolean {
  const ip = p.ip;
  if (p.family === 4) {
    const ihl = (ip[0]! & 15) * 4;
    const seg = ip.subarray(ihl, ip.readUInt16BE(2));
    const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 6, seg.length >> 8, seg.length & 255])]);
    return csum(ip.subarray(0, ihl)) === 0 && csum(pseudo, seg) === 0;
  }
  const seg = ip.subarray(40, 40 + ip.readUInt16BE(4));
  const pseudo = Buffer.concat([ip.subarray(8, 40), Buffer.from([0, 0, seg.length >> 8, seg.length & 255, 0, 0, 0, 6])]);
  return csum(pseudo, seg) === 0;
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: ['nginx', 'sshd'], filteredTcpPorts: FILTERED, anyIpV4: '198.19.0.0/24', anyIpV6: '2001:2:0:100::/64' });
  t.teardown(() => lab.teardown());
  const ports = [...new Set([...lab.tcpOpen, ...lab.tcpFiltered, ...CLOSED_SAMPLE])].sort((a, b) => a - b);
  const portList = ports.join(',');
  const fast = '--max-rtt-timeout 300ms --max-retries 2';

  t.test('pipe and single command agree with ground truth (IPv4), and the wire shows valid SYNs', async (t) => {
    const cap = await lab.capture(`tcp and dst host ${lab.targetV4}`, SNAP);
    const pipe = await sh(lab, `prtip targets ${lab.targetV4} -p ${portList} | prtip send -sS -g 61999 ${fast} | prtip format -oD -`);
    const packets = await cap.stop();
    t.equal(pipe.code, 0, pipe.stderr);
    t.same(portRows(pipe.stdout).map(key).sort(), expected(lab, lab.targetV4, ports));
    t.ok(portRows(pipe.stdout).filter((r) => r.state !== 'filtered').every((r) => r.ttl === 64), 'replies carry their TTL');
    const syns = packets.filter((p) => p.flags === 'S');
    t.ok(syns.length > 0);
    t.ok(syns.every((p) => p.src === lab.scannerV4 && p.sport === 61999), 'from our address and the -g port');
    t.ok(syns.every((p) => p.window === 1024 && p.tcpOptions?.equals(Buffer.from([2, 4, 5, 0xb4])) && p.length === 44), 'window 1024, MSS 1460 only');
    t.ok(syns.every(checksumsValid), 'IPv4 and TCP checksums valid on every SYN');
    const perPort = (port: number) => syns.filter((p) => p.dport === port).length;
    for (const p of ports) {
      // nmap's rule: a path that lost nothing earns one retransmission, however many --max-retries allows.
      t.equal(perPort(p), lab.tcpFiltered.includes(p) ? 2 : 1, `port ${p}: ${lab.tcpFiltered.includes(p) ? 'first try + 1 retry' : 'one SYN'}`);
    }
    const kernelRsts = packets.filter((p) => p.flags === 'R' && p.src === lab.scannerV4);
    t.ok(kernelRsts.length >= lab.tcpOpen.length, 'the scanner kernel resets the half-open connections (harmless)');

    const single = await sh(lab, `prtip scan -sS -e ${lab.scannerIf} -S ${lab.scannerV4} ${fast} -p ${portList} -oD - ${lab.targetV4}`);
    t.equal(single.code, 0, single.stderr);
    t.same(portRows(single.stdout).map(key).sort(), expected(lab, lab.targetV4, ports), 'single command, with -e and -S');
    const badIface = await sh(lab, `prtip scan -sS -e nosuch0 -p 22 ${lab.targetV4}`);
    t.equal(badIface.code, 1);
    t.match(badIface.stderr, /nosuch0/);
    t.equal(badIface.stderr.trim().split('\n').length, 1, 'one line');
  });

  t.test('port records carry the TCP window of the reply seen on the wire', async (t) => {
    const cap = await lab.capture(`tcp and src host ${lab.targetV4}`, SNAP);
    const r = await sh(lab, `prtip scan -sS ${fast} -p 22,80,81 -oD - ${lab.targetV4}`);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const rows = jsonLines(r.stdout).filter((x) => x.type === 'port') as Array<{ port: number; state: string; window?: number }>;
    t.equal(rows.length, 3);
    for (const row of rows) {
      const reply = packets.find((p) => p.sport === row.port && (p.flags === 'SA' || p.flags.includes('R')));
      t.ok(reply, `a reply from port ${row.port} was captured`);
      t.equal(row.window, reply?.window, `port ${row.port} (${row.state}): window as on the wire`);
    }
  });

  t.test('IPv6: pipe == single command == ground truth, valid checksums over the IPv6 pseudo-header', async (t) => {
    const cap = await lab.capture(`ip6 and tcp and dst host ${lab.targetV6}`, SNAP);
    const single = await sh(lab, `prtip scan -sS ${fast} -p ${portList} -oD - ${lab.targetV6}`);
    const packets = await cap.stop();
    const pipe = await sh(lab, `prtip targets ${lab.targetV6} 2001:2:0:100::7 -p ${portList} | prtip send -sS ${fast} | prtip format -oD -`);
    t.equal(single.code, 0, single.stderr);
    t.equal(pipe.code, 0, pipe.stderr);
    t.same(portRows(single.stdout).map(key).sort(), expected(lab, lab.targetV6, ports));
    t.same(portRows(pipe.stdout).map(key).sort(), [...expected(lab, lab.targetV6, ports), ...expected(lab, '2001:2:0:100::7', ports)].sort());
    const syns = packets.filter((p) => p.flags === 'S');
    t.ok(syns.length >= ports.length && syns.every((p) => p.family === 6 && p.ttl === 64 && checksumsValid(p)), `${syns.length} IPv6 SYNs, all valid`);
  });

  t.test('default scan type as root is -sS; several hosts; normal output', async (t) => {
    const r = await sh(lab, `prtip -p 22,80,81,9999 --max-rtt-timeout 300ms -oD - 198.19.0.1-4`);
    t.equal(r.code, 0, r.stderr);
    const recs = jsonLines(r.stdout);
    t.match(recs[0], { type: 'scan', scanTypes: ['syn'] });
    t.equal(recs.filter((x) => x.type === 'port').length, 16);
  });

  t.test('on-link hosts and hosts behind a gateway in one scan; a second gateway is refused', async (t) => {
    // 198.18.0.3 is on the link but no host answers ARP for it: not probed, filtered/no-response, down.
    // -Pn --disable-arp-ping: this is the port scan's own next-hop handling (discovery's ARP, which nmap does even with -Pn, would leave the host out before it).
    const cap = await lab.capture(`tcp and dst port 22 and tcp[tcpflags] == tcp-syn`, SNAP);
    const ok = await sh(lab, `prtip scan -sS -Pn --disable-arp-ping -p 22 --max-rtt-timeout 300ms -oD - ${lab.targetV4} 198.18.0.3 198.19.0.3 198.19.0.200`);
    const packets = await cap.stop();
    t.equal(ok.code, 0, ok.stderr);
    t.same(portRows(ok.stdout).map(key).sort(), [
      `${lab.targetV4} 22/tcp open syn-ack`, '198.18.0.3 22/tcp filtered no-response', '198.19.0.200 22/tcp open syn-ack', '198.19.0.3 22/tcp open syn-ack',
    ]);
    t.same(packets.map((p) => p.dst).sort(), [lab.targetV4, '198.19.0.200', '198.19.0.3'], 'one SYN each, none for the unresolved host');
    t.ok(packets.every((p) => p.ethDst === lab.targetMac), 'all to the target\'s MAC (host and gateway)');
    // A second gateway on the link would need frames the one engine cannot tell apart from the first's routes.
    const add = await lab.exec(['ip', 'route', 'add', '198.19.1.0/24', 'via', '198.18.0.7', 'dev', lab.scannerIf]);
    t.equal(add.code, 0, add.stderr);
    const r = await sh(lab, `prtip scan -sS -Pn -r -p 22 -oD - 198.19.0.3 198.19.1.1`);
    await lab.exec(['ip', 'route', 'del', '198.19.1.0/24']);
    t.equal(r.code, 1);
    t.match(r.stderr, /-sS sends every routed IPv4 probe to one gateway \(198\.18\.0\.2 on veth-scan\), but 198\.19\.1\.1 goes through 198\.18\.0\.7/);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  });

  t.test('without CAP_NET_RAW: one line, then a connect scan with the same answer', async (t) => {
    const r = await sh(lab, `setpriv --bounding-set=-net_raw --inh-caps=-net_raw prtip scan -sS -p 22,81 --max-rtt-timeout 300ms -oD - ${lab.targetV4}`);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stderr.trim(), 'prtip: warning: -sS needs root or CAP_NET_RAW; running a connect scan (-sT) instead');
    t.same(portRows(r.stdout).map(key).sort(), [`${lab.targetV4} 22/tcp open syn-ack`, `${lab.targetV4} 81/tcp closed conn-refused`]);
  });

  t.test('--max-rate is held on the wire (target-side capture timestamps)', async (t) => {
    const cap = await lab.capture(`tcp and dst host 198.19.0.9 and tcp[tcpflags] == tcp-syn`, SNAP);
    const r = await sh(lab, `prtip scan -sS -Pn --rate 4000 --max-retries 0 --max-rtt-timeout 200ms -p 1-8000 -oD /dev/null 198.19.0.9`);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.equal(cap.dropped ?? 0, 0, 'tcpdump saw every packet');
    t.equal(packets.length, 8000, 'one SYN per port');
    // --max-rate is a ceiling on the average rate, as nmap's (congestion control and a busy machine
    // may go slower, never faster), and catching up after a stall stays a short burst: no stretch
    // of 400 SYNs outruns it by half. Unpaced, they would leave at the link's speed, tens of times faster.
    const times = packets.map((p) => p.time);
    const average = (times.length - 1) / (times.at(-1)! - times[0]!);
    t.ok(average <= 4000 * 1.05, `${average.toFixed(0)} pps on average for --rate 4000`);
    const fastest = fastestRate(times, 400);
    t.ok(fastest <= 4000 * 1.5, `fastest 400 SYNs at ${fastest.toFixed(0)} pps for --rate 4000`);

    const slowCap = await lab.capture(`tcp and dst host 198.19.0.10 and tcp[tcpflags] == tcp-syn`, SNAP);
    const slow = await sh(lab, `prtip scan -sS -Pn --rate 100 --max-retries 0 --max-rtt-timeout 200ms -p 1-150 -oD /dev/null 198.19.0.10`);
    const slowPackets = await slowCap.stop();
    t.equal(slow.code, 0, slow.stderr);
    t.equal(slowPackets.length, 150);
    const slowTimes = slowPackets.map((p) => p.time);
    const slowAverage = (slowTimes.length - 1) / (slowTimes.at(-1)! - slowTimes[0]!);
    t.ok(slowAverage <= 100 * 1.05, `${slowAverage.toFixed(1)} pps on average for --rate 100`);
    const slowFastest = fastestRate(slowTimes, 50);
    t.ok(slowFastest <= 100 * 1.5, `fastest 50 SYNs at ${slowFastest.toFixed(1)} pps for --rate 100`);
  });

  t.test('SIGINT stops the sender, flushes what was found and writes the trailer', async (t) => {
    // Interrupted 1 s after the first port record (~200 at 200 pps), not at a fixed time after start.
    const cap = await lab.capture(`tcp and dst host 198.19.0.11 and tcp[tcpflags] == tcp-syn`, SNAP);
    const out = `/tmp/prtip-syn-sigint-${process.pid}.jsonl`;
    const r = await sh(lab, `prtip scan -sS -Pn --rate 200 -p 1-2000 -oD ${out} 198.19.0.11 > /dev/null & pid=$!; for i in $(seq 200); do grep -q '"type":"port"' ${out} 2>/dev/null && break; sleep 0.1; done; sleep 1; kill -INT $pid; wait $pid; echo rc=$?; cat ${out}; rm -f ${out}`);
    await new Promise((res) => setTimeout(res, 500));
    const packets = await cap.stop();
    t.match(r.stdout, /^rc=130$/m, 'exits 130 (interrupted, as nmap), after flushing');
    const recs = jsonLines(r.stdout.split('\n').slice(1).join('\n'));
    const ports = recs.filter((x) => x.type === 'port');
    const end = recs.at(-1) as { type: string; interrupted: boolean; counters: { send: { sent: number } } };
    t.match(end, { type: 'end', interrupted: true });
    t.ok(ports.length > 50 && ports.length < 2000, `partial results flushed (${ports.length})`);
    t.equal(packets.length, end.counters.send.sent, 'the trailer counts the SYNs on the wire');
    t.ok(packets.length < 2000, `sending stopped at the interrupt (${packets.length} of 2000 SYNs)`);
  });

  t.test('retransmissions go only to probes without an answer (20% loss)', async (t) => {
    const lossy = await createLab({ lossPercent: 20, tcpListeners: [8080, 31337] });
    t.teardown(() => lossy.teardown());
    const cap = await lossy.capture(`tcp and host ${lossy.targetV4}`, SNAP);
    const r = await sh(lossy, `prtip scan -sS --max-retries 8 --max-rtt-timeout 200ms -p 1-400,8080,31337 -oD - ${lossy.targetV4}`);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.equal(cap.dropped ?? 0, 0, 'tcpdump saw every packet');
    const rows = portRows(r.stdout);
    const all = [...Array.from({ length: 400 }, (_, i) => i + 1), 8080, 31337];
    t.same(rows.map(key).sort(), expected(lossy, lossy.targetV4, all), 'every port answered despite the loss');
    let retransmitted = 0;
    let bad = 0;
    for (const port of all) {
      const syns = packets.filter((p) => p.dport === port && p.flags === 'S');
      const replyAt = packets.find((p) => p.sport === port && p.src === lossy.targetV4 && p.flags !== undefined && /R|SA/.test(p.flags))?.time;
      if (syns.length > 1) retransmitted++;
      if (replyAt === undefined || syns.some((s) => s.time > replyAt)) {
        bad++;
        if (bad < 4) t.comment(`port ${port}: reply at ${replyAt}, SYNs at ${syns.map((s) => s.time).join(', ')}; ` + packets.filter((p) => p.sport === port || p.dport === port).map((p) => `${p.time} ${p.src}>${p.dst} ${p.flags}`).join('; '));
      }
    }
    t.equal(bad, 0, 'no SYN after a port answered, and every port answered');
    t.ok(retransmitted > 0, `${retransmitted} ports needed a retransmission`);
    const end = jsonLines(r.stdout).at(-1) as { counters: { send: { duplicates: number; sent: number; probes: number; retries: number } } };
    const synsOnWire = packets.filter((p) => p.flags === 'S' && p.dst === lossy.targetV4).length;
    t.equal(end.counters.send.sent, synsOnWire, 'sent = SYNs on the wire');
    t.equal(end.counters.send.retries, synsOnWire - all.length, 'retries = SYNs beyond one per probe');
    t.equal(end.counters.send.probes, all.length);
    t.ok(packets.filter((p) => p.flags === 'S').every((p) => p.ethDst === lossy.targetMac), 'retransmissions keep the host\'s MAC');
  });

  t.test('same answer as nmap -sS for open, closed and filtered ports on several hosts', async (t) => {
    const hosts = [lab.targetV4, '198.19.0.1', '198.19.0.77'];
    const nmap = await lab.exec(['nmap', '-sS', '-n', '-Pn', '--max-retries', '2', '-p', portList, '-oX', '-', ...hosts], { timeoutMs: 120_000 });
    t.equal(nmap.code, 0, nmap.stderr);
    const theirs: string[] = [];
    const xml = nmap.stdout.toString();
    for (const host of xml.split('<host ').slice(1)) {
      const ip = /<address addr="([^"]+)"/.exec(host)![1]!;
      for (const m of host.matchAll(/<port protocol="tcp" portid="(\d+)"><state state="([a-z|]+)" reason="([a-z-]+)"/g)) {
        theirs.push(`${ip} ${m[1]}/tcp ${m[2]} ${m[3]}`);
      }
      // nmap folds the many closed ports into <extraports>; expand them from the port list.
      const extra = /<extraports state="([a-z]+)" count="(\d+)">\s*<extrareasons reason="([a-z-]+)"/.exec(host);
      if (extra) {
        const listed = new Set(theirs.filter((x) => x.startsWith(`${ip} `)).map((x) => Number(x.split(' ')[1]!.split('/')[0])));
        for (const p of ports) if (!listed.has(p)) theirs.push(`${ip} ${p}/tcp ${extra[1]} ${extra[3]}`);
      }
    }
    const ours = await sh(lab, `prtip scan -sS --max-retries 2 -p ${portList} -oD - ${hosts.join(' ')}`);
    t.equal(ours.code, 0, ours.stderr);
    t.equal(theirs.length, hosts.length * ports.length, 'nmap reported every port');
    t.same(portRows(ours.stdout).map(key).sort(), theirs.sort());
  });
}

/** The highest rate (packets/s) over any `n` consecutive capture timestamps (seconds). */
function fastestRate(times: number[], n: number): number {
  let best = 0;
  for (let i = 0; i + n - 1 < times.length; i++) {
    const span = times[i + n - 1]! - times[i]!;
    best = Math.max(best, span > 0 ? (n - 1) / span : Infinity);
  }
  return best;
}
