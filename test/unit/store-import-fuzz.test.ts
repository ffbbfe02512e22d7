// Seeded fuzz of the importers: mangled Nmap XML and masscan JSON are either read or refused
// with a UserInputError — never another exception, never a hang.
import t from 'tap';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserInputError } from '../../stages/records/index.js';
import { parseMasscanJson, parseNmapXml } from '../../stages/store/index.js';

const fixture = (f: string) => fs.readFileSync(fileURLToPath(new URL(`../fixtures/store/${f}`, import.meta.url)), 'utf8');

function rng(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const PIECES = ['<', '>', '"', "'", '&', '&#0;', '&#x110000;', '&bogus;', ']]>', '<![CDATA[', '<!--', '/>', '</host>', '<port portid="x">', '\u0000', '\ud800', '{', '}', '[', ']', ',', ':', 'null', '"ports":', '1e999', '-1', '65536'];

function mutate(text: string, rand: () => number): string {
  let s = text;
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * (s.length + 1));
    const op = rand();
    if (op < 0.33) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 20));
    else if (op < 0.66) s = s.slice(0, at) + PIECES[Math.floor(rand() * PIECES.length)] + s.slice(at);
    else s = s.slice(0, at);
  }
  return s;
}

for (const [name, file, parse] of [
  ['Nmap XML', 'nmap-old.xml', parseNmapXml],
  ['masscan JSON', 'masscan-new.json', parseMasscanJson],
  ['masscan lines', 'masscan-lines.ndjson', parseMasscanJson],
] as const) {
  t.test(`${name}: 2000 mutations read or refused cleanly`, async (t) => {
    const text = fixture(file);
    const rand = rng(0xfeed + file.length);
    let read = 0;
    let refused = 0;
    const other: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const input = mutate(text, rand);
      try {
        const r = parse(input, 'fuzz', 'id');
        for (const rec of r.records) {
          if (rec.type === 'port') {
            const p = rec as { port: number; ip: string };
            if (!(Number.isInteger(p.port) && p.port >= 0 && p.port <= 65535 && typeof p.ip === 'string' && p.ip)) other.push(`bad port record from: ${input.slice(0, 80)}`);
          }
        }
        read++;
      } catch (err) {
        if (err instanceof UserInputError) refused++;
        else other.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
    }
    t.same(other.slice(0, 5), [], 'no other exception, no invalid record');
    t.ok(read > 0 && refused > 0, `both outcomes seen (read ${read}, refused ${refused})`);
  });
}
