// The IPv6 print's pieces over hand-written packets: address scrubbing (outer header, a quoted
// header in an ICMPv6 error, a neighbour advertisement's target), nmap's run-length encoding,
// C++'s default double format, reply pairing, the quoted hop limit, and the whole text's layout.
import t from 'tap';
import {
  cppDouble, os6ReplyTo, quotedHopLimit, runLengthDecode, runLengthEncode, scrubbedHex, submissionText6, upperLayer,
} from '../../stages/os/fingerprint6.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const SRC = '20010002000000000000000000000002'; // the target
const DST = '20010002000000000000000000000001';
const keys = { target: hex(SRC), openTcpPort: 8080, closedTcpPort: 81, tcpPortBase: 40000, udpSourcePort: 41000, closedUdpPort: 43000 };

// A SYN/ACK from 8080 to 40001 (S2's source port).
const synAck = hex(`6006018800140640 ${SRC} ${DST} 1f909c41 00000001 00000002 5012fb04 1234 0000`);
// An echo reply to IE1 (id abcd, seq 0) and to IE2 (seq 1).
const echo = (seq: string) => hex(`6000000000083a40 ${SRC} ${DST} 8100 0000 abcd ${seq}`);
// A port unreachable quoting U1 (our hop limit 0x32): UDP 41000 → 43000.
const unreach = hex(`600c135500383a40 ${SRC} ${DST} 0104 28ed 00000000 6001234500081132 ${DST} ${SRC} a028 a7f8 0008 1394`);
// A parameter problem quoting IE2's chain: HBH → dst opts → routing → HBH → echo seq 1.
const paramProblem = hex(`600ed8c600503a40 ${SRC} ${DST} 0401 93ba 00000038 6001234500280038 ${DST} ${SRC}
  3c00010400000000 2b00010400000000 0000000000000000 3a00010400000000 800093e5abcd0001`);
// A neighbour advertisement for the target.
const na = hex(`6000000000183aff ${SRC} ${DST} 8800d79e 40000000 ${SRC}`);

t.test('scrubbing masks exactly the address bytes nmap masks', async (t) => {
  t.equal(scrubbedHex(synAck), `6006018800140640${'XX'.repeat(32)}1f909c4100000001000000025012fb0412340000`);
  t.equal(scrubbedHex(na), `6000000000183aff${'XX'.repeat(32)}8800d79e40000000${'XX'.repeat(16)}`, "an NA's target too");
  t.equal(scrubbedHex(unreach), `600c135500383a40${'XX'.repeat(32)}010428ed000000006001234500081132${'XX'.repeat(32)}a028a7f800081394`, 'and the quoted header');
  t.equal(scrubbedHex(echo('0000')).slice(16 + 64), '8100' + '0000' + 'abcd0000', 'an echo reply keeps its ICMPv6 bytes');
});

t.test("nmap's run-length encoding", async (t) => {
  t.equal(runLengthEncode('XXXXXX'), 'XX{3}');
  t.equal(runLengthEncode('XXXX'), 'XXXX', 'two repeats stay as they are');
  t.equal(runLengthEncode('ab000000001f'), 'ab00{4}1f');
  t.equal(runLengthEncode('abc'), 'abc', 'an odd tail is kept');
  t.equal(runLengthEncode('0000000'), '00{3}0', 'chunks are pairs: the odd last character stays');
  t.equal(runLengthDecode('6000XX{3}00{4}1f'), '6000XXXXXX000000001f');
});

t.test('doubles print as C++ streams print them (six significant digits)', async (t) => {
  t.equal(cppDouble(0.056088), '0.056088');
  t.equal(cppDouble(1.040937), '1.04094');
  t.equal(cppDouble(0.0268695), '0.0268695');
  t.equal(cppDouble(0.1), '0.1');
  t.equal(cppDouble(2), '2');
  t.equal(cppDouble(0), '0');
  t.equal(cppDouble(0.0000123456), '1.23456e-05');
  t.equal(cppDouble(1234567), '1.23457e+06');
});

t.test('replies pair with the probes they answer', async (t) => {
  t.equal(os6ReplyTo(synAck, keys), 'S2', 'TCP by ports: 8080 → base+1');
  t.equal(os6ReplyTo(echo('0000'), keys), 'IE1');
  t.equal(os6ReplyTo(echo('0001'), keys), 'IE2');
  t.equal(os6ReplyTo(echo('0002'), keys), undefined, 'an echo reply with another sequence is not ours');
  t.equal(os6ReplyTo(unreach, keys), 'U1', 'an unreachable by the quoted UDP ports');
  t.equal(os6ReplyTo(paramProblem, keys), 'IE2', 'a parameter problem by the quoted echo behind four extension headers');
  t.equal(os6ReplyTo(na, keys), 'NS');
  t.equal(os6ReplyTo(hex(`6000000000183aff ${SRC} ${DST} 8800d79e 40000000 ${DST}`), keys), undefined, 'an NA for another address is not ours');
  t.equal(os6ReplyTo(hex(`6006018800140640 ${SRC} ${DST} 1f909c4f 00000001 00000002 5012fb04 1234 0000`), keys), undefined, 'T7 goes to the closed port, so 8080 → base+15 is nobody');
  t.equal(quotedHopLimit(unreach), 0x32, 'the hop limit U1 arrived with');
  t.equal(quotedHopLimit(synAck), null);
  t.same(upperLayer(paramProblem.subarray(48)), { proto: 58, offset: 72 }, 'the quoted chain is walked to ICMPv6');
});

t.test('the print: SCAN E=6, tests in probe order, EXTRA, wrapped at 71', async (t) => {
  const begin = 1_000_000_000;
  const text = submissionText6({
    version: '7.93', time: new Date(2026, 11, 1, 12), openTcpPort: 8080, closedTcpPort: 81, closedUdpPort: 43000, privateAddress: false,
    distance: 1, distanceMethod: 'direct', good: true, mac: '02:00:c6:12:00:02', platform: 'x86_64-pc-linux-gnu',
  }, [
    { name: 'NS', packet: na, sentUs: begin + 700_000, receivedUs: begin + 700_013 },
    { name: 'S2', packet: synAck, sentUs: begin + 156_088, receivedUs: begin + 156_101 },
  ], begin);
  const lines = text.split('\n');
  t.ok(lines.every((l) => l.startsWith('OS:') && l.length <= 74), 'OS: lines of at most 71 characters after the prefix');
  t.ok(lines.slice(0, -1).every((l) => l.length === 74), 'every line but the last is full');
  const flat = lines.map((l) => l.slice(3)).join('');
  t.match(flat, /^SCAN\(V=7\.93%E=6%D=12\/1%OT=8080%CT=81%CU=43000%PV=N%DS=1%DC=D%G=Y%M=0200C6%TM=[0-9A-F]+%P=x86_64-pc-linux-gnu\)/);
  t.match(flat, /\)S2\(P=6006018800140640XX\{32\}1f909c4100\{3\}0100\{3\}025012fb0412340000%ST=0\.156088%RT=0\.156101\)NS\(P=/, 'S2 before NS, whatever the order given');
  t.match(flat, /NS\(P=6000\{4\}183affXX\{32\}8800d79e4000\{3\}XX\{16\}%ST=0\.7%RT=0\.700013\)EXTRA\(FL=12345\)$/);
});

t.test("IPv6 port choice: nmap's order, no random closed TCP port", async (t) => {
  const { choosePorts6 } = await import('../../stages/os/stage.js');
  const port = (port: number, state: string, proto = 'tcp') => ({ type: 'port', ip: '2001:2::2', port, proto, state }) as never;
  const both = choosePorts6([port(443, 'open'), port(22, 'open'), port(81, 'closed'), port(53, 'closed', 'udp')]);
  t.same(both, { openTcpPort: 22, closedTcpPort: 81, closedTcpPortKnown: true, closedUdpPort: 53, closedUdpPortKnown: true });
  const openOnly = choosePorts6([port(8080, 'open')]);
  t.equal(openOnly.closedTcpPort, null, 'no closed port known: the closed probes are not sent');
  t.equal(openOnly.closedUdpPortKnown, false);
  t.ok(openOnly.closedUdpPort >= 30000 && openOnly.closedUdpPort <= 44780, 'U1 goes to a random 30000–44780 port');
  const unfiltered = choosePorts6([port(80, 'unfiltered')]);
  t.same([unfiltered.openTcpPort, unfiltered.closedTcpPort, unfiltered.closedTcpPortKnown], [null, 80, false], 'an unfiltered port stands in for a closed one, not named as closed');
});
