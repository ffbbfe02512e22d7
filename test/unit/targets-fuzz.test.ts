/**
 * Fuzz: seeded random and mutated strings into the target and port parsers. Each input must
 * either parse or throw UserInputError — never another exception, never a hang.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { UserInputError } from '../../stages/records/index.js';
import { loadServicesTable } from '../../stages/datafiles/index.js';
import { parsePortSpec } from '../../stages/targets/ports.js';
import { expandV4Octets, parseTargetSpec, splitSpecs, type SpecContext } from '../../stages/targets/target-spec.js';

const fixtureDir = fileURLToPath(new URL('../fixtures/targets/datadir', import.meta.url));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const TARGET_SEEDS = [
  '198.18.0.1', '198.18.0.0/15', '198.18.1-3.1-254', '198.18.*.7', '198.18.0-.1', '198.18.-5.1', '198.18.1,3,5.1',
  '2001:2::/120', '::ffff:1.2.3.4', '::', 'fe80::1%eth0', 'localhost', 'host.example/24', '10.0.0.1,2,host.example',
];
const PORT_SEEDS = ['22,80,8000-8100', '-1024', '60000-', '-', 'U:53,111,T:21-25,80', 'http,ssh', 'http*', '[1-1024]', 'S:80', 'X11:1', '0'];
const TARGET_ALPHABET = '0123456789abcdefABCDEF.:/-,*%# \t\nxyz_!?[]';
const PORT_ALPHABET = '0123456789-,:TUSPtusp[]*?httpsx _.';

function randomString(r: () => number, alphabet: string, maxLen: number): string {
  const n = Math.floor(r() * (maxLen + 1));
  let s = '';
  for (let i = 0; i < n; i++) {
    const roll = r();
    if (roll < 0.9) s += alphabet[Math.floor(r() * alphabet.length)];
    else if (roll < 0.95) s += String.fromCharCode(Math.floor(r() * 0x10000)); // any code unit, lone surrogates too
    else s += String(Math.floor(r() * 100000)); // big numbers
  }
  return s;
}

function mutate(r: () => number, seed: string, alphabet: string): string {
  let s = seed;
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = r();
    const ch = alphabet[Math.floor(r() * alphabet.length)]!;
    if (op < 0.4) s = s.slice(0, at) + ch + s.slice(at);
    else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1);
    else s = s.slice(0, at) + ch + s.slice(at + 1);
  }
  return s;
}

/** Runs fn; returns the non-UserInputError it threw, if any, and how long it took. */
function attempt(fn: () => void): { error?: unknown; ms: number } {
  const t0 = performance.now();
  try {
    fn();
    return { ms: performance.now() - t0 };
  } catch (err) {
    return err instanceof UserInputError ? { ms: performance.now() - t0 } : { error: err, ms: performance.now() - t0 };
  }
}

t.test('the harness tells UserInputError from other exceptions', async (t) => {
  t.equal(attempt(() => { throw new UserInputError('bad'); }).error, undefined);
  t.type(attempt(() => { throw new TypeError('bug'); }).error, TypeError);
});

t.test('target parser: parse or UserInputError, nothing else', async (t) => {
  const r = rng(20240601);
  const contexts: SpecContext[] = [{ role: 'target' }, { role: 'target', family: 4 }, { role: 'target', family: 6 }, { role: 'exclude', family: 4 }];
  const failures: string[] = [];
  let parsed = 0;
  let refused = 0;
  let slowest = 0;
  for (let i = 0; i < 15_000; i++) {
    const input = i % 2 === 0 ? randomString(r, TARGET_ALPHABET, 40) : mutate(r, TARGET_SEEDS[i % TARGET_SEEDS.length]!, TARGET_ALPHABET);
    const ctx = contexts[i % contexts.length]!;
    const res = attempt(() => {
      for (const tok of [...splitSpecs(input), ...splitSpecs(input, { comments: true, source: 'f' })]) {
        try {
          const spec = parseTargetSpec(tok.text, ctx);
          parsed++;
          // Consistency of what parsed: counted intervals match the expansion, blocks are ordered.
          if (spec.kind === 'v4-octets' && spec.intervals <= 4096) {
            let n = 0;
            let last = -1;
            expandV4Octets(spec.octets, (a, b) => {
              if (!(a <= b && a > last && b <= 0xffffffff)) throw new Error(`bad interval ${a}-${b} from "${tok.text}"`);
              last = b;
              n++;
            });
            if (n !== spec.intervals) throw new Error(`"${tok.text}": ${spec.intervals} counted, ${n} expanded`);
          }
          if (spec.kind === 'v4-block' && !(spec.start <= spec.end && spec.end <= 0xffffffff)) throw new Error(`bad block from "${tok.text}"`);
          if (spec.kind === 'v6-block' && !(spec.start <= spec.end && spec.end < 1n << 128n)) throw new Error(`bad block from "${tok.text}"`);
        } catch (err) {
          if (err instanceof UserInputError) refused++;
          else throw err;
        }
      }
      parseTargetSpec(input, ctx); // the raw string too, unsplit
    });
    slowest = Math.max(slowest, res.ms);
    if (res.error) failures.push(`${JSON.stringify(input)}: ${String(res.error)}`);
  }
  t.same(failures.slice(0, 5), [], 'no exception other than UserInputError');
  t.ok(parsed > 1000 && refused > 1000, `both outcomes exercised (${parsed} parsed, ${refused} refused)`);
  t.ok(slowest < 250, `slowest input took ${slowest.toFixed(1)} ms`);
});

t.test('port parser: parse or UserInputError, nothing else', async (t) => {
  const r = rng(777);
  const services = () => loadServicesTable(fixtureDir);
  const installed = () => loadServicesTable('/usr/share/nmap');
  const failures: string[] = [];
  let parsed = 0;
  let slowest = 0;
  for (let i = 0; i < 15_000; i++) {
    const input = i % 2 === 0 ? randomString(r, PORT_ALPHABET, 30) : mutate(r, PORT_SEEDS[i % PORT_SEEDS.length]!, PORT_ALPHABET);
    const res = attempt(() => {
      const list = parsePortSpec(input, i % 10 === 0 ? installed : services);
      parsed++;
      if (list.count !== list.ports.length || list.count === 0) throw new Error(`inconsistent list from ${JSON.stringify(input)}`);
    });
    slowest = Math.max(slowest, res.ms);
    if (res.error) failures.push(`${JSON.stringify(input)}: ${String(res.error)}`);
  }
  const refused = 15_000 - parsed - failures.length;
  t.same(failures.slice(0, 5), [], 'no exception other than UserInputError');
  t.ok(parsed > 500 && refused > 1000, `both outcomes exercised (${parsed} parsed, ${refused} refused)`);
  t.ok(slowest < 250, `slowest input took ${slowest.toFixed(1)} ms`);
});
