import t from 'tap';
import { UserInputError } from '../../stages/records/index.js';
import {
  expandV4Octets,
  parseTargetSpec,
  splitSpecs,
  type SpecContext,
  type TargetSpec,
} from '../../stages/targets/target-spec.js';
import { parseIPv6 } from '../../stages/targets/ipv6.js';

/** A subtest's `t`. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const T: SpecContext = { role: 'target' };
const ip4 = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const fmt4 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** A v4 spec's intervals as "a.b.c.d-e.f.g.h" strings. */
function v4(spec: string, ctx: SpecContext = T): string[] {
  const s = parseTargetSpec(spec, ctx);
  if (s.kind === 'v4-block') return [`${fmt4(s.start)}-${fmt4(s.end)}`];
  if (s.kind !== 'v4-octets') throw new Error(`${spec} parsed as ${s.kind}`);
  const out: string[] = [];
  expandV4Octets(s.octets, (a, b) => out.push(`${fmt4(a)}-${fmt4(b)}`));
  if (out.length !== s.intervals) throw new Error(`${spec}: counted ${s.intervals} intervals, expanded ${out.length}`);
  return out;
}

function v6(spec: string, ctx: SpecContext = T): [bigint, bigint] {
  const s = parseTargetSpec(spec, ctx);
  if (s.kind !== 'v6-block') throw new Error(`${spec} parsed as ${s.kind}`);
  return [s.start, s.end];
}

/** Asserts a UserInputError whose message quotes the spec and matches `why`. */
function refuses(t: Tap, spec: string, why: RegExp, ctx: SpecContext = T): void {
  try {
    parseTargetSpec(spec, ctx);
    t.fail(`"${spec}" was accepted`);
  } catch (err) {
    t.type(err, UserInputError, `"${spec}" → UserInputError`);
    t.match((err as Error).message, `"${spec}"`, 'message quotes the spec');
    t.match((err as Error).message, why);
  }
}

t.test('IPv4 addresses and CIDR', async (t) => {
  t.same(v4('198.18.0.1'), ['198.18.0.1-198.18.0.1']);
  t.same(v4('198.18.0.0/15'), ['198.18.0.0-198.19.255.255']);
  t.same(v4('198.18.5.77/24'), ['198.18.5.0-198.18.5.255'], 'host bits are masked off');
  t.same(v4('198.18.5.77/32'), ['198.18.5.77-198.18.5.77']);
  t.same(v4('1.2.3.4/0'), ['0.0.0.0-255.255.255.255']);
  t.same(v4('0.0.0.0'), ['0.0.0.0-0.0.0.0']);
  t.same(v4('255.255.255.255/31'), ['255.255.255.254-255.255.255.255']);
  t.same(v4('010.001.0.9'), ['10.1.0.9-10.1.0.9'], 'leading zeros are decimal, as in nmap');
});

t.test('IPv4 octet ranges', async (t) => {
  t.same(v4('198.18.1-3.1-254'), ['198.18.1.1-198.18.1.254', '198.18.2.1-198.18.2.254', '198.18.3.1-198.18.3.254']);
  const star = v4('198.18.*.7');
  t.equal(star.length, 256);
  t.equal(star[0], '198.18.0.7-198.18.0.7');
  t.equal(star[255], '198.18.255.7-198.18.255.7');
  t.equal(v4('198.18.0-.1').length, 256, 'open upper end is 255');
  t.same(v4('198.18.-5.1').length, 6, 'open lower end is 0');
  t.same(v4('198.18.-.1').length, 256, 'bare dash is 0-255');
  t.same(v4('198.18.1,3,5.1'), ['198.18.1.1-198.18.1.1', '198.18.3.1-198.18.3.1', '198.18.5.1-198.18.5.1']);
  t.same(v4('198.18.1,2,3.1'), ['198.18.1.1-198.18.1.1', '198.18.2.1-198.18.2.1', '198.18.3.1-198.18.3.1']);
  t.same(v4('10.0.0.1,2,3-5,9'), ['10.0.0.1-10.0.0.5', '10.0.0.9-10.0.0.9'], 'last octet list merges into ranges');
  t.same(v4('10.0.0.*'), ['10.0.0.0-10.0.0.255'], 'full trailing octets make one interval');
  t.same(v4('10.0-1.*.*'), ['10.0.0.0-10.1.255.255']);
  t.same(v4('10.*.*.*'), ['10.0.0.0-10.255.255.255']);
  t.same(v4('*.*.*.*'), ['0.0.0.0-255.255.255.255']);
  t.same(v4('10.0.0.0-255'), ['10.0.0.0-10.0.0.255'], 'a full range written out counts as full');
  t.same(v4('10.0.5-6,1.0'), ['10.0.1.0-10.0.1.0', '10.0.5.0-10.0.5.0', '10.0.6.0-10.0.6.0'], 'sorted');
  const s = parseTargetSpec('*.*.*.1,3', T);
  t.equal(s.kind === 'v4-octets' && s.intervals, 256 ** 3 * 2, 'huge expansions are counted without expanding');
});

t.test('bad IPv4 specs', async (t) => {
  refuses(t, '1.2.3', /needs 4 dotted octets/);
  refuses(t, '1.2.3.4.5', /needs 4 dotted octets/);
  refuses(t, '12345', /needs 4 dotted octets/);
  refuses(t, '1.2.3.256', /256.*not 0-255/);
  refuses(t, '1.2.3.1-300', /300.*not 0-255/);
  refuses(t, '1.2.3.9-4', /backwards/);
  refuses(t, '1.2..4', /octet 3 is empty/);
  refuses(t, '1.2.3.', /octet 4 is empty/);
  refuses(t, '1.2.3.1,,2', /octet 4/);
  refuses(t, '1.2.3.--', /octet 4/);
  refuses(t, '1.2.3.1234', /octet value 1234 in "1234" is not 0-255/);
  refuses(t, '1.2.3.4/33', /longer than \/32/);
  refuses(t, '1.2.3.4/', /not a prefix length/);
  refuses(t, '1.2.3.4/x', /not a prefix length/);
  refuses(t, '1.2.3.4/24/8', /not a prefix length/);
  refuses(t, '1.2.3.1-4/24', /cannot be combined/);
  refuses(t, '/24', /nothing before/);
});

t.test('IPv6 textual forms', async (t) => {
  t.equal(parseIPv6('::'), 0n);
  t.equal(parseIPv6('::1'), 1n);
  t.equal(parseIPv6('1::'), 1n << 112n);
  t.equal(parseIPv6('2001:db8::1'), (0x2001n << 112n) | (0xdb8n << 96n) | 1n);
  t.equal(parseIPv6('2001:0db8:0000:0000:0000:0000:0000:0001'), parseIPv6('2001:db8::1'));
  t.equal(parseIPv6('2001:DB8::A'), parseIPv6('2001:db8::a'), 'hex is case-insensitive');
  t.equal(parseIPv6('::ffff:1.2.3.4'), (0xffffn << 32n) | 0x01020304n);
  t.equal(parseIPv6('64:ff9b::192.0.2.33'), (0x64n << 112n) | (0xff9bn << 96n) | 0xc0000221n);
  t.equal(parseIPv6('1:2:3:4:5:6:1.2.3.4'), parseIPv6('1:2:3:4:5:6:102:304'));
  t.equal(parseIPv6('1:2:3:4:5:6:7::'), parseIPv6('1:2:3:4:5:6:7:0'), '"::" may stand for one group');
  t.equal(parseIPv6('::2:3:4:5:6:7:8'), parseIPv6('0:2:3:4:5:6:7:8'));
  t.equal(parseIPv6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), (1n << 128n) - 1n);
  for (const bad of [':::', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1::', '1::2:', '1:2:3:4:5:6:7:8::', 'g::1', '::1.2.3', '::1.2.3.256', '1.2.3.4::', '::1:1.2.3.4:5', '']) {
    t.type(parseIPv6(bad), 'string', `"${bad}" is refused`);
  }
});

t.test('IPv6 targets and CIDR', async (t) => {
  t.same(v6('2001:2::/120'), [0x20010002n << 96n, (0x20010002n << 96n) | 0xffn]);
  t.same(v6('2001:2::1234/112'), [0x20010002n << 96n, (0x20010002n << 96n) | 0xffffn], 'host bits masked');
  t.same(v6('::/0'), [0n, (1n << 128n) - 1n]);
  t.same(v6('::1'), [1n, 1n]);
  t.same(v6('::ffff:198.18.0.1/128'), [(0xffffn << 32n) | 0xc6120001n, (0xffffn << 32n) | 0xc6120001n]);
  refuses(t, 'fe80::1%eth0', /zone ids.*not supported/);
  refuses(t, 'fe80::1%eth0/64', /zone ids/);
  refuses(t, '2001:2::/129', /longer than \/128/);
  refuses(t, '2001::2::1', /not an IPv6 address: "::" may appear only once/);
  refuses(t, '2001:2:::1', /not an IPv6 address/);
  refuses(t, 'fffff::', /not an IPv6 address/);
});

t.test('hostnames', async (t) => {
  const h = (s: string, ctx: SpecContext = T): TargetSpec => parseTargetSpec(s, ctx);
  t.same(h('localhost'), { kind: 'host', text: 'localhost', name: 'localhost', prefix: undefined });
  t.same(h('scanme.example.org/24'), { kind: 'host', text: 'scanme.example.org/24', name: 'scanme.example.org', prefix: 24 });
  t.same(h('host-1.example.'), { kind: 'host', text: 'host-1.example.', name: 'host-1.example.', prefix: undefined });
  t.same(h('3com.example').kind, 'host', 'labels may start with a digit');
  t.same(h('_srv.example').kind, 'host');
  t.equal((h('v6host/64', { role: 'target', family: 6 }) as { prefix: number }).prefix, 64, '-6 allows prefixes to 128');
  refuses(t, 'v4host/64', /longer than \/32/);
  refuses(t, 'bad_host!name', /not an IPv4\/IPv6 address, network, octet range .* or valid hostname/);
  refuses(t, 'a..b', /valid hostname/);
  refuses(t, 'host-.example', /valid hostname/);
  refuses(t, 'exa mple', /valid hostname/);
  refuses(t, `${'a'.repeat(64)}.example`, /valid hostname/, T);
  refuses(t, '-oX', /looks like an option/);
  refuses(t, '', /empty target/);
});

t.test('-4 / -6 refuse literals of the other family', async (t) => {
  refuses(t, '2001:2::1', /IPv6 target given with -4/, { role: 'target', family: 4 });
  refuses(t, '198.18.0.1', /IPv4 target given with -6/, { role: 'target', family: 6 });
  refuses(t, '198.18.*.1', /IPv4 target given with -6/, { role: 'target', family: 6 });
  t.equal(parseTargetSpec('2001:2::1', { role: 'target', family: 6 }).kind, 'v6-block');
  t.equal(parseTargetSpec('198.18.0.1', { role: 'target', family: 4 }).kind, 'v4-block');
  t.equal(parseTargetSpec('2001:2::1', { role: 'exclude', family: 4 }).kind, 'v6-block', 'exclusions may name the other family');
  t.equal(parseTargetSpec('198.18.0.1', { role: 'exclude', family: 6 }).kind, 'v4-block');
});

t.test('messages name the source and the role', async (t) => {
  try {
    parseTargetSpec('1.2.3.999', { role: 'exclude', where: 'ex.txt line 4' });
    t.fail('accepted');
  } catch (err) {
    t.equal((err as Error).message, 'bad --exclude "1.2.3.999" (ex.txt line 4): octet value 999 in "999" is not 0-255');
  }
});

t.test('splitSpecs: whitespace, comments, commas', async (t) => {
  const texts = (s: string, o?: { comments?: boolean; source?: string }) => splitSpecs(s, o).map((x) => x.text);
  t.same(texts('  a.example\tb.example\n\n c.example  '), ['a.example', 'b.example', 'c.example']);
  t.same(texts('198.18.0.1 # a comment\n# whole line\n198.18.0.2#tight', { comments: true }), ['198.18.0.1', '198.18.0.2']);
  t.same(texts('198.18.0.1#x'), ['198.18.0.1#x'], 'no comment stripping outside files');
  t.same(texts('198.18.0.1,198.18.0.2,host.example'), ['198.18.0.1', '198.18.0.2', 'host.example']);
  t.same(texts('198.18.1,3,5.1'), ['198.18.1,3,5.1'], 'commas inside an octet list stay');
  t.same(texts('198.18.0.1,2,3'), ['198.18.0.1,2,3'], 'last-octet list stays');
  t.same(texts('198.18.0.1,2,host.example,10.0.0.0/8'), ['198.18.0.1,2', 'host.example', '10.0.0.0/8']);
  t.same(texts('10.0.0.0/8,5'), ['10.0.0.0/8', '5'], 'a CIDR block takes no octet list');
  t.same(texts('2001:2::1,2001:2::2'), ['2001:2::1', '2001:2::2']);
  t.same(texts('a.example,,b.example'), ['a.example', '', 'b.example'], 'empty piece kept so it is refused');
  t.same(texts('198.18.0.1,'), ['198.18.0.1', '']);
  t.same(
    splitSpecs('a.example\n\nb.example # c', { comments: true, source: 'hosts.txt' }),
    [
      { text: 'a.example', where: 'hosts.txt line 1' },
      { text: 'b.example', where: 'hosts.txt line 3' },
    ],
  );
});

t.test('parsed spec shapes', async (t) => {
  t.same(parseTargetSpec('198.18.0.0/31', T), { kind: 'v4-block', text: '198.18.0.0/31', start: ip4('198.18.0.0'), end: ip4('198.18.0.1') });
});
