// SYN-scan policy on the JS side: RTT-adapted timeouts, address bytes, and the choice between
// -sS and -sT by privilege (with the one-line notice).
import t from 'tap';
import { addressBytes, addressKey, neighbourTable, nextHopsOf, RttEstimator } from '../../stages/send/index.js';
import { loadNative } from '../../native/index.js';
import { chooseScanType, sendOptions } from '../../packages/oclif-cli/lib/stage-options.js';
import { emptyOptions, parseArgs } from '../../packages/oclif-cli/lib/flags.js';

t.test('RttEstimator: initial timeout, then srtt + 4·rttvar within [min, max]', async (t) => {
  const r = new RttEstimator(1000, 100, 5000);
  t.equal(r.timeoutMs, 1000, 'no sample yet: the initial timeout');
  r.sample(0.2);
  t.equal(r.timeoutMs, 100, 'fast path: clamped to the minimum');
  const slow = new RttEstimator(1000, 100, 5000);
  for (let i = 0; i < 50; i++) slow.sample(400);
  t.ok(slow.timeoutMs >= 400 && slow.timeoutMs < 500, `steady 400 ms: ${slow.timeoutMs}`);
  slow.sample(NaN);
  slow.sample(-1);
  t.equal(slow.samples, 50, 'invalid samples are ignored');
  const huge = new RttEstimator(1000, 100, 5000);
  huge.sample(60_000);
  t.equal(huge.timeoutMs, 5000, 'clamped to the maximum');
});

t.test('addressBytes', async (t) => {
  t.same([...addressBytes('198.18.0.1')], [198, 18, 0, 1]);
  t.same([...addressBytes('2001:2::1')], [0x20, 1, 0, 2, ...new Array(11).fill(0), 1]);
  t.same([...addressBytes('::ffff:1.2.3.4')], [...new Array(10).fill(0), 255, 255, 1, 2, 3, 4]);
  t.same([...addressBytes('::')], new Array(16).fill(0));
  t.throws(() => addressBytes('1.2.3'), /not an IP address/);
});

t.test('addressKey: one key per address, whatever its spelling', async (t) => {
  t.equal(addressKey('2001:2::1'), addressKey('2001:0002:0:0:0:0:0:0001'));
  t.equal(addressKey('198.18.0.7'), 'c6120007');
  t.not(addressKey('198.18.0.7'), addressKey('198.18.0.8'));
});

t.test('nextHopsOf: many routes from one ip -batch (local lookups only, nothing is sent)', async (t) => {
  const hops = await nextHopsOf(['127.0.0.1', '127.0.0.9', '::1']);
  for (const a of ['127.0.0.1', '127.0.0.9', '::1']) t.match(hops.get(a), { ifname: 'lo', local: true, type: 'local', onLink: true, nextHop: a }, a);
  t.equal((await nextHopsOf([])).size, 0);
  const lo = await neighbourTable('lo');
  t.ok(lo instanceof Map, 'the neighbour table of lo reads (and holds no Ethernet neighbour)');
});

t.test('RawEngine.enqueue: macs must be 6 bytes per probe', async (t) => {
  const native = loadNative();
  if (!native.hasRawAccess()) {
    if (process.env.CI) t.fail('CI runs as root');
    else t.pass('no CAP_NET_RAW here: the started engine is not tried');
    return;
  }
  // Started on lo (loopback only), and nothing valid is queued: no frame is sent.
  const e = new native.RawEngine({ ifname: 'lo', srcMac: new Uint8Array(6), src4: Uint8Array.from([127, 0, 0, 1]), dstMac4: new Uint8Array(6), sourcePort: 61111 }, () => {});
  e.start();
  const addrs = Uint8Array.from([127, 0, 0, 9, 127, 0, 0, 9]);
  const ports = Uint8Array.from([0, 80, 0, 81]);
  t.throws(() => e.enqueue(4, 0, addrs, ports, new Uint8Array(6)), /6 bytes per probe/, 'one MAC for two probes');
  t.throws(() => e.enqueue(4, 0, addrs, ports, new Uint8Array(13)), /6 bytes per probe/);
  t.throws(() => e.enqueue(4, 0, addrs, ports, [1, 2] as unknown as Uint8Array), /6 bytes per probe/, 'not a Uint8Array');
  t.equal(e.stats().sent, 0);
  await e.stop();
});

t.test('scan type: -sS when privileged, else -sT with one notice when -sS was asked', async (t) => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const o = emptyOptions();
  t.equal(chooseScanType(o, warn, () => true), 'syn', 'default with privileges');
  t.equal(chooseScanType(o, warn, () => false), 'connect', 'default without');
  t.same(warnings, [], 'no notice when nothing was asked');
  t.equal(chooseScanType({ ...o, scanTypes: ['syn'] }, warn, () => false), 'connect');
  t.same(warnings, ['-sS needs root or CAP_NET_RAW; running a connect scan (-sT) instead']);
  t.equal(chooseScanType({ ...o, scanTypes: ['connect'] }, warn, () => true), 'connect', '-sT stays -sT');
  t.throws(() => chooseScanType({ ...o, scanTypes: ['syn', 'connect'] }, warn, () => true), /one scan type/);
});

t.test('SYN flags reach the send options; SYN-only flags are refused for -sT', async (t) => {
  const ac = new AbortController();
  const parse = (s: string) => parseArgs(s.split(' '), ['scan', 'timing', 'targets', 'ports'], 'scan', true);
  const o = parse('-sS -e veth0 -S 198.18.0.1 -g 53 --min-rate 100 --rate 5k --wait 2 --max-retries 4 198.18.0.2');
  const s = sendOptions(o, [], ac.signal, () => {}, () => true);
  t.match(s, { scanType: 'syn', iface: 'veth0', sourceAddress: '198.18.0.1', sourcePort: 53, maxRate: 5000, waitMs: 2000, maxRetries: 4 });
  t.equal(parse('--source-port 1000 x').sourcePort, 1000);
  t.throws(() => sendOptions(parse('-sS --min-rate 10k --max-rate 1k x'), [], ac.signal, () => {}, () => true), /--min-rate 10000 is above --max-rate 1000/);
  t.throws(() => sendOptions(parse('-sT -g 53 x'), [], ac.signal, () => {}, () => true), /-g applies to raw scans \(-sS, -sU, -sA, …\) only/);
  t.throws(() => sendOptions(parse('-sS -g 53 --wait 1 x'), [], ac.signal, () => {}, () => false), /--wait, -g apply to raw scans/);
  t.throws(() => parse('-S 1.2.3 x'), /bad address "1.2.3" for -S/);
  t.throws(() => parse('-e "bad iface" x'), /bad interface name/);
  t.throws(() => parse('-g 70000 x'), /bad number "70000" for -g/);
  t.throws(() => parse('--wait soon x'), /bad time "soon" for --wait/);
  const slow = sendOptions(parse('-sS -T2 --min-rate 50 x'), [], ac.signal, () => {}, () => true);
  t.match(slow, { minRate: 50, scanDelayMs: 0 }, '--min-rate lifts a timing template\'s scan delay');
  t.equal(slow.rawParallelism, undefined, '… and its one-probe window');
  t.equal(slow.maxRate, undefined);
  const polite = sendOptions(parse('-sS -T2 x'), [], ac.signal, () => {}, () => true);
  t.match(polite, { scanDelayMs: 400, rawParallelism: 1, maxRetries: 10 }, '-T2: nmap\'s 0.4 s delay, one probe at a time');
  const connect = sendOptions(parse('-sT --scan-delay 100ms --initial-rtt-timeout 700ms x'), [], ac.signal, () => {}, () => true);
  t.match(connect, { scanType: 'connect', maxRate: 10, timeoutMs: 700 }, '-sT: --scan-delay spaces connect starts, --initial-rtt-timeout sets the wait');
  t.equal(sendOptions(parse('-sT -T2 x'), [], ac.signal, () => {}, () => true).maxRate, 2.5, '-sT -T2: 0.4 s apart');
  t.throws(() => sendOptions(parse('-sT --host-timeout 5s x'), [], ac.signal, () => {}, () => true), /--host-timeout applies to raw scans/);
  t.throws(() => sendOptions(parse('-sS --min-parallelism 9 --max-parallelism 3 x'), [], ac.signal, () => {}, () => true), /--min-parallelism 9 is above --max-parallelism 3/);
  t.throws(() => sendOptions(parse('-sU --defeat-rst-ratelimit x'), [], ac.signal, () => {}, () => true), /--defeat-rst-ratelimit applies to raw TCP scans/);
});
