// nmap's --packet-trace text for hand-made packets (the lab test checks real frames against the
// wire and nmap's own trace); the p/P keys; the trace clock and its warning.
import t from 'tap';
import { describePacket, ipOfFrame, tracedFrames, traceLine } from '../../stages/probes/packet-trace.js';
import { createPacketTrace, TRACE_WARN_LINES } from '../../stages/records/index.js';
import { handleKey } from '../../packages/oclif-cli/lib/progress/keys.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('IPv4 TCP with options, IPv6 TCP, UDP, ICMP port unreachable', async (t) => {
  // 198.18.1.2:80 > 198.18.0.1:61234 SYN-ACK, ttl 64, id 0x1234, seq 1, window 65535, mss 1460 + sackOK + wscale 7
  const synAck = hex(`4500 0034 1234 4000 4006 0000 c612 0102 c612 0001
    0050 ef32 0000 0001 0000 0002 8012 ffff 0000 0000  0204 05b4 0402 0103 0307`);
  t.equal(describePacket(synAck), 'TCP 198.18.1.2:80 > 198.18.0.1:61234 SA ttl=64 id=4660 iplen=52  seq=1 win=65535 <mss 1460,sackOK,nop,wscale 7>');
  // 2001:2::1:1234 > 2001:2::2:22, hop limit 255, flow 0x12345, RST+ACK, no options
  const v6 = Buffer.concat([hex('6001 2345 0014 06ff'), hex('2001 0002 0000 0000 0000 0000 0000 0001'), hex('2001 0002 0000 0000 0000 0000 0000 0002'),
    hex('04d2 0016 0000 0007 0000 0000 5014 0000 0000 0000')]);
  t.equal(describePacket(v6), 'TCP 2001:2::1:1234 > 2001:2::2:22 RA hopl=255 flow=12345 payloadlen=20 seq=7 win=0 ');
  const udp = hex('4500 001c 0001 0000 2911 0000 c612 0001 c612 0102  e000 00a1 0008 0000');
  t.equal(describePacket(udp), 'UDP 198.18.0.1:57344 > 198.18.1.2:161 ttl=41 id=1 iplen=28 ');
  // ICMP 3/3 quoting a UDP datagram to port 53
  const icmp = hex(`4500 0038 abcd 0000 4001 0000 c612 0102 c612 0001  0303 0000 0000 0000
    4500 001c 0001 0000 2911 0000 c612 0001 c612 0102  e000 0035 0008 0000`);
  t.equal(describePacket(icmp), 'ICMP [198.18.1.2 > 198.18.0.1 Port 53 unreachable (type=3/code=3) ] IP [ttl=64 id=43981 iplen=56 ]');
  t.equal(describePacket(hex('00')), undefined, 'not IP');
});

t.test('native\'s trace records become SENT/RCVD lines; Ethernet and 802.1Q frames', async (t) => {
  const ip = hex('4500 001c 0001 0000 2911 0000 c612 0001 c612 0102  e000 00a1 0008 0000');
  const eth = Buffer.concat([hex('020000000001 020000000002 0800'), ip]);
  t.same(ipOfFrame(eth), ip);
  t.same(ipOfFrame(Buffer.concat([hex('020000000001 020000000002 8100 0005 0800'), ip])), ip, '802.1Q tag skipped');
  const rec = (dir: number, ms: number, frame: Buffer) => {
    const h = Buffer.alloc(16);
    h[0] = dir;
    h.writeUInt16LE(frame.length, 2);
    h.writeUInt32LE(frame.length, 4);
    h.writeDoubleLE(ms, 8);
    return Buffer.concat([h, frame]);
  };
  const frames = [...tracedFrames(Buffer.concat([rec(0, 1052.1, eth), rec(1, 1060, eth)]))];
  t.equal(frames.length, 2);
  const clock = (ms: number) => `${((ms - 1000) / 1000).toFixed(4)}s`;
  t.equal(traceLine(frames[0]!, clock), 'SENT (0.0521s) UDP 198.18.0.1:57344 > 198.18.1.2:161 ttl=41 id=1 iplen=28 ');
  t.match(traceLine(frames[1]!, clock), /^RCVD \(0\.0600s\) UDP /);
});

t.test('the trace clock counts from the scan start; a warning after many lines', async (t) => {
  const out: string[] = [];
  const warnings: string[] = [];
  const trace = createPacketTrace({ enabled: () => true, out: (s) => out.push(s), onWarning: (m) => warnings.push(m), startMs: 5000 });
  t.equal(trace.clock(5052.14), '0.0521s');
  for (let i = 0; i < TRACE_WARN_LINES + 5; i++) trace.write('x');
  t.equal(out.length, TRACE_WARN_LINES + 5);
  t.equal(out[0], 'x\n');
  t.equal(warnings.length, 1, 'once');
  t.match(warnings[0], /slows large scans/);
});

t.test('keys p and P switch the trace, with nmap\'s words', async (t) => {
  const said: string[] = [];
  const interaction = { verbose: 0, debug: 0, packetTrace: false };
  const sink = { say: (s: string) => said.push(s), statusNow: () => {} };
  handleKey('p', interaction, sink);
  t.equal(interaction.packetTrace, true);
  handleKey('P', interaction, sink);
  t.equal(interaction.packetTrace, false);
  t.same(said, ['Packet Tracing enabled.\n', 'Packet Tracing disabled.\n']);
});
