import { Command } from '@oclif/core';
import { helpText, parseArgs, type CliOptions, type FlagGroup } from './flags.js';
import { quietOnClosedStdout, reportError } from './io.js';

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

  protected abstract main(options: CliOptions): Promise<void>;

  async run(): Promise<void> {
    quietOnClosedStdout();
    try {
      const options = parseArgs(this.argv, this.groups, this.commandName, this.takesTargets);
      await this.main(options);
    } catch (err) {
      process.exitCode = reportError(err);
    }
  }

  /** The command line as recorded in the header. */
  protected commandLine(): string {
    return ['prtip', this.commandName, ...this.argv].join(' ');
  }
}

export function commandHelp(usage: string, summary: string, groups: readonly FlagGroup[], examples: string[]): string {
  return helpText(usage, summary, groups, examples);
}
