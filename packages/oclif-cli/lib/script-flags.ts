import { UserInputError } from '../../../stages/records/index.js';
import type { CliOptions } from './flags.js';

/** The script options that mean nothing without scripts (here, not in commands/script, so `scan` need not load the Lua engine). */
export function refuseScriptFlagsWithoutScripts(o: CliOptions): void {
  if (o.scripts !== undefined) return;
  const given = [
    o.scriptArgs !== undefined && '--script-args', o.scriptArgsFile !== undefined && '--script-args-file',
    o.scriptTimeoutMs !== undefined && '--script-timeout', o.debugging > 0 && '-d', o.scriptTrace === true && '--script-trace',
  ].filter(Boolean);
  if (given.length) throw new UserInputError(`${given.join(', ')} set how scripts run: add -sC or --script SPEC`);
}
