// --packet-trace in the namespace lab: every SENT line is a probe the target captured (same port,
// flags, sequence number, TTL, IP id and length) and every captured reply is a RCVD line; the
// lines have nmap's shape (nmap --packet-trace on the same ports in the same run); -sU's ICMP
// port-unreachable shows as nmap writes it.
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { targetRules } from '../lab/probe-lab.js';
import { PRTIP_BIN } from '../helpers/cli.js';

const DROPPED = 9999;
const CLOSED = 7;

interface TraceLine { dir: 'SENT' | 'RCVD'; sport: number; dport: number; flags: string; ttl: number; id: number; iplen: number; seq: number }

const TCP_LINE = /^(SENT|RCVD) \(\d+\.\d{4}s\) TCP ([\d.]+):(\d+) > ([\d.]+):(\d+) ([FSRPAUEC]*) ttl=(\d+) id=(\d+) iplen=(\d+) {2}seq=(\d+) win=(\d+) (<[^>]*>)?$/;

function tcpLines(stdout: string): TraceLine[] {
  return stdout.split('\n').map((l) => TCP_LINE.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => ({
    dir: m[1] as 'SENT' | 'RCVD', sport: Number(m[3]), dport: Number(m[5]), flags: m[6]!, ttl: Number(m[7]), id: Number(m[8]), iplen: Number(m[9]), seq: Number(m[10]),
  }));
}

const key = (x: { sport?: number; dport?: number; flags?: string; seq?: number }) => `${x.sport}>${x.dport} ${x.flags} seq=${x.seq}`;
/** tcpdump-style letters of the lab's parser in nmap's order (both use F S R P A U; E and W/C aside). */
const nmapFlags = (p: CapturedPacket) => ['F', 'S', 'R', 'P', 'A', 'U'].filter((_, b) => (p.tcpFlags ?? 0) & (1 << b)).join('');
/** A trace line with its numbers masked: what the format looks like. */
const shape = (l: string) => l.replace(/\d+/g, 'N');

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [8080] });
  t.teardown(() => lab.teardown());
  await targetRules(lab, [`tcp dport ${DROPPED} counter drop`]);
  const ports = [CLOSED, 8080, DROPPED];

  t.test('-sS: SENT/RCVD lines are the packets on the wire, in nmap\'s format', async (t) => {
    const cap = await lab.capture(`tcp and host ${lab.targetV4}`, { snaplen: 128 });
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sS', '--packet-trace', '-Pn', '-n', '--max-retries', '1', '--max-rtt-timeout', '300ms',
      '-p', ports.join(','), lab.targetV4], { timeoutMs: 60_000 });
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    const lines = tcpLines(out);
    const sent = lines.filter((l) => l.dir === 'SENT');
    // From the scanner: our SYNs, and the kernel's RST to the SYN-ACK (not prtip's: no SENT line).
    const probes = packets.filter((p) => p.src === lab.scannerV4 && p.sport !== undefined && p.sport >= 61000 && nmapFlags(p) === 'S');
    t.ok(packets.some((p) => p.src === lab.scannerV4 && nmapFlags(p) === 'R'), 'the kernel reset the SYN-ACK');
    t.ok(probes.length >= 4, `${probes.length} probes captured (the dropped port's retry included)`);
    t.same(sent.map(key).sort(), probes.map((p) => key({ sport: p.sport, dport: p.dport, flags: nmapFlags(p), seq: p.seq })).sort(), 'SENT: every probe captured, no other');
    for (const p of probes) {
      const l = sent.find((s) => s.dport === p.dport && s.seq === p.seq);
      t.same(l && { ttl: l.ttl, id: l.id, iplen: l.iplen }, { ttl: p.ttl, id: p.ipId, iplen: p.length }, `port ${p.dport}: ttl, id and length as on the wire`);
    }
    const replies = packets.filter((p) => p.src === lab.targetV4);
    const rcvd = lines.filter((l) => l.dir === 'RCVD');
    t.ok(replies.some((p) => p.sport === 8080 && nmapFlags(p) === 'SA') && replies.some((p) => p.sport === CLOSED && nmapFlags(p) === 'RA'), 'SA and RA on the wire');
    for (const p of replies) {
      t.ok(rcvd.some((l) => key(l) === key({ sport: p.sport, dport: p.dport, flags: nmapFlags(p), seq: p.seq })), `RCVD ${key({ sport: p.sport, dport: p.dport, flags: nmapFlags(p), seq: p.seq })}`);
    }
    t.match(out, new RegExp(`^8080/tcp +open `, 'm'), 'the report is still there');

    // nmap's own trace of the same scan: the same kinds of lines, field for field.
    const n = await lab.exec(['nmap', '-sS', '--packet-trace', '-Pn', '-n', '--max-retries', '1', '-p', ports.join(','), lab.targetV4], { timeoutMs: 60_000 });
    t.equal(n.code, 0, n.stderr);
    const theirs = n.stdout.toString().split('\n').filter((l) => TCP_LINE.test(l));
    const ourShapes = new Set(out.split('\n').filter((l) => TCP_LINE.test(l)).map(shape));
    t.ok(theirs.length >= 4, 'nmap traced its packets');
    for (const s of new Set(theirs.filter((l) => / (S|SA|RA) ttl/.test(l)).map(shape))) t.ok(ourShapes.has(s), `nmap's line shape ${s} is ours too`);
  });

  t.test('-sS over IPv6: SENT lines are the probes on the wire (hopl, flow, payloadlen)', async (t) => {
    const cap = await lab.capture(`tcp and host ${lab.targetV6}`, { snaplen: 128 });
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sS', '--packet-trace', '-Pn', '-n', '--max-retries', '0', '-p', `${CLOSED},8080`, lab.targetV6], { timeoutMs: 60_000 });
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const V6 = /^(SENT|RCVD) \(\d+\.\d{4}s\) TCP ([0-9a-f:]+):(\d+) > ([0-9a-f:]+):(\d+) ([FSRPAUEC]*) hopl=(\d+) flow=([0-9a-f]+) payloadlen=(\d+) seq=(\d+) win=(\d+) (<[^>]*>)?$/;
    const lines = r.stdout.toString().split('\n').map((l) => V6.exec(l)).filter((m): m is RegExpExecArray => m !== null);
    const sent = lines.filter((m) => m[1] === 'SENT').map((m) => `${m[2]} ${m[3]}>${m[5]} ${m[6]} hopl=${m[7]} len=${m[9]} seq=${m[10]}`).sort();
    const probes = packets.filter((p) => p.src === lab.scannerV6 && nmapFlags(p) === 'S')
      .map((p) => `${p.src} ${p.sport}>${p.dport} S hopl=${p.ttl} len=${p.length - 40} seq=${p.seq}`).sort();
    t.equal(probes.length, 2);
    t.same(sent, probes, 'SENT: the captured probes, field for field');
    const rcvd = lines.filter((m) => m[1] === 'RCVD').map((m) => `${m[3]} ${m[6]}`).sort();
    t.same(rcvd, [`${CLOSED} RA`, '8080 SA'].sort(), 'RCVD: the RST of the closed port, the SYN-ACK of the open one');
  });

  t.test('-sU: the UDP probe and the ICMP port unreachable, as nmap writes them', async (t) => {
    const cap = await lab.capture(`host ${lab.targetV4}`, { snaplen: 256 });
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-sU', '--packet-trace', '-Pn', '-n', '--max-retries', '0', '-p', '9', lab.targetV4], { timeoutMs: 60_000 });
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    const udp = packets.find((p) => p.proto === 'udp' && p.dst === lab.targetV4 && p.dport === 9);
    const icmp = packets.find((p) => p.proto === 'icmp' && p.src === lab.targetV4);
    t.ok(udp && icmp, 'probe and ICMP error on the wire');
    if (!udp || !icmp) return;
    t.match(out, new RegExp(`^SENT \\(\\d+\\.\\d{4}s\\) UDP ${lab.scannerV4.replaceAll('.', '\\.')}:${udp.sport} > ${lab.targetV4.replaceAll('.', '\\.')}:9 ttl=${udp.ttl} id=${udp.ipId} iplen=${udp.length} $`, 'm'));
    t.match(out, new RegExp(`^RCVD \\(\\d+\\.\\d{4}s\\) ICMP \\[${lab.targetV4.replaceAll('.', '\\.')} > ${lab.scannerV4.replaceAll('.', '\\.')} Port 9 unreachable \\(type=3/code=3\\) \\] IP \\[ttl=${icmp.ttl} id=${icmp.ipId} iplen=${icmp.length} \\]$`, 'm'));
  });
}
