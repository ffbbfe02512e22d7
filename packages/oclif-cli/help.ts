import { Command, Help } from '@oclif/core';

/**
 * Help that prints each command's own text (generated from the flag table) as written, and a
 * root page that says how the stages fit together.
 */
export default class PrtipHelp extends Help {
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    this.log(command.description ?? command.summary ?? '');
  }

  protected override async showRootHelp(): Promise<void> {
    const commands = this.sortedCommands.filter((c) => !c.hidden);
    const width = Math.max(...commands.map((c) => c.id.length));
    const lines = [
      `prtip ${this.config.version}: a network scanner with masscan's speed, nmap's depth and SQL over results.`,
      '',
      'USAGE',
      '  prtip [scan] [options] TARGET...          a whole scan in one process (nmap-style options)',
      '  prtip targets … | prtip send … | prtip format …   the same stages as a Unix pipe',
      '',
      'COMMANDS',
      ...commands.map((c) => `  ${c.id.replace(/:/g, ' ').padEnd(width)}  ${c.summary ?? ''}`),
      '',
      'Run prtip COMMAND --help for its options.',
    ];
    this.log(lines.join('\n'));
  }
}
