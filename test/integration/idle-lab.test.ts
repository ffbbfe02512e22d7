// -sI in the namespace lab, with a zombie of our own (test/lab/zombie-lab.ts: one global IP ID
// counter, which Linux hosts do not have): states and reasons equal `nmap -sI` through the same
// zombie in the same run (open ports by the zombie's IP ID change, closed and dropped ports
// closed|filtered); on the wire, not one packet from the scanner's own address reaches the target
// (every SYN it gets claims to come from the zombie); a Linux host is refused as a zombie.
import t from 'tap';
import { createLab, labSkipReason } from '../lab/lab.js';
import { nmapXmlPorts, verdictLines, type PortVerdict } from '../lab/probe-lab.js';
import { addZombie } from '../lab/zombie-lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const DROPPED = 9999;

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: ['sshd'], tcpListeners: [8080, 31337] });
  t.teardown(() => lab.teardown());
  const zombie = await addZombie(lab);
  t.teardown(() => zombie.teardown());
  // Dropped before the target's TCP sees it (no iifname: with the zombie's bridge, packets arrive on br-lab).
  const nft = await lab.exec(['nft', '-f', '-'], { ns: 'target', input: `table inet idle_lab {\n  chain input {\n    type filter hook input priority -5; policy accept;\n    tcp dport ${DROPPED} drop\n  }\n}\n` });
  if (nft.code !== 0) throw new Error(nft.stderr);

  // 1-100 in groups of 32 hold port 22; 8080 and 31337 share the last group: the halving must part them.
  const ports = [...Array.from({ length: 100 }, (_, i) => i + 1), 8080, 31337, DROPPED, 6379];
  const open = [22, 8080, 31337];
  const list = ports.join(',');

  t.test('as the lab is built, as nmap -sI through the same zombie, and nothing of ours reaches the target', async (t) => {
    const cap = await lab.capture(`tcp and dst host ${lab.targetV4}`);
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-Pn', '-n', '-sI', zombie.address, '-p', list, '-oD', '-', '-oX', `${lab.tmpDir}/idle.xml`, lab.targetV4], { timeoutMs: 120_000 });
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    const rows = jsonLines(r.stdout.toString()).filter((x) => x.type === 'port') as unknown as PortVerdict[];
    t.same(rows.map((x) => `${x.port} ${x.state} ${x.reason}`).sort(),
      ports.map((p) => `${p} ${open.includes(p) ? 'open ipid-change' : 'closed|filtered no-ipid-change'}`).sort(), 'as the lab is built');
    const nmap = await lab.exec(['nmap', '-n', '-Pn', '-sI', zombie.address, '-p', list, '-oX', '-', lab.targetV4], { timeoutMs: 120_000 });
    t.equal(nmap.code, 0, nmap.stderr);
    const theirs = { ports: nmapXmlPorts(nmap.stdout.toString()) };
    t.notMatch(nmap.stdout.toString(), /<scaninfo/, 'nmap writes no scaninfo for -sI (its DTD has no idle type)');
    // nmap lists the closed|filtered ones in <extraports>: compare what it lists, and that it lists the same open ports.
    t.same(verdictLines(rows.filter((x) => x.state === 'open')), verdictLines(theirs.ports.filter((x) => x.state === 'open')), 'the open ports and their reason, as nmap');
    t.same(theirs.ports.filter((x) => x.state !== 'open'), [], 'nmap lists nothing else either (all closed|filtered)');
    const syns = packets.filter((p) => p.flags === 'S');
    t.ok(syns.length >= ports.length, `the target got SYNs for every port (${syns.length})`);
    t.same([...new Set(packets.map((p) => p.src))].sort(), [zombie.address], 'every TCP packet the target got claims the zombie\'s address: none came from the scanner\'s');
    t.ok(syns.every((p) => p.sport === 80), 'forged from the zombie\'s probe port');
    t.notMatch((await import('node:fs')).readFileSync(`${lab.tmpDir}/idle.xml`, 'utf8'), /<scaninfo/, 'neither does prtip');
  });

  t.test('a probe port after the colon', async (t) => {
    const cap = await lab.capture(`tcp and dst host ${zombie.address} and src host ${lab.scannerV4}`);
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-Pn', '-n', '-sI', `${zombie.address}:443`, '-p', '22,23', '-oD', '-', lab.targetV4], { timeoutMs: 60_000 });
    const packets = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.ok(packets.length > 0 && packets.every((p) => p.dport === 443 && p.flags === 'SA'), 'the zombie is probed with SYN/ACKs to 443');
    const rows = jsonLines(r.stdout.toString()).filter((x) => x.type === 'port') as unknown as PortVerdict[];
    t.same(rows.map((x) => `${x.port} ${x.state}`).sort(), ['22 open', '23 closed|filtered']);
  });

  t.test('a Linux host (per-destination IP IDs) is refused as a zombie, in one line', async (t) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-Pn', '-n', '-sI', lab.targetV4, '-p', '22', lab.targetV4], { timeoutMs: 60_000 });
    t.equal(r.code, 1);
    t.match(r.stderr, /^prtip: -sI: 198\.18\.0\.2:80 cannot serve as a zombie: .*\n$/);
  });
}
