import { Command } from '@oclif/core';
import { UserInputError } from '../../../stages/records/index.js';
import { finalExitCode, quietOnClosedStdout, reportError } from './io.js';

export interface SimpleArgs {
  positional: string[];
  switches: Set<string>;
  values: Map<string, string>;
}

/**
 * Commands that are not scan stages (sql, db …) take a few positional words and --switches;
 * anything else is refused with the token quoted.
 */
export function parseSimple(argv: string[], command: string, switches: string[], valued: string[]): SimpleArgs {
  const out: SimpleArgs = { positional: [], switches: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!tok.startsWith('--') || tok === '-') {
      out.positional.push(tok);
      continue;
    }
    const [name, inline] = tok.includes('=') ? [tok.slice(0, tok.indexOf('=')), tok.slice(tok.indexOf('=') + 1)] : [tok, undefined];
    if (switches.includes(name)) {
      if (inline !== undefined) throw new UserInputError(`${name} takes no value, got "${tok}"`);
      out.switches.add(name);
    } else if (valued.includes(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UserInputError(`${name} needs a value; see prtip ${command} --help`);
      out.values.set(name, v);
    } else {
      throw new UserInputError(`unknown option "${tok}" for prtip ${command}; see prtip ${command} --help`);
    }
  }
  return out;
}

export abstract class SimpleCommand extends Command {
  static override strict = false;
  protected abstract main(argv: string[]): Promise<void>;

  async run(): Promise<void> {
    quietOnClosedStdout();
    try {
      await this.main(this.argv);
    } catch (err) {
      process.exitCode = reportError(err);
    }
    process.exitCode = finalExitCode(process.exitCode);
  }
}

/** A result as an aligned text table, as psql/duckdb print them. */
export function textTable(columns: string[], rows: unknown[][]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v))
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const body = rows.map((r) => r.map(cell));
  // A loop, not Math.max(...spread): a 400k-row result would overflow the call stack.
  const widths = columns.map((c, i) => {
    let w = c.length;
    for (const r of body) if (r[i]!.length > w) w = r[i]!.length;
    return Math.min(80, w);
  });
  const fit = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  const line = (cells: string[]) => cells.map((c, i) => fit(c, widths[i]!)).join(' | ').trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)];
  out.push(`(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`);
  return `${out.join('\n')}\n`;
}
