// prtip's own probe text (the built-in set and the hand-written test fixtures) is written here,
// in nmap-service-probes' format so one parser reads both — but it must not be Nmap's text.
// This test fails if a match or softmatch line of the installed file is copied in verbatim.
import t from 'tap';
import fs from 'node:fs';
import { BUILTIN_PROBES_TEXT } from '../../stages/detect/index.js';

const installed = '/usr/share/nmap/nmap-service-probes';
const matchLines = (text: string) =>
  text.split('\n').map((l) => l.trim()).filter((l) => /^(match|softmatch) \S+ [mq]/.test(l));

t.test('no match line of the built-in set or the fixtures is a copy of an installed Nmap line', async (t) => {
  if (!fs.existsSync(installed)) {
    if (process.env.CI) t.fail(`${installed} must be installed in CI (package nmap-common)`);
    else t.pass(`no ${installed} here to compare with`);
    return;
  }
  const nmap = new Set(matchLines(fs.readFileSync(installed, 'latin1')));
  t.ok(nmap.size > 10_000, `the installed file has its match lines (${nmap.size})`);
  const sources: Record<string, string> = {
    'stages/detect/builtin-probes.ts': BUILTIN_PROBES_TEXT,
    'test/unit/detect-probes.test.ts': fs.readFileSync(new URL('./detect-probes.test.ts', import.meta.url), 'utf8'),
    'test/unit/detect-engine.test.ts': fs.readFileSync(new URL('./detect-engine.test.ts', import.meta.url), 'utf8'),
  };
  for (const [name, text] of Object.entries(sources)) {
    const ours = matchLines(text);
    t.ok(ours.length > 0, `${name} has match lines of its own (${ours.length})`);
    t.same(ours.filter((l) => nmap.has(l)), [], `${name}: none copied from Nmap`);
  }
});
