// Property tests (fast-check) for the TypeScript parsers: the PCRE translation agrees with a real
// PCRE engine (`grep -P`, PCRE2) on random patterns and subjects; -p port specs expand to exactly
// the ports a model of the grammar gives; target specs parse to the addresses a model computes.
import t from 'tap';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { compilePcre } from '../../stages/detect/index.js';
import { selectPorts } from '../../stages/targets/ports.js';
import { planTargets } from '../../stages/targets/plan.js';
import { loadServicesTable } from '../../stages/datafiles/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-prop-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A small PCRE grammar over the alphabet the subjects use, with the constructs JavaScript lacks
// and the translation handles: atomic groups, possessive quantifiers, \A \Z \z, POSIX classes.
const atom: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('a', 'b', 'c', '1', ' ', '.', '\\d', '\\w', '\\s', '\\D', '[ab]', '[^a]', '[a-c1]', '[[:digit:]]', '[[:alpha:]]', '\\x61'),
);
const quant = fc.constantFrom('', '', '*', '+', '?', '{1,2}', '*+', '++', '?+', '*?', '+?', '{2}');
const pattern: fc.Arbitrary<string> = fc.letrec<{ re: string; seq: string; item: string }>((tie) => ({
  item: fc.oneof(
    { weight: 4, arbitrary: fc.tuple(atom, quant).map(([a, q]) => a + q) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('(', '(?:', '(?>'), tie('re'), quant).map(([g, r, q]) => `${g}${r})${q}`) },
  ),
  seq: fc.array(tie('item'), { minLength: 1, maxLength: 4 }).map((xs) => xs.join('')),
  re: fc.oneof({ weight: 3, arbitrary: tie('seq') }, { weight: 1, arbitrary: fc.tuple(tie('seq'), tie('seq')).map(([a, b]) => `${a}|${b}`) }),
})).re;
const anchored = fc.tuple(fc.constantFrom('', '^', '\\A'), pattern, fc.constantFrom('', '$', '\\Z', '\\z')).map(([a, p, z]) => `${a}${p}${z}`);
const subject = fc.array(fc.constantFrom('a', 'b', 'c', '1', ' ', '_'), { maxLength: 8 }).map((xs) => xs.join(''));

const grepP = spawnSync('grep', ['-P', 'a'], { input: 'a\n' }).status === 0;

t.test('PCRE translation agrees with grep -P (PCRE2) on random patterns and subjects', { skip: grepP ? false : 'grep -P unavailable' }, async (t) => {
  const file = path.join(tmp, 'subjects.txt');
  let runs = 0;
  fc.assert(fc.property(anchored, fc.array(subject, { minLength: 1, maxLength: 12 }), fc.boolean(), (p, subjects, caseless) => {
    runs++;
    fs.writeFileSync(file, `${subjects.join('\n')}\n`);
    const g = spawnSync('grep', ['-P', '-n', ...(caseless ? ['-i'] : []), '-e', p, file], { encoding: 'utf8' });
    if (g.status === 2) return true; // grep refuses the pattern (e.g. a quantified assertion): nothing to compare
    const want = new Set(g.stdout.split('\n').filter(Boolean).map((l) => Number(l.slice(0, l.indexOf(':'))) - 1));
    const re = compilePcre(p, { i: caseless }).regex;
    const got = new Set(subjects.flatMap((s, i) => (re.test(s) ? [i] : [])));
    if (want.size !== got.size || [...want].some((i) => !got.has(i))) {
      throw new Error(`/${p}/${caseless ? 'i' : ''}: grep -P matches lines ${[...want]}, prtip's translation ${[...got]} of ${JSON.stringify(subjects)}`);
    }
    return true;
  }), { numRuns: 150, seed: 20261201 });
  t.equal(runs, 150);
});

/** The model of -p: ranges and single ports, as numbers. */
const portItem = fc.oneof(
  fc.integer({ min: 0, max: 65535 }).map((p) => ({ text: String(p), ports: [p] })),
  fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 300 })).map(([a, n]) => {
    const b = Math.min(65535, a + n);
    return { text: `${a}-${b}`, ports: Array.from({ length: b - a + 1 }, (_, i) => a + i) };
  }),
  fc.integer({ min: 1, max: 300 }).map((n) => ({ text: `-${n}`, ports: Array.from({ length: n }, (_, i) => i + 1) })),
);

t.test('-p: a random list of ports and ranges expands to exactly the union, each port once', async (t) => {
  let runs = 0;
  fc.assert(fc.property(fc.array(portItem, { minLength: 1, maxLength: 8 }), (items) => {
    runs++;
    const list = selectPorts({ ports: items.map((i) => i.text).join(',') }, () => loadServicesTable());
    const want = [...new Set(items.flatMap((i) => i.ports))].sort((a, b) => a - b);
    const got = [...list.ports].sort((a, b) => a - b);
    if (got.length !== want.length || got.some((p, i) => p !== want[i])) throw new Error(`-p ${items.map((i) => i.text).join(',')}: got ${got.length} ports, want ${want.length}`);
    if (![...list.protos].every((p) => p === 6)) throw new Error('TCP by default');
    return true;
  }), { numRuns: 300, seed: 7 });
  t.equal(runs, 300);
});

t.test('targets: random CIDR blocks and octet ranges, minus exclusions, count as a model says', async (t) => {
  const block = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 32 })).map(([c, prefix]) => {
    const base = (198 * 2 ** 24 + 18 * 2 ** 16 + c * 256) >>> 0;
    const size = 2 ** (32 - prefix);
    return { text: `198.18.${c}.0/${prefix}`, from: base, to: base + size - 1 };
  });
  const octets = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 40 })).map(([c, lo, n]) => {
    const hi = Math.min(255, lo + n);
    const base = (198 * 2 ** 24 + 18 * 2 ** 16 + c * 256) >>> 0;
    return { text: `198.18.${c}.${lo}-${hi}`, from: base + lo, to: base + hi };
  });
  const spec = fc.oneof(block, octets);
  let runs = 0;
  await fc.assert(fc.asyncProperty(fc.array(spec, { minLength: 1, maxLength: 5 }), fc.array(spec, { maxLength: 3 }), async (targets, excludes) => {
    runs++;
    const set = new Set<number>();
    for (const s of targets) for (let a = s.from; a <= s.to; a++) set.add(a);
    for (const s of excludes) for (let a = s.from; a <= s.to; a++) set.delete(a);
    let plan;
    try {
      plan = await planTargets({ specs: targets.map((s) => s.text), exclude: excludes.map((s) => s.text), ports: '80', seed: 1, args: [] });
    } catch (err) {
      if (set.size === 0 && /no targets left/.test((err as Error).message)) return true;
      throw err;
    }
    if (plan.plan.hosts !== set.size) throw new Error(`${targets.map((s) => s.text)} minus ${excludes.map((s) => s.text)}: ${plan.plan.hosts} hosts, model ${set.size}`);
    const addrs = new Set<number>();
    for (let h = 0; h < plan.v4.hosts; h++) addrs.add(plan.v4.addr(h));
    if ([...set].some((a) => !addrs.has(a))) throw new Error('an address of the model is missing');
    return true;
  }), { numRuns: 200, seed: 11 });
  t.equal(runs, 200);
});
