// IPv6 -O on the wire: nmap -6 -O and prtip -6 -sS -O against the lab's Linux target over IPv6,
// each while the target namespace captures. nmap's own packets are the reference: prtip's OS
// probes (recognised by nmap's flow label 0x12345) must have nmap's shapes — every byte but
// ports, random seq/ack, hop limit and checksums (ICMPv6 probes: every byte) — in nmap's order,
// as often as nmap sent each, with valid checksums and hop limits in nmap's range; prtip's
// printed fingerprint must be what the target really answered (each P= is a captured reply with
// the addresses masked) and equal nmap's print in every byte that depends neither on the random
// choices of the scanner (ports, ISNs, our seq/ack, hop limits, checksums) nor on the target's
// random flow labels and timestamps; no OS match is claimed ("no IPv6 OS database"); -oX, -oJ
// and DuckDB's os_fingerprints carry the same print. Then with S1 dropped once by the target's
// firewall: the six timed probes go again, as in nmap's capture.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { PRTIP_BIN } from '../helpers/cli.js';

const OPEN = 8080;
const CLOSED = 81;

/** RFC 1071 over the IPv6 pseudo header, written out here (independent of native/ and stages/). */
function checksumOk(ip: Buffer): boolean {
  let next = ip[6]!;
  let off = 40;
  while (next === 0 || next === 43 || next === 60) {
    next = ip[off]!;
    off += (ip[off + 1]! + 1) * 8;
  }
  const l4 = ip.subarray(off);
  const pseudo = Buffer.alloc(40);
  ip.copy(pseudo, 0, 8, 40);
  pseudo.writeUInt32BE(l4.length, 32);
  pseudo[39] = next;
  const all = Buffer.concat([pseudo, l4]);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s === 0xffff;
}

/** What of a probe must be the same whoever sent it. TCP: all but ports, seq, ack (zero or not), checksum. ICMPv6: every byte. UDP: all but ports and checksum. */
function probeShape(p: CapturedPacket): string {
  const ip = Buffer.from(p.ip);
  const head = ip.subarray(0, 6).toString('hex') + ip[6]!.toString(16);
  if (p.proto === 'tcp') {
    const l4 = ip.subarray(40);
    return `${head} tcp ack${l4.readUInt32BE(8) === 0 ? '0' : '*'} ${l4.subarray(12, 16).toString('hex')} urg${l4.readUInt16BE(18)} ${l4.subarray(20).toString('hex')}`;
  }
  if (p.proto === 'udp') {
    const l4 = ip.subarray(40);
    return `${head} udp len${l4.readUInt16BE(4)} ${l4.subarray(8).toString('hex')}`;
  }
  return `${head} ${ip.subarray(40).toString('hex')}`;
}

/** The OS probes of a capture (flow label 0x12345, from the scanner), in sending order. */
function osProbes(packets: CapturedPacket[], scanner: string): CapturedPacket[] {
  return packets.filter((p) => p.src === scanner && (Buffer.from(p.ip).readUInt32BE(0) & 0xfffff) === 0x12345);
}

/** Shapes in order of first sending, with how often each went out. */
function sendPlan(probes: CapturedPacket[]): string[] {
  const count = new Map<string, number>();
  for (const p of probes) count.set(probeShape(p), (count.get(probeShape(p)) ?? 0) + 1);
  return [...count].map(([shape, n]) => `${shape} ×${n}`);
}

/** Reads an IPv6 print: SCAN and EXTRA attributes, and each test's P (run-length decoded, XX kept). */
function parsePrint(text: string): { scan: Record<string, string>; extra: string; tests: Array<[string, string]> } {
  const body = text.split('\n').filter((l) => l.startsWith('OS:')).map((l) => l.slice(3)).join('');
  const out = { scan: {} as Record<string, string>, extra: '', tests: [] as Array<[string, string]> };
  for (const m of body.matchAll(/([A-Z0-9]+)\(([^)]*)\)/g)) {
    if (m[1] === 'SCAN') out.scan = Object.fromEntries(m[2]!.split('%').map((kv) => kv.split('=') as [string, string]));
    else if (m[1] === 'EXTRA') out.extra = m[2]!;
    else {
      const p = /^P=([0-9a-fX{}]+)%ST=[0-9.e+-]+%RT=[0-9.e+-]+$/.exec(m[2]!);
      if (!p) throw new Error(`test ${m[1]} is not P/ST/RT: ${m[2]}`);
      out.tests.push([m[1]!, p[1]!.replace(/(..)\{(\d+)\}/g, (_x, pair: string, n: string) => pair.repeat(Number(n)))]);
    }
  }
  return out;
}

/** A reply's hex (XX for masked bytes) with what depends on the scanner's random choices or the target's randomness replaced by '..'. */
function replyShape(hex: string): string {
  const b = hex.match(/../g)!;
  const mask = (from: number, to: number) => { for (let i = from; i < Math.min(to, b.length); i++) b[i] = '..'; };
  const byte = (i: number) => parseInt(b[i]!, 16);
  b[1] = b[1]![0] + '.'; // the reply's flow label (random per flow on Linux); keep the traffic class
  mask(2, 4);
  const next = byte(6);
  if (next === 6) {
    mask(40, 52); // ports, the target's ISN, its ack of our random seq
    mask(56, 58); // checksum
    const end = 40 + (byte(52) >> 4) * 4;
    for (let o = 60; o < end;) {
      const kind = byte(o);
      if (kind === 0 || kind === 1) { o++; continue; }
      if (kind === 8) mask(o + 2, o + 6); // TSval: the target's clock
      o += byte(o + 1) || 1;
    }
  } else if (next === 58) {
    mask(42, 44); // checksum (covers the target's reply flow label nowhere, but the addresses and our random ports in a quote)
    const type = byte(40);
    if (type >= 1 && type <= 4 && b.length >= 88) {
      b[48 + 7] = '..'; // the hop limit we sent (random)
      if (byte(48 + 6) === 17) { mask(88, 92); mask(94, 96); } // quoted UDP ports and checksum
    }
  }
  return b.join('');
}

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [OPEN] });
  t.teardown(() => lab.teardown());
  const filter = `ip6 and host ${lab.targetV6} and host ${lab.scannerV6}`;
  /** The replies nmap printed in the first test (the target answers the same probes every time). */
  let baseline: string[] = [];

  t.test('prtip -6 -sS -O against nmap -6 -O on the same target', async (t) => {
    const nmapCap = await lab.capture(filter);
    const nmap = await lab.exec(['nmap', '-6', '-O', '--max-os-tries', '1', '-Pn', '-n', '-p', `${OPEN},${CLOSED}`, lab.targetV6], { timeoutMs: 120_000 });
    const nmapPackets = await nmapCap.stop({ settleMs: 300 });
    t.equal(nmap.code, 0, `nmap ran: ${nmap.stderr}`);

    const xml = `${lab.tmpDir}/os6.xml`;
    const json = `${lab.tmpDir}/os6.json`;
    const duck = `${lab.tmpDir}/os6.duckdb`;
    const cap = await lab.capture(filter);
    const ours = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-6', '-sS', '-O', '--max-os-tries', '1', '-p', `${OPEN},${CLOSED}`, '-oX', xml, '-oJ', json, '--db', duck, lab.targetV6], { timeoutMs: 120_000 });
    const packets = await cap.stop({ settleMs: 300 });
    t.equal(ours.code, 0, `prtip ran: ${ours.stderr}`);
    const out = ours.stdout.toString();

    // The wire: nmap's probes, in nmap's order, as often as nmap sent each.
    const mine = osProbes(packets, lab.scannerV6);
    const theirs = osProbes(nmapPackets, lab.scannerV6);
    t.ok(theirs.length >= 17, `nmap sent its IPv6 OS probes (${theirs.length})`);
    t.same(sendPlan(mine), sendPlan(theirs), "prtip's OS probes are nmap's, shape by shape, in order and count");
    t.same(mine.filter((p) => !checksumOk(Buffer.from(p.ip))).map(probeShape), [], 'every probe has a valid checksum');
    const ns = (p: CapturedPacket) => p.proto === 'icmpv6' && p.icmpType === 135;
    t.same(mine.filter((p) => (ns(p) ? p.ttl !== 255 : p.ttl < 37 || p.ttl > 59)).map((p) => p.ttl), [], 'hop limits: 37–59, NS 255, as nmap');
    // seq and source port advance together by the probe's index, as in nmap's capture.
    const steps = (ps: CapturedPacket[]) => {
      const tcp = ps.filter((p) => p.proto === 'tcp');
      return tcp.map((p) => [((p.seq! - tcp[0]!.seq!) >>> 0), p.sport! - tcp[0]!.sport!]);
    };
    t.same(steps(mine), steps(theirs), 'TCP seq and source port steps per probe equal nmap’s');

    // The print.
    t.match(out, /No OS matches for host \(no IPv6 OS database: /, 'no IPv6 match is claimed, and why');
    t.notMatch(out, /OS details|Aggressive OS guesses|Running:/, 'no guess either');
    const ourPrint = parsePrint(out);
    const nmapPrint = parsePrint(nmap.stdout.toString());
    t.same(ourPrint.tests.map(([n]) => n), nmapPrint.tests.map(([n]) => n), 'the same replies are in both prints, in the same order');
    baseline = nmapPrint.tests.map(([n]) => n);
    t.ok(nmapPrint.tests.length >= 10, `nmap's print has its replies (${nmapPrint.tests.map(([n]) => n).join(' ')})`);
    const shapes = (p: typeof ourPrint) => p.tests.map(([n, hex]) => `${n} ${replyShape(hex)}`);
    t.same(shapes(ourPrint), shapes(nmapPrint), "each reply's non-random bytes equal nmap's print");
    const scanKeys = ['E', 'OT', 'CT', 'PV', 'DS', 'DC', 'G', 'M', 'P'];
    t.same(scanKeys.map((k) => `${k}=${ourPrint.scan[k]}`), scanKeys.map((k) => `${k}=${nmapPrint.scan[k]}`), "SCAN's conditions equal nmap's");
    t.match(ourPrint.scan.CU, /^\d+$/, 'CU: the closed UDP port U1 found');
    t.equal(ourPrint.extra, nmapPrint.extra, 'EXTRA (the flow label) equals nmap’s');

    // Each P= is a reply the target really sent (XX: the masked address bytes).
    const fromTarget = packets.filter((p) => p.src === lab.targetV6).map((p) => Buffer.from(p.ip).toString('hex'));
    const onWire = (hex: string) => fromTarget.some((w) => w.length === hex.length && [...hex].every((c, i) => c === 'X' || c === w[i]));
    t.same(ourPrint.tests.filter(([, hex]) => !onWire(hex)).map(([n]) => n), [], 'every printed reply is a captured packet');

    // -oX carries the same print as <osfingerprint>, with the ports used.
    const doc = await readFile(xml, 'utf8');
    const fp = /<osfingerprint fingerprint="([^"]*)"/.exec(doc)?.[1]?.replace(/&#xa;|&#10;/g, '\n');
    t.equal(fp, out.split('\n').filter((l) => l.startsWith('OS:')).join('\n'), '-oX <osfingerprint> is the printed fingerprint');
    t.match(doc, new RegExp(`<portused state="open" proto="tcp" portid="${OPEN}"`), '-oX <portused> names the open port');

    // JSON and DuckDB carry it too, with the reason for no matches.
    const printed = out.split('\n').filter((l) => l.startsWith('OS:')).join('\n');
    const hosts = (JSON.parse(await readFile(json, 'utf8')) as { hosts: Array<{ ip?: string; address?: string; os?: Record<string, unknown> }> }).hosts;
    const jsonOs = JSON.stringify(hosts);
    t.ok(jsonOs.includes(JSON.stringify(printed)), '-oJ has the fingerprint');
    t.ok(jsonOs.includes('no IPv6 OS database'), '-oJ says why there are no matches');
    const sql = await lab.exec([process.execPath, PRTIP_BIN, 'sql', duck, 'select ip, fingerprint, no_match_reason from os_fingerprints', '--json'], { timeoutMs: 60_000 });
    const rows = JSON.parse(sql.stdout.toString()) as Array<{ ip: string; fingerprint: string; no_match_reason: string }>;
    t.same(rows.map((r) => [r.ip, r.fingerprint === printed, /^no IPv6 OS database/.test(r.no_match_reason)]), [[lab.targetV6, true, true]], 'DuckDB os_fingerprints: the print and the reason');
  });

  t.test('a lost S1: the timed probes go again, as nmap sends them', async (t) => {
    // The target's firewall drops the first window-1 SYN (S1: 80 bytes) once; the quota lets the rest through.
    const dropFirstS1 = async () => {
      await lab.exec(['nft', 'delete', 'table', 'inet', 's1drop'], { ns: 'target' });
      for (const cmd of [
        ['nft', 'add', 'table', 'inet', 's1drop'],
        ['nft', 'add', 'chain', 'inet', 's1drop', 'in', '{ type filter hook input priority 0 ; }'],
        ['nft', 'add', 'rule', 'inet', 's1drop', 'in', 'meta', 'nfproto', 'ipv6', 'tcp', 'dport', String(OPEN), 'tcp', 'window', '1', 'quota', 'until', '100', 'bytes', 'drop'],
      ]) {
        const r = await lab.exec(cmd, { ns: 'target' });
        if (r.code !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
      }
    };
    await dropFirstS1();
    const nmapCap = await lab.capture(filter);
    const nmap = await lab.exec(['nmap', '-6', '-O', '--max-os-tries', '1', '-Pn', '-n', '-p', `${OPEN},${CLOSED}`, lab.targetV6], { timeoutMs: 10_000 });
    const nmapPackets = await nmapCap.stop({ settleMs: 300 });
    await dropFirstS1();
    const cap = await lab.capture(filter);
    const ours = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-6', '-sS', '-O', '--max-os-tries', '1', '-p', `${OPEN},${CLOSED}`, lab.targetV6], { timeoutMs: 120_000 });
    const packets = await cap.stop({ settleMs: 300 });
    await lab.exec(['nft', 'delete', 'table', 'inet', 's1drop'], { ns: 'target' });
    t.equal(ours.code, 0, `prtip ran: ${ours.stderr}`);
    const plan = sendPlan(osProbes(nmapPackets, lab.scannerV6));
    const mine = sendPlan(osProbes(packets, lab.scannerV6));
    t.ok(plan.filter((l) => / tcp .* ×2$/.test(l)).length >= 6, `nmap resent its six timed probes (${plan.length} shapes)`);
    if (nmap.code === 0) {
      t.same(mine, plan, "prtip's probes, their order and counts are nmap's");
    } else {
      // nmap 7.93 stops sending after the resent train and never finishes (killed here after 10 s):
      // what it did send is the reference.
      t.same(mine.slice(0, plan.length), plan, "prtip's probes up to where nmap stopped are nmap's, in order and count");
      t.ok(mine.length > plan.length, 'prtip goes on with the other probes');
    }
    const print = parsePrint(ours.stdout.toString());
    t.same(print.tests.map(([n]) => n), baseline, 'every reply is in the print, S1 from the second train');
    const fromTarget = packets.filter((p) => p.src === lab.targetV6).map((p) => Buffer.from(p.ip).toString('hex'));
    const s1 = print.tests.find(([n]) => n === 'S1')?.[1] ?? '';
    t.ok(fromTarget.some((w) => w.length === s1.length && [...s1].every((c, i) => c === 'X' || c === w[i])), "S1's printed reply is a captured packet");
  });
}
