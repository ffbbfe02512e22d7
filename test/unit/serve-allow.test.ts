// --allow-targets: the planned addresses must all lie inside the allowed ranges (IPv4 and IPv6,
// ranges that only together cover a target, bad CIDRs refused in one line).
import t from 'tap';
import { checkAllowed, LOOPBACK_RANGES, parseAllowList } from '../../packages/oclif-cli/lib/serve/allow.js';
import { planTargets } from '../../stages/targets/index.js';

const plan = (...specs: string[]) => planTargets({ specs, ports: '80', stdin: process.stdin });

t.test('inside or outside the allowed ranges', async (t) => {
  const allowed = parseAllowList([...LOOPBACK_RANGES, '198.18.0.0/24,198.18.1.0/24', '2001:2::/120']);
  t.doesNotThrow(checkAllowed.bind(null, await plan('127.0.0.1', '127.255.255.255'), allowed));
  t.doesNotThrow(checkAllowed.bind(null, await plan('198.18.0.0/23'), allowed), 'two /24s cover the /23 together');
  t.doesNotThrow(checkAllowed.bind(null, await plan('::1', '2001:2::ff'), allowed));
  const outside = async (spec: string, re: RegExp) => {
    const p = await plan(spec);
    t.throws(() => checkAllowed(p, allowed), re, spec);
  };
  await outside('198.18.0.0/22', /^target 198\.18\.0\.0-198\.18\.3\.255 is outside what this server may scan/);
  await outside('198.18.2.1', /^target 198\.18\.2\.1 is outside/);
  await outside('2001:2::100', /^target 2001:2:0:0:0:0:0:100 is outside/);
  await outside('128.0.0.1', /outside/);
});

t.test('bad ranges are one line naming them', async (t) => {
  t.throws(() => parseAllowList(['198.18.0.0/33']), /^bad range "198\.18\.0\.0\/33" for --allow-targets/);
  t.throws(() => parseAllowList(['example.org']), /bad range "example\.org"/);
  t.throws(() => parseAllowList(['2001:2::/129']), /bad range/);
  t.same(parseAllowList(['10.1.2.3/8']).map((r) => [r.start, r.end]), [[0x0a000000n, 0x0affffffn]], 'host bits ignored');
});
