// UDP payloads per port: nmap-payloads syntax (hand-written fixture, then the installed file
// whole), the nmap-service-probes fallback, and the choice between them by data directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadUdpPayloads, parseNmapPayloads, udpPayloadsFromServiceProbes } from '../../stages/datafiles/index.js';

const FIXTURE = [
  '# a comment "with quotes" that is not a payload',
  'udp 7 "\\x0D\\x0A"',
  'udp 53,1000-1002',
  '  "ab\\x00c"   # trailing comment',
  '  "\\"q\\"\\\\"',
  'udp 53 "second"',
  'source 5353',
  'udp 9 ""',
].join('\n');

t.test('nmap-payloads: strings across lines, ranges, comments, escapes, several payloads per port, source', async (t) => {
  const m = parseNmapPayloads(FIXTURE, 'fixture');
  t.same(m.get(7), [Buffer.from([13, 10])]);
  t.same(m.get(53), [Buffer.from([0x61, 0x62, 0, 0x63, 0x22, 0x71, 0x22, 0x5c]), Buffer.from('second')], 'both payloads of 53, in file order');
  t.same(m.get(1001), [m.get(53)![0]], 'a range shares the payload');
  t.same(m.get(9), [Buffer.alloc(0)], 'an empty payload is still a payload');
  t.equal(m.get(8), undefined);
  t.throws(() => parseNmapPayloads('udp 7 "open', 'x'), /x line 1: unterminated string/);
  t.throws(() => parseNmapPayloads('tcp 7 "a"', 'x'), /expected "udp PORTS"/);
  t.throws(() => parseNmapPayloads('udp 70000 "a"', 'x'), /bad port range/);
});

t.test('the installed nmap-payloads parses whole', { skip: !fs.existsSync('/usr/share/nmap/nmap-payloads') && 'no nmap-payloads here' }, async (t) => {
  const text = fs.readFileSync('/usr/share/nmap/nmap-payloads', 'latin1');
  const m = parseNmapPayloads(text);
  const entries = text.split('\n').filter((l) => /^udp\s/.test(l)).length;
  t.ok(m.size > entries, `${m.size} ports from ${entries} entries`);
  t.ok(m.get(53)!.length >= 2, 'DNS has more than one payload');
  t.ok(m.get(161)!.every((b) => b[0] === 0x30), 'SNMP payloads are BER sequences');
});

t.test('nmap-service-probes fallback: Probe UDP with ports, no-payload skipped, TCP ignored', async (t) => {
  const text = [
    'Probe TCP NULL q||',
    'ports 1-100',
    'Probe UDP Hello q|hi\\r\\n|',
    'rarity 1',
    'ports 7,100-101',
    'Probe UDP Quiet q|x| no-payload',
    'ports 8',
    'Probe UDP Dns q/\\0\\x06/',
    'ports 7',
  ].join('\n');
  const m = udpPayloadsFromServiceProbes(text, 'fixture');
  t.same(m.get(7), [Buffer.from('hi\r\n'), Buffer.from([0, 6])]);
  t.same(m.get(101), [Buffer.from('hi\r\n')]);
  t.equal(m.get(8), undefined, 'no-payload');
  t.equal(m.get(50), undefined, 'TCP probes are not UDP payloads');
});

t.test('loadUdpPayloads: nmap-payloads first, else nmap-service-probes, else none', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-payloads-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const a = path.join(dir, 'a'), b = path.join(dir, 'b'), c = path.join(dir, 'c');
  for (const d of [a, b, c]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(a, 'nmap-payloads'), 'udp 7 "p"\n');
  fs.writeFileSync(path.join(a, 'nmap-service-probes'), 'Probe UDP X q|s|\nports 7\n');
  fs.writeFileSync(path.join(b, 'nmap-service-probes'), 'Probe UDP X q|s|\nports 7\n');
  t.same(loadUdpPayloads(a).byPort.get(7), [Buffer.from('p')]);
  t.same(loadUdpPayloads(b).byPort.get(7), [Buffer.from('s')]);
  t.equal(loadUdpPayloads(c).source, 'none');
  t.equal(loadUdpPayloads(c).byPort.size, 0);
});
