// PCRE → JavaScript translation: each row is a pattern, nmap flags, a subject and what PCRE 8
// does with it (match or not, and the groups), written from PCRE's documented semantics.
import t from 'tap';
import { compilePcre, PcreTranslationError, translatePcre } from '../../stages/detect/pcre.js';

interface Row {
  what: string;
  re: string;
  flags?: string;
  subject: string;
  /** null: no match; else the PCRE groups 0..n (undefined for a group that did not take part). */
  want: Array<string | undefined> | null;
}

const ROWS: Row[] = [
  // dot, anchors, newlines
  { what: '. matches \\r (PCRE excludes only \\n)', re: '^a.b', subject: 'a\rb', want: ['a\rb'] },
  { what: '. does not match \\n without s', re: '^a.b', subject: 'a\nb', want: null },
  { what: '. matches \\n with s', re: '^a.b', flags: 's', subject: 'a\nb', want: ['a\nb'] },
  { what: '$ matches before a final newline', re: '^ok$', subject: 'ok\n', want: ['ok'] },
  { what: '$ does not match before an inner newline', re: '^ok$', subject: 'ok\nmore', want: null },
  { what: '\\Z before final newline', re: '^ok\\Z', subject: 'ok\n', want: ['ok'] },
  { what: '\\z only at the very end', re: '^ok\\z', subject: 'ok\n', want: null },
  { what: '\\A start of subject', re: '\\Aab', subject: 'ab', want: ['ab'] },
  { what: '\\A is not after a newline', re: '\\Aab', subject: 'x\nab', want: null },
  // classes
  { what: '] first in a class is literal', re: '^[]a]+$', subject: ']a]', want: [']a]'] },
  { what: '] first in a negated class', re: '^[^]]+', subject: 'ab]', want: ['ab'] },
  { what: 'POSIX [:alpha:]', re: '^[[:alpha:]]+', subject: 'abC1', want: ['abC'] },
  { what: 'POSIX [:digit:] with others', re: '^[[:digit:]x]+', subject: '12x3y', want: ['12x3'] },
  { what: 'negated POSIX [:^digit:]', re: '^[[:^digit:]]+', subject: 'ab1', want: ['ab'] },
  { what: 'POSIX [:xdigit:] [:space:]', re: '^[[:xdigit:]]+[[:space:]]', subject: 'fF0\t', want: ['fF0\t'] },
  { what: '\\s is ASCII whitespace only (no \\xa0)', re: '^a\\sb', subject: 'a\xa0b', want: null },
  { what: '\\s matches \\v (PCRE 8.34+)', re: '^a\\sb', subject: 'a\x0bb', want: ['a\x0bb'] },
  { what: '\\S excludes ASCII space', re: '^\\S+', subject: 'ab c', want: ['ab'] },
  { what: '\\h horizontal space', re: '^a\\hb', subject: 'a\tb', want: ['a\tb'] },
  { what: '\\d in a class range', re: '^[\\d.]+', subject: '1.22.1 x', want: ['1.22.1'] },
  { what: 'dash after a class escape is literal', re: '^[\\w-]+', subject: 'a-b c', want: ['a-b'] },
  { what: 'octal inside a class', re: '^[\\012]', subject: '\n', want: ['\n'] },
  // escapes
  { what: '\\x{41}', re: '^\\x{41}\\x{4a}', subject: 'AJ', want: ['AJ'] },
  { what: '\\xH single digit', re: '^\\x9', subject: '\t', want: ['\t'] },
  { what: '\\0 NUL', re: '^a\\0b', subject: 'a\0b', want: ['a\0b'] },
  { what: '\\012 octal', re: '^a\\012b', subject: 'a\nb', want: ['a\nb'] },
  { what: '\\e escape', re: '^\\e\\[0m', subject: '\x1b[0m', want: ['\x1b[0m'] },
  { what: '\\Q…\\E quoting', re: '^\\Q(a.b)*\\E$', subject: '(a.b)*', want: ['(a.b)*'] },
  { what: 'quantifier after \\Q…\\E repeats the last char', re: '^\\Qab\\E+$', subject: 'abbb', want: ['abbb'] },
  { what: 'high bytes as latin1', re: '^\\xff\\xfb\\x01', subject: '\xff\xfb\x01', want: ['\xff\xfb\x01'] },
  { what: 'literal high byte', re: '^\xe9t\xe9', subject: '\xe9t\xe9', want: ['\xe9t\xe9'] },
  { what: '\\R any newline', re: '^a\\Rb', subject: 'a\r\nb', want: ['a\r\nb'] },
  { what: '\\N not newline', re: '^a\\Nb', subject: 'a\rb', want: ['a\rb'] },
  // case
  { what: 'i flag folds ASCII', re: '^server: (\\w+)', flags: 'i', subject: 'SERVER: x', want: ['SERVER: x', 'x'] },
  { what: 'i flag does not fold latin1 (C locale)', re: '^\xe9', flags: 'i', subject: '\xc9', want: null },
  { what: 'i flag in a class', re: '^[a-c]+$', flags: 'i', subject: 'aBC', want: ['aBC'] },
  { what: 'inline (?i) at start', re: '(?i)^abc', subject: 'ABC', want: ['ABC'] },
  { what: 'scoped (?i:…)', re: '^(?i:ab)C', subject: 'ABC', want: ['ABC'] },
  { what: 'scoped (?i:…) leaves the rest case-sensitive', re: '^(?i:ab)C', subject: 'ABc', want: null },
  { what: '(?i) mid-group lasts to the group end', re: '^(a(?i)b)C', subject: 'aBC', want: ['aBC', 'aB'] },
  { what: '(?i) mid-group ends with the group', re: '^(a(?i)b)C', subject: 'aBc', want: null },
  { what: '(?-i) turns caseless off', re: '^a(?-i)b', flags: 'i', subject: 'Ab', want: ['Ab'] },
  { what: '(?-i) really is case-sensitive', re: '^a(?-i)b', flags: 'i', subject: 'AB', want: null },
  { what: '(?s) inline', re: '(?s)^a.b', subject: 'a\nb', want: ['a\nb'] },
  { what: '(?m) inline ^ after newline', re: '(?m)^b$', subject: 'a\nb\nc', want: ['b'] },
  { what: '(?x) extended', re: '(?x) ^ a \\  b # comment\n c', subject: 'a bc', want: ['a bc'] },
  // atomic and possessive
  { what: 'atomic group does not give back', re: '^(?>a+)a', subject: 'aaa', want: null },
  { what: 'atomic group matches', re: '^(?>a+)b', subject: 'aab', want: ['aab'] },
  { what: 'possessive ++ does not give back', re: '^a++a', subject: 'aaa', want: null },
  { what: 'possessive *+ matches', re: '^a*+b', subject: 'aab', want: ['aab'] },
  { what: 'possessive on a group keeps group numbers', re: '^(a|b)++(c)', subject: 'abac', want: ['abac', 'a', 'c'] },
  { what: 'groups after an atomic group keep their numbers', re: '^(?>(\\d+))\\.(\\d+)', subject: '12.34', want: ['12.34', '12', '34'] },
  { what: 'lazy quantifier', re: '^<(.+?)>', subject: '<a><b>', want: ['<a>', 'a'] },
  // groups and references
  { what: 'back-reference', re: '^(a|b)\\1', subject: 'bb', want: ['bb', 'b'] },
  { what: 'back-reference after an atomic group is renumbered', re: '^(?>x)(a)\\1', subject: 'xaa', want: ['xaa', 'a'] },
  { what: '\\g{-1} relative reference', re: '^(a)(b)\\g{-1}', subject: 'abb', want: ['abb', 'a', 'b'] },
  { what: '\\g1 reference', re: '^(a)\\g1', subject: 'aa', want: ['aa', 'a'] },
  { what: 'named group (?P<n>) and (?P=n)', re: '^(?P<q>["\'])x(?P=q)', subject: '"x"', want: ['"x"', '"'] },
  { what: 'named group (?<n>) and \\k<n>', re: '^(?<q>a)\\k<q>', subject: 'aa', want: ['aa', 'a'] },
  { what: "named group (?'n')", re: "^(?'q'a)b", subject: 'ab', want: ['ab', 'a'] },
  { what: 'comment (?#…)', re: '^a(?#skip)b', subject: 'ab', want: ['ab'] },
  { what: 'lookbehind', re: '(?<=a)b', subject: 'ab', want: ['b'] },
  { what: 'non-participating group', re: '^(a)|(b)', subject: 'b', want: ['b', undefined, 'b'] },
  { what: 'literal { that is not a quantifier', re: '^a{,2}', subject: 'a{,2}', want: ['a{,2}'] },
  { what: 'counted quantifier', re: '^a{2,3}$', subject: 'aaa', want: ['aaa'] },
];

t.test('translation table', async (t) => {
  for (const row of ROWS) {
    const c = compilePcre(row.re, { i: row.flags?.includes('i'), s: row.flags?.includes('s') });
    const m = c.regex.exec(row.subject);
    if (row.want === null) {
      t.equal(m, null, `${row.what}: /${row.re}/ must not match ${JSON.stringify(row.subject)}`);
      continue;
    }
    t.ok(m, `${row.what}: /${row.re}/ must match ${JSON.stringify(row.subject)}`);
    if (!m) continue;
    const groups = row.want.map((_, n) => m[c.groupMap[n]!]);
    t.same(groups, row.want, `${row.what}: groups`);
  }
});

t.test('constructs JavaScript cannot express are reported with a reason', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['(a(?R)?b)', /recursion/],
    ['(a)(?1)', /recursion/],
    ['(?(1)a|b)', /conditional/],
    ['(?|(a)|(b))', /branch reset/],
    ['ab\\Kc', /\\K/],
    ['\\p{L}', /Unicode/],
    ['(*UTF8)abc', /verb/],
    ['a(?U)b', /inline option/],
    ['(a', /missing \)/],
    ['a)', /unmatched/],
    ['[abc', /missing \]/],
    ['*a', /nothing to repeat/],
    ['(?i:(a)\\1)x', /back-reference inside a scoped caseless region/],
    ['\\9', /group 9/],
  ];
  for (const [re, why] of bad) {
    t.throws(() => translatePcre(re), PcreTranslationError, `/${re}/ is refused`);
    try {
      translatePcre(re);
    } catch (e) {
      t.match((e as Error).message, why, `/${re}/: ${(e as Error).message}`);
    }
  }
});

t.test('a back-reference under a global i flag uses the JS i flag', async (t) => {
  const c = compilePcre('^(a)\\1', { i: true });
  t.equal(c.regex.flags, 'i');
  t.ok(c.regex.exec('aA'));
});

t.test('fuzz: random patterns either translate to a RegExp or throw PcreTranslationError', async (t) => {
  const alphabet = ['a', 'b', '.', '*', '+', '?', '(', ')', '[', ']', '^', '$', '\\', '{', '}', '|', ',', '1', '2', 'x', 'Q', 'E', ':', '-', '<', '>', '=', '!', '#', 'i', 'P', 'd', 's', 'Z', 'z'];
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let ok = 0, refused = 0;
  for (let k = 0; k < 5000; k++) {
    let s = '';
    const len = 1 + rnd(12);
    for (let j = 0; j < len; j++) s += alphabet[rnd(alphabet.length)];
    try {
      const c = compilePcre(s, { i: rnd(2) === 1, s: rnd(2) === 1 });
      c.regex.exec('ab1.x\n');
      ok++;
    } catch (e) {
      if (!(e instanceof PcreTranslationError)) t.fail(`/${s}/ threw ${String(e)}`);
      refused++;
    }
  }
  t.ok(ok > 0 && refused > 0, `${ok} translated, ${refused} refused`);
});
