/**
 * --script-help: what each selected script is, from its own file (categories from script.db,
 * the description block from the source), laid out as nmap prints it.
 */
import { readFileSync } from 'node:fs';
import type { ScriptDbEntry, SelectedScript } from './selection.js';

/** The text of `description = [[ ... ]]` (any level of long brackets) or a quoted string. */
export function scriptDescription(source: string): string {
  const long = /description\s*=\s*\[(=*)\[([\s\S]*?)\]\1\]/.exec(source);
  if (long) return long[2]!.replace(/^\n/, '').replace(/\s+$/, '');
  const quoted = /description\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(source);
  return quoted ? quoted[1]!.replace(/\\n/g, '\n') : '';
}

export function scriptHelp(selected: SelectedScript[], db: ScriptDbEntry[]): string {
  const out: string[] = [];
  for (const s of selected) {
    const cats = db.find((e) => e.id === s.id)?.categories ?? [];
    let desc = '';
    try {
      desc = scriptDescription(readFileSync(s.path, 'utf8'));
    } catch (e) {
      desc = `(cannot read ${s.path}: ${(e as Error).message})`;
    }
    out.push(`\n${s.id}`, `Categories: ${cats.join(' ')}`, `https://nmap.org/nsedoc/scripts/${s.id}.html`, ...desc.split('\n').map((l) => `  ${l}`));
  }
  return `${out.join('\n')}\n`;
}
