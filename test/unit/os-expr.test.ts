// nmap-os-db expressions: every form of the grammar, read the way nmap 7.93 reads them (the
// installed nmap) and the way 7.95+ does (databases with nested brackets). Expected results are
// worked out by hand from the rules in stages/datafiles/os-expr.ts's header.
import t from 'tap';
import { compileOsExpr, hasNestedExpr, parseOsExpr } from '../../stages/datafiles/os-expr.js';

const m793 = (expr: string, value: string) => compileOsExpr(expr, 'nmap-7.93')(value);
const m795 = (expr: string, value: string, nested = true) => compileOsExpr(expr, 'nmap-7.95', nested)(value);

t.test('7.93: ranges, alternatives, comparisons', async (t) => {
  t.equal(m793('3B-45', '40'), true, 'inside a hex range');
  t.equal(m793('3B-45', '3B'), true, 'low end included');
  t.equal(m793('3B-45', '45'), true, 'high end included');
  t.equal(m793('3B-45', '3A'), false);
  t.equal(m793('3B-45', '46'), false);
  t.equal(m793('8|A', 'A'), true, 'second alternative');
  t.equal(m793('8|A', '9'), false);
  t.equal(m793('>10', '11'), true, '> is strict, hex');
  t.equal(m793('>10', '10'), false);
  t.equal(m793('<10', 'F'), true);
  t.equal(m793('<10', '10'), false);
  t.equal(m793('1-6|>1000000', '4'), true);
  t.equal(m793('1-6|>1000000', '1000001'), true);
  t.equal(m793('1-6|>1000000', '7'), false);
  t.equal(m793('FA-104|3B-45', 'FF'), true, 'ranges on both sides of |');
  t.equal(m793('Y', 'Y'), true);
  t.equal(m793('Y', 'N'), false);
  t.equal(m793('M5B4NW7', 'M5B4NW7S'), false, 'the last alternative must match exactly');
});

t.test('7.93: empty values and empty alternatives', async (t) => {
  t.equal(m793('', ''), true, 'empty matches empty');
  t.equal(m793('', '0'), false);
  t.equal(m793('', 'M5B4'), false);
  t.equal(m793('M5B4', ''), false, 'an option string does not match an empty one');
  t.equal(m793('|U', ''), true);
  t.equal(m793('|U', 'U'), true);
  t.equal(m793('|U', 'R'), true, 'quirk: an empty alternative before | is a prefix of every value');
  t.equal(m793('<5', ''), true, 'quirk: the empty value is numeric 0 for nmap 7.93');
});

t.test('7.93: its quirks, kept so accuracies equal the installed nmap', async (t) => {
  t.equal(m793('40|50-60', '40'), false, "the '-' of a later alternative makes '40' a broken range");
  t.equal(m793('50-60|40', '40'), true, 'after the last range, 40 is compared as text');
  t.equal(m793('M5B4|M5B4ST11', 'M5B4NW7'), true, 'an alternative before | matches as a prefix');
  t.equal(m793('A|A+', 'A+'), true, 'prefix again: A is a prefix of A+');
  t.equal(m793('<5', 'Z'), false, 'a non-numeric value compares < and > as text');
  t.equal(m793('S+', 'S+'), true);
});

t.test('7.95: the later semantics', async (t) => {
  t.equal(m795('', ''), true);
  t.equal(m795('', '0'), false);
  t.equal(m795('|U', ''), true);
  t.equal(m795('|U', 'U'), true);
  t.equal(m795('|U', 'R'), false, 'an empty alternative matches only the empty value');
  t.equal(m795('40|50-60', '40'), true, 'alternatives are independent');
  t.equal(m795('3B-45', '0040'), true, 'leading zeros ignored');
  t.equal(m795('40', '040'), true);
  t.equal(m795('M5B4|M5B4ST11', 'M5B4NW7'), false, 'literals match exactly');
  t.equal(m795('>FF', '100'), true, 'numeric comparison by length then digits');
  t.equal(m795('<FF', '100'), false);
  t.equal(m795('M[>500]ST11W[1-5]', 'M5B4ST11W2'), true, 'nested: MSS 0x5B4 > 0x500, WS 2 in 1-5');
  t.equal(m795('M[>500]ST11W[1-5]', 'M400ST11W2'), false, 'MSS 0x400 is not > 0x500');
  t.equal(m795('M[>500]ST11W[1-5]', 'M5B4ST11W7'), false, 'WS 7 outside 1-5');
  t.equal(m795('M[>500]ST11W[1-5]', 'M5B4ST11W2N'), false, 'the rest must match exactly');
  t.equal(m795('M[5B4|218]NW7|M109', 'M218NW7'), true, 'alternatives inside brackets');
  t.equal(m795('M[5B4|218]NW7|M109', 'M109'), true, 'and after them');
  t.equal(m795('M[>500]S', 'M5B4S', false), false, 'brackets only apply to option strings');
});

t.test('parseOsExpr: the forms and the errors', async (t) => {
  t.same(parseOsExpr('3B-45|>1000|<5||S+'), [
    { kind: 'range', lo: '3B', hi: '45' }, { kind: 'gt', hex: '1000' }, { kind: 'lt', hex: '5' }, { kind: 'empty' }, { kind: 'literal', text: 'S+' },
  ]);
  t.same(parseOsExpr(''), [{ kind: 'empty' }]);
  t.same(parseOsExpr('M[>500]ST11W[1-5|7]'), [{
    kind: 'nested',
    parts: ['M', [{ kind: 'gt', hex: '500' }], 'ST11W', [{ kind: 'range', lo: '1', hi: '5' }, { kind: 'literal', text: '7' }]],
  }]);
  t.throws(() => parseOsExpr('45-3B'), /reversed/);
  t.throws(() => parseOsExpr('3B-'), /hex-hex/);
  t.throws(() => parseOsExpr('>'), /hex number/);
  t.throws(() => parseOsExpr('>G'), /hex number/);
  t.throws(() => parseOsExpr('M[>500'), /unclosed/);
  t.throws(() => parseOsExpr('M>500]'), /without/);
  t.throws(() => parseOsExpr('M[]'), /empty brackets/);
  t.equal(hasNestedExpr('M[>500]'), true);
  t.equal(hasNestedExpr('M5B4'), false);
});
