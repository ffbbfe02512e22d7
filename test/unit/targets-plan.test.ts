import t from 'tap';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { formatIPv6, UserInputError } from '../../stages/records/index.js';
import { planTargets, type TargetPlan, type TargetsOptions } from '../../stages/targets/index.js';
import { V4Ranges } from '../../stages/targets/ranges-v4.js';
import { V6Ranges } from '../../stages/targets/ranges-v6.js';

const fixtures = fileURLToPath(new URL('../fixtures/targets/', import.meta.url));
const datadir = `${fixtures}datadir`;

const plan = (o: Partial<TargetsOptions>): Promise<TargetPlan> =>
  planTargets({ specs: [], ports: '80', datadir, args: ['test'], seed: 1, ...o });

const fmt4 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** Every host of a plan as text, in host-index order. */
function hosts(tp: TargetPlan): string[] {
  const out: string[] = [];
  for (let h = 0; h < tp.v4.hosts; h++) out.push(fmt4(tp.v4.addr(h)));
  const buf = new Uint8Array(16);
  for (let h = 0; h < tp.v6.hosts; h++) {
    tp.v6.writeAddr(h, buf);
    out.push(formatIPv6(buf));
  }
  return out;
}

t.test('merge and dedup across specs', async (t) => {
  const tp = await plan({ specs: ['198.18.0.0/24', '198.18.0.128/25', '198.18.0.5', '198.18.0.5', '198.18.1.0-3'] });
  t.equal(tp.plan.hosts, 260);
  t.equal(tp.v4.starts.length, 1, 'adjacent ranges merge into one interval');
  const h = hosts(tp);
  t.equal(h[0], '198.18.0.0');
  t.equal(h[259], '198.18.1.3');
  t.equal(new Set(h).size, 260, 'each address once');
});

t.test('counts in the plan', async (t) => {
  const tp = await plan({ specs: ['198.18.0.0/24', '2001:2::/120'], ports: 'T:22,80,U:53', seed: 42 });
  t.same(tp.plan, {
    hosts: 512,
    portsPerHost: 3,
    probes: 1536,
    shardProbes: 1536,
    ports: { tcp: '22,80', udp: '53', sctp: '' },
    seed: 42,
    shard: { index: 1, count: 1 },
    fingerprint: tp.plan.fingerprint,
  });
  t.match(tp.plan.fingerprint, /^[0-9a-f]{32}$/);
  t.equal(tp.probes4, 768);
  t.equal(tp.probes6, 768);
  t.equal(tp.batchSize > 0, true);
});

t.test('random seed when none is given', async (t) => {
  const seeds = new Set<number>();
  for (let i = 0; i < 5; i++) seeds.add((await planTargets({ specs: ['198.18.0.1'], ports: '80', args: [] })).plan.seed);
  t.ok(seeds.size > 1, 'seeds vary');
  for (const s of seeds) t.ok(Number.isInteger(s) && s >= 0 && s <= 0xffffffff);
});

t.test('exclusions', async (t) => {
  const tp = await plan({ specs: ['198.18.0.0/24'], exclude: ['198.18.0.0/25,198.18.0.200', '198.18.0.255'] });
  t.equal(tp.plan.hosts, 126);
  const h = hosts(tp);
  t.equal(h[0], '198.18.0.128');
  t.notOk(h.includes('198.18.0.200'));
  t.notOk(h.includes('198.18.0.255'));
  t.equal(h[h.length - 1], '198.18.0.254');
  const oct = await plan({ specs: ['198.18.0.0/24'], exclude: ['198.18.0.1-254'] });
  t.same(hosts(oct), ['198.18.0.0', '198.18.0.255'], 'octet ranges exclude too');
  const v6 = await plan({ specs: ['2001:2::/124'], exclude: ['2001:2::/125'] });
  t.same(hosts(v6).slice(0, 2), ['2001:2::8', '2001:2::9']);
  t.equal(v6.plan.hosts, 8);
  const other = await plan({ specs: ['198.18.0.1'], exclude: ['2001:2::1'], family: 4 });
  t.equal(other.plan.hosts, 1, 'an exclusion of the other family is harmless');
});

t.test('-iL and --excludefile', async (t) => {
  const tp = await plan({ inputFiles: [`${fixtures}hosts.txt`], excludeFiles: [`${fixtures}exclude.txt`] });
  t.same(hosts(tp), ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.5.1', '198.18.5.3', '198.18.5.5', '198.18.6.1', '198.18.7.1', '2001:2::1']);
  const both = await plan({ specs: ['198.18.9.9'], inputFiles: [`${fixtures}hosts.txt`] });
  t.equal(both.plan.hosts, 4 + 3 + 2 + 2 + 1, 'command-line specs and files combine');
});

t.test("'-' reads the stdin option", async (t) => {
  const tp = await plan({ inputFiles: ['-'], stdin: Readable.from(['198.18.0.1 # one\n', '198.18.0.2\n198.18.0.2']) });
  t.same(hosts(tp), ['198.18.0.1', '198.18.0.2']);
  const ex = await plan({ specs: ['198.18.0.0/30'], excludeFiles: ['-'], stdin: Readable.from([Buffer.from('198.18.0.0\n198.18.0.3')]) });
  t.same(hosts(ex), ['198.18.0.1', '198.18.0.2']);
  await t.rejects(plan({ inputFiles: ['-'] }), { name: 'UserInputError', message: /standard input is not available/ });
  await t.rejects(plan({ inputFiles: ['-'], excludeFiles: ['-'], stdin: Readable.from(['198.18.0.1']) }), {
    name: 'UserInputError',
    message: /already read/,
  });
});

t.test('file errors name the file and line', async (t) => {
  await t.rejects(plan({ inputFiles: [`${fixtures}nope.txt`] }), { name: 'UserInputError', message: /-iL ".*nope.txt": no such file/ });
  await t.rejects(plan({ specs: ['198.18.0.1'], excludeFiles: [fixtures] }), { name: 'UserInputError', message: /--excludefile ".*": is a directory/ });
  await t.rejects(plan({ inputFiles: [`${fixtures}bad-line.txt`] }), {
    name: 'UserInputError',
    message: /bad target "198.18.0.300" \(.*bad-line.txt line 2\)/,
  });
});

t.test('hostnames: localhost only, and refusal before resolving', async (t) => {
  const tp = await plan({ specs: ['localhost'] });
  t.same(hosts(tp), ['127.0.0.1'], 'resolved with dns.lookup, IPv4 by default');
  const net = await plan({ specs: ['localhost/24'] });
  t.equal(net.plan.hosts, 256, 'a prefix applies to the resolved address');
  t.equal(hosts(net)[0], '127.0.0.0');
  const ex = await plan({ specs: ['127.0.0.0/30'], exclude: ['localhost'] });
  t.same(hosts(ex), ['127.0.0.0', '127.0.0.2', '127.0.0.3'], 'hostnames in exclusions');
  const dup = await plan({ specs: ['localhost', 'localhost', '127.0.0.1'] });
  t.equal(dup.plan.hosts, 1);
  await t.rejects(plan({ specs: ['bad_host!name'] }), { name: 'UserInputError', message: /bad target "bad_host!name"/ });
});

t.test('-4 / -6 literal rules', async (t) => {
  await t.rejects(plan({ specs: ['2001:2::1'], family: 4 }), { name: 'UserInputError', message: /IPv6 target given with -4/ });
  await t.rejects(plan({ specs: ['198.18.0.1'], family: 6 }), { name: 'UserInputError', message: /IPv4 target given with -6/ });
  t.equal((await plan({ specs: ['2001:2::/126'], family: 6 })).plan.hosts, 4);
  t.equal((await plan({ specs: ['198.18.0.0/30', '2001:2::/126'] })).plan.hosts, 8, 'no flag: both families');
});

t.test('nothing left, nothing given', async (t) => {
  await t.rejects(plan({ specs: ['198.18.0.0/24'], exclude: ['198.18.0.0/23'] }), { name: 'UserInputError', message: /no targets left/ });
  await t.rejects(plan({ specs: [] }), { name: 'UserInputError', message: /no targets given/ });
  await t.rejects(plan({ specs: ['  '] }), { name: 'UserInputError', message: /no targets given/ });
});

t.test('size limits: 2^48 probes, 1M intervals', async (t) => {
  await t.rejects(plan({ specs: ['2001:2::/48'] }), {
    name: 'UserInputError',
    message: /too many probes: 2\^80 hosts × 1 ports = 2\^80 .*"2001:2::\/48" alone has 2\^80 addresses/,
  });
  await t.rejects(plan({ specs: ['2001:2::/64'], ports: '1-10' }), { message: /2\^64 hosts × 10 ports = 2\^67\.3/ });
  t.equal((await plan({ specs: ['0.0.0.0/0'], ports: '0-65535' })).plan.probes, 2 ** 48, 'exactly 2^48 is allowed');
  await t.rejects(plan({ specs: ['0.0.0.0/0'], ports: 'T:0-65535,U:53' }), {
    name: 'UserInputError',
    message: /4,294,967,296 hosts × 65537 ports = 2\^48 .*limit 2\^48/,
  });
  t.equal((await plan({ specs: ['2001:2::/80'] })).plan.hosts, 2 ** 48, 'a /80 with one port fits');
  await t.rejects(plan({ specs: ['*.*.*.1,3'] }), { name: 'UserInputError', message: /expands to 33,554,432 separate address ranges/ });
  await t.rejects(plan({ specs: ['0-9.*.*.1', '10-19.*.*.1'] }), { name: 'UserInputError', message: /IPv4 targets are too fragmented: 1,310,720/ });
  t.equal((await plan({ specs: ['0-15.*.*.1'] })).v4.starts.length, 16 * 65536, '1M ranges are still accepted');
});

t.test('option validation', async (t) => {
  await t.rejects(plan({ specs: ['198.18.0.1'], seed: -1 }), { name: 'UserInputError', message: /--seed/ });
  await t.rejects(plan({ specs: ['198.18.0.1'], seed: 2 ** 32 }), { name: 'UserInputError', message: /--seed/ });
  await t.rejects(plan({ specs: ['198.18.0.1'], shard: { index: 0, count: 2 } }), { name: 'UserInputError', message: /--shard "0\/2"/ });
  await t.rejects(plan({ specs: ['198.18.0.1'], shard: { index: 3, count: 2 } }), { name: 'UserInputError', message: /--shard/ });
  await t.rejects(plan({ specs: ['198.18.0.1'], batchSize: 0 }), { name: 'UserInputError', message: /batch size/ });
  await t.rejects(plan({ specs: ['198.18.0.1'], ports: '80', fast: true }), { name: 'UserInputError', message: /-p and -F/ });
  await t.rejects(plan({ specs: ['198.18.0.1'], ports: 'nosuch' }), { name: 'UserInputError', message: /"nosuch"/ });
});

t.test('interval sets against brute force', async (t) => {
  let s = 12345;
  const rand = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
  for (let round = 0; round < 200; round++) {
    const a = new V4Ranges();
    const b = new V4Ranges();
    const a6 = new V6Ranges();
    const b6 = new V6Ranges();
    const inA = new Uint8Array(200);
    const inB = new Uint8Array(200);
    for (let i = 0; i < 1 + rand(8); i++) {
      const lo = rand(200);
      const hi = Math.min(199, lo + rand(30));
      a.add(lo, hi);
      a6.add(BigInt(lo), BigInt(hi));
      for (let x = lo; x <= hi; x++) inA[x] = 1;
    }
    for (let i = 0; i < rand(5); i++) {
      const lo = rand(200);
      const hi = Math.min(199, lo + rand(20));
      b.add(lo, hi);
      b6.add(BigInt(lo), BigInt(hi));
      for (let x = lo; x <= hi; x++) inB[x] = 1;
    }
    for (const set of [a, b, a6, b6]) set.normalize();
    a.subtract(b);
    a6.subtract(b6);
    const expected: number[] = [];
    for (let x = 0; x < 200; x++) if (inA[x] && !inB[x]) expected.push(x);
    const got = a.toArray().flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i));
    const got6 = a6.toArray().flatMap(([lo, hi]) => Array.from({ length: Number(hi - lo) + 1 }, (_, i) => Number(lo) + i));
    if (got.join() !== expected.join() || got6.join() !== expected.join()) {
      t.fail(`round ${round}: v4 ${got.join()} v6 ${got6.join()} expected ${expected.join()}`);
      return;
    }
    // Normalized means disjoint and non-adjacent.
    const arr = a.toArray();
    for (let i = 1; i < arr.length; i++) if (arr[i]![0] <= arr[i - 1]![1] + 1) t.fail(`round ${round}: not merged`);
    t.equal(a.hosts(), expected.length) || t.fail(`round ${round}: count`);
  }
  t.pass('200 random rounds agree with brute force');
});

t.test('host index → address at the edges of the address space', async (t) => {
  const tp = await plan({ specs: ['255.255.255.254/31', '0.0.0.0/31', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127', '::/127', '::ffff:ffff:ffff/128'] });
  t.same(hosts(tp), ['0.0.0.0', '0.0.0.1', '255.255.255.254', '255.255.255.255', '::', '::1', '::ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);
  // Two adjacent /120s merge into one interval whose start sits just below a 32-bit word boundary.
  const carry = await plan({ specs: ['2001:2::ffff:ff00/120', '2001:2::1:0:0/120'] });
  t.equal(carry.v6.cum.length, 2, 'one interval');
  const buf = new Uint8Array(16);
  carry.v6.writeAddr(0x100, buf);
  t.equal(formatIPv6(buf), '2001:2::1:0:0', 'offset additions carry across 32-bit words');
  carry.v6.writeAddr(511, buf);
  t.equal(formatIPv6(buf), '2001:2::1:0:ff');
  const carry2 = await plan({ specs: ['2001:2::ffff:ffff:ffff:ff00/120', '2001:2:0:1::/120'] });
  carry2.v6.writeAddr(0x100, buf);
  t.equal(formatIPv6(buf), '2001:2:0:1::', 'carry ripples through two words');
  const big = await plan({ specs: ['2001:2::/80'] });
  big.v6.writeAddr(2 ** 40 + 5, buf);
  t.equal(formatIPv6(buf), '2001:2::100:0:5', 'offsets above 2^32 reach the next word');
  big.v6.writeAddr(2 ** 48 - 1, buf);
  t.equal(formatIPv6(buf), '2001:2::ffff:ffff:ffff');
  t.type(new UserInputError('x'), Error);
});
