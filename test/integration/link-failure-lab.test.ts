// Nothing silent: the scanner's link goes down in the middle of a SYN scan (`ip link set … down`
// in the scanner namespace, once the -oD file shows results). The scan must stop, say why on
// stderr, exit with the documented status 3 (probes lost), and keep in -oD/-oX every result it had
// — with no probe it never got an answer for reported as filtered.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, labSkipReason } from '../lab/lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

const PORTS = 20000;

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({});
  t.teardown(() => lab.teardown());

  t.test('-sS whose link goes down mid-scan: exit 3, the reason on stderr, results so far kept in -oD and -oX', async (t) => {
    const jsonl = join(lab.tmpDir, 'down.jsonl');
    const xml = join(lab.tmpDir, 'down.xml');
    const cap = await lab.capture('tcp[tcpflags] == tcp-syn', { snaplen: 96 });
    // Paced at 2000/s so the link goes down after ~1000 results, well before the 20000 probes are sent.
    const script = [
      `${process.execPath} ${PRTIP_BIN} scan -sS -Pn --max-rate 2000 -p 1-${PORTS} -oD ${jsonl} -oX ${xml} ${lab.targetV4} > /dev/null 2> ${jsonl}.err & pid=$!`,
      `for i in $(seq 300); do [ "$(grep -c '"type":"port"' ${jsonl} 2>/dev/null || echo 0)" -ge 1000 ] && break; sleep 0.1; done`,
      `ip link set ${lab.scannerIf} down`,
      'wait $pid; echo "exit=$?"',
    ].join('\n');
    const r = await lab.exec(['bash', '-c', script], { timeoutMs: 90_000 });
    const packets = await cap.stop();
    const stderr = readFileSync(`${jsonl}.err`, 'utf8');
    t.match(r.stdout.toString(), /exit=3\n/, `exit status 3 (probes lost); stderr: ${stderr}`);
    t.match(stderr, new RegExp(`-sS: ${lab.scannerIf} went down \\(send: Network is down\\)|-sS: the capture on ${lab.scannerIf} stopped`), 'stderr says the link failed');
    t.match(stderr, /prtip: the scan lost probes \(send: \d+ probes lost/, 'and that probes were lost, with the exit status');

    const recs = jsonLines(readFileSync(jsonl, 'utf8'));
    const rows = recs.filter((x) => x.type === 'port') as Array<{ port: number; state: string; reason: string }>;
    const end = recs.at(-1) as { type: string; interrupted: boolean; counters: { send: { lostProbes: number; open: number; closed: number; filtered: number } } };
    t.equal(end.type, 'end', '-oD ends with its trailer');
    t.equal(end.interrupted, true, 'the trailer marks the results partial');
    t.ok(rows.length >= 1000 && rows.length < PORTS, `-oD kept the ${rows.length} results found before the failure`);
    t.same(rows.filter((x) => x.state === 'filtered'), [], 'no probe lost to the failure is reported filtered');
    for (const x of rows) {
      const want = lab.tcpOpen.includes(x.port) ? 'open syn-ack' : 'closed reset';
      if (`${x.state} ${x.reason}` !== want) { t.fail(`port ${x.port}: ${x.state} ${x.reason}, the target says ${want}`); break; }
    }
    t.equal(new Set(rows.map((x) => x.port)).size, rows.length, 'one row per port');
    t.equal(end.counters.send.lostProbes + rows.length, PORTS, 'every probe is either reported or counted lost');
    const synPorts = new Set(packets.filter((p) => p.dst === lab.targetV4).map((p) => p.dport));
    t.ok(rows.every((x) => synPorts.has(x.port)), 'every reported port had its SYN on the wire');
    t.ok(synPorts.size < PORTS, 'the target saw SYNs stop when the link went down');

    const report = readFileSync(xml, 'utf8');
    t.match(report, /<\/nmaprun>\s*$/, '-oX is complete XML');
    const openFound = rows.filter((x) => x.state === 'open').map((x) => x.port);
    for (const p of openFound) t.match(report, new RegExp(`<port protocol="tcp" portid="${p}"><state state="open"`), `-oX has open port ${p}`);
    t.match(report, new RegExp(`<extraports state="closed" count="${rows.length - openFound.length}"`), '-oX counts the closed ports found');
  });

  t.test('the same in a pipe: prtip send exits 3, and so does prtip format at its end', async (t) => {
    await lab.exec(['ip', 'link', 'set', lab.scannerIf, 'up']);
    const jsonl = join(lab.tmpDir, 'pipe.jsonl');
    const bin = `${process.execPath} ${PRTIP_BIN}`;
    const script = [
      `(${bin} targets ${lab.targetV4} -p 1-${PORTS} | ${bin} send -sS --max-rate 2000 2> ${jsonl}.send | ${bin} format -oD ${jsonl} > /dev/null 2> ${jsonl}.format; echo "\${PIPESTATUS[*]}" > ${jsonl}.codes) & pid=$!`,
      `for i in $(seq 300); do [ "$(grep -c '"type":"port"' ${jsonl} 2>/dev/null || echo 0)" -ge 1000 ] && break; sleep 0.1; done`,
      `ip link set ${lab.scannerIf} down`,
      'wait $pid',
    ].join('\n');
    await lab.exec(['bash', '-c', script], { timeoutMs: 90_000 });
    t.equal(readFileSync(`${jsonl}.codes`, 'utf8').trim(), '0 3 3', 'targets 0, send 3, format 3');
    t.match(readFileSync(`${jsonl}.send`, 'utf8'), /prtip: the scan lost probes \(send: \d+ probes lost/);
    t.match(readFileSync(`${jsonl}.format`, 'utf8'), /prtip: the scan lost probes \(send: \d+ probes lost/);
    const recs = jsonLines(readFileSync(jsonl, 'utf8'));
    const rows = recs.filter((x) => x.type === 'port');
    const end = recs.at(-1) as { counters: { send: { lostProbes: number } } };
    t.ok(rows.length >= 1000, `format wrote the ${rows.length} results that came before the failure`);
    t.equal(end.counters.send.lostProbes + rows.length, PORTS, 'every probe is reported or counted lost');
  });
}
