// The README stays true: its flag table is the one the CLI accepts.
import t from 'tap';
import fs from 'node:fs';
import { markdownFlagTable } from '../../packages/oclif-cli/lib/flags.js';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('README flag table equals the CLI flag table', async (t) => {
  const start = readme.indexOf('<!-- flags:start -->');
  const end = readme.indexOf('<!-- flags:end -->');
  t.ok(start >= 0 && end > start, 'README has the flag table markers');
  t.equal(readme.slice(start + '<!-- flags:start -->'.length, end).trim(), markdownFlagTable(),
    'regenerate with: npm run readme:flags');
});

t.test('README starts with the two commands', async (t) => {
  const firstLines = readme.split('\n').slice(0, 6).join('\n');
  t.match(firstLines, /^ {4}npm run setup && npx prtip demo\b/m);
  t.match(firstLines, /^ {4}npm test\b/m);
  t.match(readme, /npm ci && npm run build/, 'the manual way is still documented');
});
