import { Command } from '@oclif/core';
import { UserInputError } from '../../../stages/records/index.js';
import { parseArgs, type CliOptions, type FlagGroup } from './flags.js';
import { finalExitCode, quietOnClosedStdout, reportError } from './io.js';

/**
 * A prtip command: parses nmap-style arguments with our own flag table (oclif's parser cannot
 * read -sT, -p-, -oN), runs, and turns errors into one-line messages and exit codes.
 */
export abstract class PrtipCommand extends Command {
  static override strict = false;

  /** Set by each command: its name, accepted flag groups, and whether bare words are targets. */
  protected abstract readonly commandName: string;
  protected abstract readonly groups: readonly FlagGroup[];
  protected readonly takesTargets: boolean = false;
  /** Flags of the accepted groups this command has no use for, with the reason (refused, never ignored). */
  protected readonly refused: Readonly<Record<string, string>> = {};

  protected abstract main(options: CliOptions): Promise<void>;

  async run(): Promise<void> {
    quietOnClosedStdout();
    try {
      const options = parseArgs(this.argv, this.groups, this.commandName, this.takesTargets, this.refused);
      await this.main(options);
    } catch (err) {
      process.exitCode = reportError(err);
    }
    process.exitCode = finalExitCode(process.exitCode);
  }

  /** The command line as recorded in the header. */
  protected commandLine(): string {
    return ['prtip', this.commandName, ...this.argv].join(' ');
  }
}

/** Commands build their help text from the flag table. */
export { helpText as commandHelp } from './flags.js';

/**
 * --open and --reason shape the report a middle stage prints on a terminal; when its stdout is a
 * pipe they would do nothing, so they are refused there with where they belong.
 */
export function refuseTerminalOnlyFlags(o: CliOptions, command: string): void {
  if (process.stdout.isTTY || !(o.openOnly || o.reason)) return;
  throw new UserInputError(
    `${o.openOnly ? '--open' : '--reason'} shapes the report prtip ${command} prints on a terminal; in a pipe give it to prtip format`,
  );
}
