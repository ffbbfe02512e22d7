// The idle scan's pieces without a network: the -sI argument, the zombie's IP ID classes, the
// frames it forges (checksums checked with the native Internet checksum over what a receiver
// sums), and what the CLI refuses with it.
import t from 'tap';
import { loadNative } from '../../native/index.js';
import { classifyIpIds, parseZombie, tcpFrame } from '../../stages/probes/index.js';
import { parseArgs, type FlagGroup } from '../../packages/oclif-cli/lib/flags.js';
import { sendOptions } from '../../packages/oclif-cli/lib/stage-options.js';

t.test('-sI ZOMBIE[:PORT]', async (t) => {
  t.same(parseZombie('198.18.0.3'), { host: '198.18.0.3', port: 80 }, 'probe port 80 by default, as nmap');
  t.same(parseZombie('198.18.0.3:443'), { host: '198.18.0.3', port: 443 });
  t.throws(() => parseZombie('zombie.example'), /IPv4 address/);
  t.throws(() => parseZombie('198.18.0.3:70000'), /1-65535/);
});

t.test('IP ID classes: incremental, byte-swapped incremental, and the unusable ones', async (t) => {
  t.equal(classifyIpIds([100, 101, 102, 104, 105, 106]), 'incremental');
  t.equal(classifyIpIds([65534, 65535, 0, 1, 2, 3]), 'incremental', 'across the wrap');
  t.equal(classifyIpIds([0x0100, 0x0200, 0x0300, 0x0400, 0x0500, 0x0600]), 'broken-incremental', 'increments in the high byte: byte-swapped');
  t.match(classifyIpIds([0, 0, 0, 0, 0, 0]), /constant/);
  t.match(classifyIpIds([513, 40000, 7, 29000, 12, 60000]), /not sequential/);
  t.match(classifyIpIds([1, 2]), /answered 2 of 6/);
});

t.test('forged frames: both checksums verify', async (t) => {
  const native = loadNative();
  const f = tcpFrame(native, {
    srcMac: new Uint8Array(6).fill(2), dstMac: new Uint8Array(6).fill(4), src: Uint8Array.from([198, 18, 0, 3]), dst: Uint8Array.from([198, 18, 0, 2]),
    sport: 80, dport: 22, seq: 0xdeadbeef, ack: 0, flags: 0x02, ipId: 4242, ttl: 64,
  });
  t.equal(f.length, 54);
  t.equal(native.checksum(f.subarray(14, 34)), 0, 'IPv4 header checksum');
  const pseudo = Buffer.concat([f.subarray(26, 34), Buffer.from([0, 6, 0, 20]), f.subarray(34)]);
  t.equal(native.checksum(pseudo), 0, 'TCP checksum over the pseudo-header');
  t.equal(f.readUInt16BE(18), 4242);
  t.equal(f[47], 0x02, 'SYN');
});

const ALL: FlagGroup[] = ['targets', 'ports', 'scan', 'evasion', 'discovery', 'version', 'os', 'script', 'probedb', 'timing', 'output', 'database', 'interaction', 'cluster', 'misc'];

t.test('the CLI: -sI takes its zombie, runs alone, refuses options it cannot honour', async (t) => {
  const o = (...a: string[]) => sendOptions(parseArgs([...a, '198.18.0.2'], ALL, 'scan', true), [], new AbortController().signal, () => {}, () => true);
  t.match(o('-sI', '198.18.0.3:8080', '-p', '22'), { scanType: 'idle', idleZombie: '198.18.0.3:8080' });
  t.throws(() => o('-sI', '198.18.0.3', '-sU'), /-sI \(idle scan\) runs alone/);
  t.throws(() => o('-sI', '198.18.0.3', '-D', '198.18.0.9'), /-D does not apply to the idle scan/);
  t.throws(() => o('-sI', '198.18.0.3', '--max-rate', '10'), /--max-rate does not apply/);
  t.throws(() => o('-sI', 'no.such.zombie'), /IPv4 address/);
});
