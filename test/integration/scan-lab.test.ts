// prtip scans the namespace lab: the pipe and the single command must agree with the lab's
// ground truth port for port, and the wire must show what the scan says it did.
import t from 'tap';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const CLOSED_SAMPLE = [1, 7, 21, 23, 25, 53, 110, 443, 3306, 5432, 8443, 65535];
const FILTERED = [9999, 139];

interface PortRow { ip: string; port: number; proto: string; state: string; reason: string }

function portRows(jsonl: string): PortRow[] {
  return jsonLines(jsonl).filter((r) => r.type === 'port') as unknown as PortRow[];
}

const key = (r: PortRow) => `${r.ip} ${r.port}/${r.proto} ${r.state} ${r.reason}`;

function expected(lab: Lab, ip: string, ports: number[]): string[] {
  return ports.map((p) => {
    if (lab.tcpOpen.includes(p)) return `${ip} ${p}/tcp open syn-ack`;
    if (lab.tcpFiltered.includes(p)) return `${ip} ${p}/tcp filtered no-response`;
    return `${ip} ${p}/tcp closed conn-refused`;
  }).sort();
}

async function prtipIn(lab: Lab, shellCommand: string, timeoutMs = 60_000) {
  const node = process.execPath;
  const cmd = shellCommand.replaceAll('prtip ', `${node} ${PRTIP_BIN} `);
  const r = await lab.exec(['bash', '-o', 'pipefail', '-c', cmd], { timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({
    daemons: ['nginx', 'sshd', 'redis'],
    filteredTcpPorts: FILTERED,
    anyIpV4: '198.19.0.0/24',
  });
  t.teardown(() => lab.teardown());
  const ports = [...new Set([...lab.tcpOpen, ...lab.tcpFiltered, ...CLOSED_SAMPLE])].sort((a, b) => a - b);
  const portList = ports.join(',');
  const fast = '--max-rtt-timeout 400ms --max-retries 1';

  t.test('pipe: targets | send -sT | format -oD - matches ground truth (IPv4)', async (t) => {
    const r = await prtipIn(lab, `prtip targets ${lab.targetV4} -p ${portList} | prtip send -sT ${fast} | prtip format -oD -`);
    t.equal(r.code, 0, r.stderr);
    t.same(portRows(r.stdout).map(key).sort(), expected(lab, lab.targetV4, ports));
  });

  t.test('single command agrees with the pipe, state for state, and matches ground truth (IPv6)', async (t) => {
    const single = await prtipIn(lab, `prtip scan -sT ${fast} -p ${portList} -oD - ${lab.targetV6}`);
    const pipe = await prtipIn(lab, `prtip targets ${lab.targetV6} -p ${portList} | prtip send -sT ${fast} | prtip format -oD -`);
    t.equal(single.code, 0, single.stderr);
    t.equal(pipe.code, 0, pipe.stderr);
    const a = portRows(single.stdout).map(key).sort();
    t.same(a, expected(lab, lab.targetV6, ports));
    t.same(portRows(pipe.stdout).map(key).sort(), a, 'pipe and single command agree');
  });

  t.test('nmap-style call without a command, several hosts, normal output', async (t) => {
    const r = await prtipIn(lab, `prtip -sT ${fast} -p 22,80,81,9999 198.19.0.1-4`);
    t.equal(r.code, 0, r.stderr);
    for (let h = 1; h <= 4; h++) t.match(r.stdout, `prtip scan report for 198.19.0.${h}\n`);
    t.match(r.stdout, /22\/tcp\s+open\s+ssh/);
    t.match(r.stdout, /80\/tcp\s+open\s+http/);
    t.match(r.stdout, /81\/tcp\s+closed/);
    t.match(r.stdout, /9999\/tcp\s+filtered/);
    t.match(r.stdout, /prtip done: 4 IP addresses \(4 hosts up\) scanned in [\d.]+ seconds/);
  });

  t.test('the wire: a connect scan sends one SYN per closed/open port and retries the filtered ones', async (t) => {
    const cap = await lab.capture(`tcp and dst host ${lab.targetV4} and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0`);
    const r = await prtipIn(lab, `prtip scan -sT --max-rtt-timeout 300ms --max-retries 2 -p 22,81,9999 -oD - ${lab.targetV4}`);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const synsTo = (port: number) => packets.filter((p) => p.dport === port && p.flags === 'S').length;
    t.equal(synsTo(22), 1, 'open port: one SYN');
    t.equal(synsTo(81), 1, 'closed port: one SYN');
    // The kernel also retransmits a SYN within a 300 ms attempt at most once (its first RTO is 1 s),
    // so 3 attempts give exactly 3 SYNs.
    t.equal(synsTo(9999), 3, 'filtered port: first try + 2 retries');
    t.ok(packets.every((p) => p.src === lab.scannerV4), 'every SYN comes from the scanner');
  });

  t.test('--max-rate paces the connects on the wire', async (t) => {
    const cap = await lab.capture(`tcp and dst host ${lab.targetV4} and tcp[tcpflags] == tcp-syn`);
    const r = await prtipIn(lab, `prtip scan -sT --max-rate 50 -p 1000-1039 -oD - ${lab.targetV4}`);
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.equal(packets.length, 40);
    const span = packets.at(-1)!.time - packets[0]!.time;
    // 40 SYNs at 50/s: about 0.8 s minus the burst allowance (50/20 = 2.5 tokens); far from instant.
    t.ok(span > 0.6, `40 SYNs over ${span.toFixed(3)} s`);
  });

  t.test('sharded pipes together cover exactly the unsharded scan', async (t) => {
    const runShard = (i: number) =>
      prtipIn(lab, `prtip targets 198.19.0.0/28 -p 22,80,81 --seed 99 --shard ${i}/3 | prtip send -sT ${fast} | prtip format -oD -`);
    const rows = (await Promise.all([1, 2, 3].map(runShard))).flatMap((r) => portRows(r.stdout).map(key));
    t.equal(rows.length, 16 * 3);
    t.equal(new Set(rows).size, 48, 'no probe in two shards');
    const whole = await prtipIn(lab, `prtip scan -sT ${fast} -p 22,80,81 -oD - 198.19.0.0/28`);
    t.same(rows.sort(), portRows(whole.stdout).map(key).sort());
  });

  t.test('SIGINT flushes what was found and writes the trailer', async (t) => {
    // Interrupt 1 s after the first port record (~200 at 200 pps), not at a fixed time after start:
    // a loaded machine can take seconds just to start node.
    const node = process.execPath;
    const cmd = `${node} ${PRTIP_BIN} scan -sT --max-rate 200 -p 1-2000 -oD /tmp/prtip-sigint-${process.pid}.jsonl ${lab.targetV4} > /dev/null & pid=$!; for i in $(seq 200); do grep -q '"type":"port"' /tmp/prtip-sigint-${process.pid}.jsonl 2>/dev/null && break; sleep 0.1; done; sleep 1; kill -INT $pid; wait $pid; echo rc=$?; cat /tmp/prtip-sigint-${process.pid}.jsonl; rm -f /tmp/prtip-sigint-${process.pid}.jsonl`;
    const r = await lab.exec(['bash', '-c', cmd], { timeoutMs: 30_000 });
    const out = r.stdout.toString();
    t.match(out, /^rc=0$/m, 'exits cleanly');
    const recs = jsonLines(out.split('\n').slice(1).join('\n'));
    const ports = recs.filter((x) => x.type === 'port');
    t.ok(ports.length > 50 && ports.length < 2000, `partial results flushed (${ports.length})`);
    t.match(recs.at(-1), { type: 'end', interrupted: true });
  });
}
