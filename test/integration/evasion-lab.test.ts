// Packet options in the namespace lab, each checked in the target namespace's capture: --ttl,
// --badsum, -g for every raw type, --data-length, -f/-ff/--mtu (several frames per probe), -D
// (decoys inside the lab range, ME, RND:N), --spoof-mac, --ip-options; and the refusals.
import t from 'tap';
import { createLab, labSkipReason, type CapturedPacket } from '../lab/lab.js';
import { jsonLines, PRTIP_BIN } from '../helpers/cli.js';

/** RFC 1071 over the parts, independent of native/. */
function csum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}
const l4Valid = (p: CapturedPacket) => {
  const ihl = (p.ip[0]! & 15) * 4;
  const seg = p.ip.subarray(ihl, p.ip.readUInt16BE(2));
  return csum(p.ip.subarray(12, 20), Buffer.from([0, p.protoNumber, seg.length >> 8, seg.length & 255]), seg) === 0;
};

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ tcpListeners: [8080] });
  t.teardown(() => lab.teardown());
  const T = lab.targetV4;
  const scan = async (args: string[], target = T) => {
    const r = await lab.exec([process.execPath, PRTIP_BIN, 'scan', '-Pn', '-n', '--max-rtt-timeout', '300ms', '-oD', '-', ...args, target], { timeoutMs: 60_000 });
    return { code: r.code, stderr: r.stderr, rows: jsonLines(r.stdout.toString()).filter((x) => x.type === 'port') as Array<{ port: number; state: string; reason: string }> };
  };
  const captured = async (args: string[], filter = `dst host ${T}`) => {
    const cap = await lab.capture(`${filter} and not arp`, { snaplen: 256 });
    const r = await scan(args);
    const packets = await cap.stop();
    return { ...r, packets };
  };
  const states = (rows: Array<{ port: number; state: string }>) => rows.map((r) => `${r.port} ${r.state}`).sort();

  t.test('--ttl sets the TTL of every probe (TCP and UDP)', async (t) => {
    for (const type of ['-sS', '-sU']) {
      const r = await captured([type, '--ttl', '7', '--max-retries', '0', '-p', '8080,9'], `src host ${lab.scannerV4} and dst host ${T}`);
      t.equal(r.code, 0, r.stderr);
      // (the scanner kernel's own RSTs to SYN-ACKs are not probes)
      const probes = r.packets.filter((p) => p.proto === (type === '-sS' ? 'tcp' : 'udp') && p.flags !== 'R');
      t.ok(probes.length >= 2 && probes.every((p) => p.ttl === 7), `${type}: ${probes.length} probes, TTL ${[...new Set(probes.map((p) => p.ttl))]}`);
    }
  });

  t.test('--badsum: every probe has a wrong checksum, the target drops them all (as nmap finds)', async (t) => {
    const r = await captured(['-sS', '--badsum', '--max-retries', '1', '-p', '8080,9'], `src host ${lab.scannerV4} and dst host ${T}`);
    t.equal(r.code, 0, r.stderr);
    const syns = r.packets.filter((p) => p.proto === 'tcp');
    t.ok(syns.length >= 2 && syns.every((p) => !l4Valid(p)), `${syns.length} SYNs, none with a valid TCP checksum`);
    t.same(states(r.rows), ['8080 filtered', '9 filtered'], 'a host drops bad checksums: no answer');
    const u = await captured(['-sU', '--badsum', '--max-retries', '0', '-p', '9'], `src host ${lab.scannerV4} and dst host ${T}`);
    const dgrams = u.packets.filter((p) => p.proto === 'udp');
    t.ok(dgrams.length >= 1 && dgrams.every((p) => !l4Valid(p)), 'UDP too');
    const plain = await captured(['-sS', '--max-retries', '0', '-p', '8080'], `src host ${lab.scannerV4} and dst host ${T}`);
    t.ok(plain.packets.filter((p) => p.proto === 'tcp').every(l4Valid), 'without --badsum, valid (the check can tell)');
  });

  t.test('-g: the source port of every raw type', async (t) => {
    // All types at once, each on its own closed port (a reply to another scan names no probe of
    // this one: the cookie or the (address, port) lookup tells them apart).
    const types = ['-sS', '-sF', '-sN', '-sX', '-sM', '-sA', '-sW', '-sU'];
    const cap = await lab.capture(`src host ${lab.scannerV4} and dst host ${T}`, { snaplen: 128 });
    const runs = await Promise.all(types.map((type, i) => scan([type, '-g', '53', '--max-retries', '0', '-p', String(1000 + i)])));
    const packets = await cap.stop();
    types.forEach((type, i) => {
      t.equal(runs[i]!.code, 0, runs[i]!.stderr);
      const probes = packets.filter((p) => p.dport === 1000 + i);
      t.ok(probes.length >= 1 && probes.every((p) => p.sport === 53), `${type}: every probe from port 53`);
      t.equal(runs[i]!.rows.length, 1, `${type}: the port decided`);
    });
  });

  t.test('--data-length: that many payload bytes on every TCP probe; results unchanged', async (t) => {
    const r = await captured(['-sS', '--data-length', '20', '--max-retries', '0', '-p', '8080,9'], `src host ${lab.scannerV4} and dst host ${T}`);
    t.equal(r.code, 0, r.stderr);
    const syns = r.packets.filter((p) => p.flags === 'S');
    t.ok(syns.length === 2 && syns.every((p) => p.payload?.length === 20 && l4Valid(p)), 'two SYNs with 20 payload bytes, valid checksums');
    t.same(states(r.rows), ['8080 open', '9 closed']);
  });

  t.test('-f, -ff, --mtu: every probe in fragments of that size; the target reassembles and answers', async (t) => {
    // [options, fragment size, L4 bytes of the probe: a 24-byte SYN, plus any --data-length]
    for (const [args, size, l4] of [[['-f'], 8, 24], [['-ff'], 16, 24], [['--mtu', '24', '--data-length', '16'], 24, 40]] as Array<[string[], number, number]>) {
      const r = await captured(['-sS', ...args, '--max-retries', '0', '-p', '8080,9'], `src host ${lab.scannerV4} and dst host ${T}`);
      t.equal(r.code, 0, r.stderr);
      const frags = r.packets.filter((p) => p.fragment);
      t.equal(r.packets.filter((p) => !p.fragment && p.flags !== 'R').length, 0, `${args.join(' ')}: no unfragmented probe`);
      const ids = new Set(frags.map((p) => p.fragment!.id));
      t.equal(ids.size, 2, `${args.join(' ')}: two probes`);
      for (const id of ids) {
        const parts = frags.filter((p) => p.fragment!.id === id).sort((a, b) => a.fragment!.offset - b.fragment!.offset);
        const sizes = parts.map((p) => p.length - 20);
        t.same(sizes, Array.from({ length: Math.ceil(l4 / size) }, (_, i) => Math.min(size, l4 - i * size)), `${args.join(' ')}: L4 bytes per fragment ${sizes}`);
        t.same(parts.map((p) => p.fragment!.moreFragments), parts.map((_, i) => i < parts.length - 1), 'MF on all but the last');
      }
      t.same(states(r.rows), ['8080 open', '9 closed'], `${args.join(' ')}: reassembled and answered`);
    }
  });

  t.test('-D: each probe from every decoy in order, ME where asked; RND:N adds N sources', async (t) => {
    const r = await captured(['-sS', '-D', '198.18.0.50,ME,198.18.0.51', '--max-retries', '0', '-p', '8080'], `dst host ${T} and tcp`);
    t.equal(r.code, 0, r.stderr);
    t.same(r.packets.filter((p) => p.flags === 'S').map((p) => p.src), ['198.18.0.50', lab.scannerV4, '198.18.0.51'], 'three SYNs, in the order given');
    t.same(states(r.rows), ['8080 open'], 'the answer to ME still decides');
    const rnd = await captured(['-sS', '-D', 'RND:3', '--max-retries', '0', '-p', '8080'], `dst host ${T} and tcp`);
    const srcs = rnd.packets.filter((p) => p.flags === 'S').map((p) => p.src);
    t.equal(srcs.length, 4, 'RND:3 and ME');
    t.equal(new Set(srcs).size, 4, 'four distinct sources');
    t.ok(srcs.includes(lab.scannerV4), 'ME among them (at a random place)');
  });

  t.test('--spoof-mac: the Ethernet source of every probe', async (t) => {
    const r = await captured(['-sS', '--spoof-mac', '02:11:22:33:44:55', '--max-retries', '0', '-p', '8080,9'], `src host ${lab.scannerV4} and dst host ${T}`);
    t.equal(r.code, 0, r.stderr);
    const probes = r.packets.filter((p) => p.flags === 'S');
    t.ok(probes.length === 2 && probes.every((p) => p.ethSrc === '02:11:22:33:44:55'), 'every probe from the spoofed MAC');
    const vendor = await captured(['-sS', '--spoof-mac', 'Apple', '--max-retries', '0', '-p', '9'], `src host ${lab.scannerV4} and dst host ${T}`);
    const prefix = vendor.packets.find((p) => p.flags === 'S')?.ethSrc?.slice(0, 8).replaceAll(':', '').toUpperCase();
    const table = (await lab.exec(['grep', '-i', `^${prefix} `, '/usr/share/nmap/nmap-mac-prefixes'])).stdout.toString();
    t.match(table, /apple/i, `a vendor name picks one of its prefixes (${prefix})`);
  });

  t.test('--ip-options R: record route in the IPv4 header of every probe', async (t) => {
    const r = await captured(['-sS', '--ip-options', 'R', '--max-retries', '0', '-p', '8080'], `src host ${lab.scannerV4} and dst host ${T}`);
    t.equal(r.code, 0, r.stderr);
    const p = r.packets[0]!;
    t.equal(p.ip[0]! & 15, 15, 'IHL 15 (40 bytes of options)');
    t.same([...p.ip.subarray(20, 23)], [7, 39, 4], 'record route, length 39, pointer 4');
    t.equal(csum(p.ip.subarray(0, 60)), 0, 'header checksum covers the options');
  });

  t.test('what a type cannot honour is refused, one line each', async (t) => {
    for (const [args, re, target] of [
      [['-sT', '-f'], /-f\/--mtu applies to raw scans/, T],
      [['-sT', '-D', '198.18.0.50'], /-D applies to raw scans/, T],
      [['-sS', '-f'], /-f\/--mtu applies to IPv4 only/, lab.targetV6],
      [['-sS', '--ip-options', 'R'], /--ip-options applies to IPv4 only/, lab.targetV6],
      [['-sS', '--mtu', '12'], /--mtu 12: expected a positive multiple of 8/, T],
      [['-sS', '-D', 'ME,ME'], /ME may appear once/, T],
      [['-sS', '--ip-options', 'X'], /--ip-options "X"/, T],
    ] as Array<[string[], RegExp, string]>) {
      const r = await scan([...args, '-p', '80'], target);
      t.equal(r.code, 1, args.join(' '));
      t.match(r.stderr, re, args.join(' '));
      t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
  });
}
