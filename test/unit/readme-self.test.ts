// The README is for users of this repository alone: it describes the architecture itself and
// points to nothing outside the repository.
import t from 'tap';
import fs from 'node:fs';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('no pointer outside the repository', async (t) => {
  t.notMatch(readme, /\.\.\/shared|DESIGN\.md/, 'no ../shared/DESIGN.md');
  for (const m of readme.matchAll(/\]\((\.\.\/[^)]*)\)/g)) t.fail(`link leaves the repository: ${m[1]}`);
});

t.test('an Architecture section describes stages, records, the hot path and the lab', async (t) => {
  const section = /## Architecture\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  for (const word of ['stage', 'record', 'msgpack', 'probe batches', 'native', 'DuckDB', 'namespaces']) t.match(section, word, `mentions ${word}`);
});
