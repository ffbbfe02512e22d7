/**
 * --script selection as nmap does it: a comma-separated list whose items are script names,
 * categories, file paths, directories, globs ("http-*") or boolean expressions over those
 * ("default or safe", "not intrusive", "(http-* or ssl-*) and not brute"), read against the
 * installed script.db. "+name" forces a script to run whatever its rule says.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UserInputError } from '../records/index.js';

export interface ScriptDbEntry {
  /** Script id: file name without ".nse". */
  id: string;
  path: string;
  categories: string[];
}

export interface SelectedScript {
  id: string;
  path: string;
  /** "+" prefix: run even when the rule says no. */
  forced: boolean;
  /** Chosen by its name, path or a name glob (not a category): nmap then gives it verbosity + 1. */
  byName: boolean;
}

/** Entries of DIR/script.db (`Entry { filename = "x.nse", categories = { "a", "b", } }`). */
export function readScriptDb(scriptDir: string): ScriptDbEntry[] {
  const file = join(scriptDir, 'script.db');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserInputError(`cannot read ${file}: ${(e as Error).message} (install nmap-common or pass --datadir)`);
  }
  const out: ScriptDbEntry[] = [];
  const re = /Entry\s*\{\s*filename\s*=\s*"([^"]+)"\s*,\s*categories\s*=\s*\{([^}]*)\}\s*,?\s*\}/g;
  for (const m of text.matchAll(re)) {
    const cats = [...m[2]!.matchAll(/"([^"]*)"/g)].map((c) => c[1]!.toLowerCase());
    out.push({ id: m[1]!.replace(/\.nse$/, ''), path: join(scriptDir, m[1]!), categories: cats });
  }
  return out;
}

function globRegex(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`, 'i');
}

type Expr =
  | { op: 'or' | 'and'; a: Expr; b: Expr }
  | { op: 'not'; a: Expr }
  | { op: 'word'; w: string };

/** Parses "a or b and not (c)" — precedence not > and > or, as nmap's grammar. */
function parseExpr(src: string): Expr {
  const tokens = src.match(/\(|\)|[^\s()]+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i]?.toLowerCase();
  const fail = (why: string): never => {
    throw new UserInputError(`--script "${src}": ${why}`);
  };
  const primary = (): Expr => {
    const t = tokens[i++];
    if (t === undefined) return fail('expression ends too early');
    if (t === '(') {
      const e = orExpr();
      if (tokens[i++] !== ')') fail('missing ")"');
      return e;
    }
    if (t.toLowerCase() === 'not') return { op: 'not', a: primary() };
    if (t === ')' || ['and', 'or'].includes(t.toLowerCase())) fail(`unexpected "${t}"`);
    return { op: 'word', w: t };
  };
  const andExpr = (): Expr => {
    let e = primary();
    while (peek() === 'and') {
      i++;
      e = { op: 'and', a: e, b: primary() };
    }
    return e;
  };
  const orExpr = (): Expr => {
    let e = andExpr();
    while (peek() === 'or') {
      i++;
      e = { op: 'or', a: e, b: andExpr() };
    }
    return e;
  };
  const e = orExpr();
  if (i < tokens.length) fail(`unexpected "${tokens[i]}"`);
  return e;
}

function matches(e: Expr, s: ScriptDbEntry): boolean {
  switch (e.op) {
    case 'or': return matches(e.a, s) || matches(e.b, s);
    case 'and': return matches(e.a, s) && matches(e.b, s);
    case 'not': return !matches(e.a, s);
    case 'word': {
      const w = e.w.toLowerCase().replace(/\.nse$/, '');
      if (w === 'all') return true;
      if (s.categories.includes(w)) return true;
      return globRegex(w).test(s.id);
    }
  }
}

/** Splits on commas outside parentheses. */
function splitList(spec: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of spec) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

/** The scripts a --script value names, in script.db order (files and directories after). */
export function selectScripts(spec: string, scriptDir: string, db: ScriptDbEntry[] = readScriptDb(scriptDir)): SelectedScript[] {
  const chosen = new Map<string, SelectedScript>();
  const add = (id: string, path: string, forced: boolean, byName = false) => {
    const prev = chosen.get(id);
    // as nmap: the first item that selects a script decides whether it was chosen by name
    chosen.set(id, { id, path, forced: forced || prev?.forced === true, byName: prev ? prev.byName : byName });
  };
  for (let item of splitList(spec)) {
    const forced = item.startsWith('+');
    if (forced) item = item.slice(1).trim();
    const isExpr = /[()]/.test(item) || /\s(and|or)\s|^not\s/i.test(item);
    if (isExpr) {
      const e = parseExpr(item);
      for (const s of db) if (matches(e, s)) add(s.id, s.path, forced);
      continue;
    }
    const lower = item.toLowerCase();
    const byCategory = lower === 'all' ? db : db.filter((s) => s.categories.includes(lower));
    if (byCategory.length > 0) {
      for (const s of byCategory) add(s.id, s.path, forced);
      continue;
    }
    const name = item.replace(/\.nse$/, '');
    const entry = db.find((s) => s.id === name);
    if (entry) {
      add(entry.id, entry.path, forced, true);
      continue;
    }
    if (/[*?]/.test(item)) {
      const re = globRegex(name);
      const hits = db.filter((s) => re.test(s.id));
      if (hits.length === 0) throw new UserInputError(`--script "${item}": no script in ${scriptDir} matches`);
      for (const s of hits) add(s.id, s.path, forced, true);
      continue;
    }
    const asPath = resolve(item);
    const inDir = join(scriptDir, item.endsWith('.nse') ? item : `${item}.nse`);
    const path = existsSync(asPath) ? asPath : existsSync(inDir) ? inDir : undefined;
    if (!path) {
      throw new UserInputError(`--script "${item}": not a script, category, file or directory (scripts are read from ${scriptDir})`);
    }
    if (statSync(path).isDirectory()) {
      for (const f of readdirSync(path).filter((f) => f.endsWith('.nse')).sort()) add(f.replace(/\.nse$/, ''), join(path, f), forced);
    } else add(basename(path).replace(/\.nse$/, ''), path, forced, true);
  }
  return [...chosen.values()];
}

/**
 * --script-args: "a=1,b={x,y},c.d=\"q,r\"" into the table nmap.registry.args gets. Bare words
 * are array entries (flags). Values stay strings, as nmap's parser leaves them.
 */
export function parseScriptArgs(text: string): Record<string, unknown> & { [i: number]: unknown } {
  let i = 0;
  const src = text;
  const fail = (why: string): never => {
    throw new UserInputError(`--script-args: ${why} at character ${i + 1} of "${src}"`);
  };
  const ws = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const word = (): string => {
    ws();
    if (src[i] === '"' || src[i] === "'") {
      const q = src[i++];
      let out = '';
      while (i < src.length && src[i] !== q) {
        if (src[i] === '\\' && i + 1 < src.length) i++;
        out += src[i++];
      }
      if (src[i] !== q) fail('unterminated string');
      i++;
      return out;
    }
    const start = i;
    while (i < src.length && !/[,={}]/.test(src[i]!)) i++;
    return src.slice(start, i).trim();
  };
  const table = (closing: string | undefined): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    let n = 0;
    for (;;) {
      ws();
      if (i >= src.length) {
        if (closing) fail(`missing "${closing}"`);
        return out;
      }
      if (closing && src[i] === closing) {
        i++;
        return out;
      }
      let value: unknown;
      let key: string | undefined;
      if (src[i] === '{') {
        i++;
        value = table('}');
      } else {
        const w = word();
        ws();
        if (src[i] === '=') {
          i++;
          key = w;
          ws();
          if (src[i] === '{') {
            i++;
            value = table('}');
          } else value = word();
        } else value = w;
      }
      if (key !== undefined) out[key] = value;
      else if (value !== '') out[String(++n)] = value;
      ws();
      if (src[i] === ',') i++;
      else if (i < src.length && src[i] !== closing) fail('expected ","');
    }
  };
  return table(undefined) as Record<string, unknown>;
}
