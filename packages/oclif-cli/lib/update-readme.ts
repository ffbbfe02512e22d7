/** `npm run readme:flags`: rewrites the README's flag table from the CLI's flag table. */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { markdownFlagTable } from './flags.js';

const START = '<!-- flags:start -->';
const END = '<!-- flags:end -->';

export function withFlagTable(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} … ${END} section`);
  return `${readme.slice(0, a + START.length)}\n${markdownFlagTable()}\n${readme.slice(b)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = new URL('../../../../README.md', import.meta.url);
  fs.writeFileSync(file, withFlagTable(fs.readFileSync(file, 'utf8')));
}
