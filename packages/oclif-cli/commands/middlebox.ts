import { formatRecords } from '../../../stages/format/index.js';
import { middleboxRecords } from '../../../stages/middlebox/index.js';
import { UserInputError } from '../../../stages/records/index.js';
import { parseInteger } from '../lib/nmap-values.js';
import { drain, interruptController, stdinRecords, writeRecordsToStdout } from '../lib/io.js';
import { emptyOptions } from '../lib/flags.js';
import { formatOptions } from '../lib/stage-options.js';
import { parseSimple, SimpleCommand } from '../lib/simple-command.js';

export default class Middlebox extends SimpleCommand {
  static override summary = 'Mark open ports that a SYN proxy, tarpit or answer-everything balancer answered (prtip scan runs it after send)';
  static override description = [
    'USAGE: prtip middlebox [--checks N]',
    '',
    'Reads port records on stdin and writes them on, open TCP ports with a confidence (0-10) and,',
    'for hosts that answer SYN-ACK on (nearly) every port, a network/broadcast address, or with a',
    'fingerprint already judged proxied, the verdict of full-handshake checks: connect, wait briefly',
    'for a banner, send "GET / HTTP/1.0", wait briefly for an answer. Ports that send a byte keep',
    'confidence 10; the others are marked proxied. Open records of a host wait (bounded) until the',
    'host is judged. --checks N: most checks in all (default 128; 0: judge by fingerprint only).',
    'Checks connect from this machine: run it where the scan ran (same routes, same rules).',
    '',
    'EXAMPLES:',
    '  prtip targets 198.18.0.0/24 -p 1-1024 | prtip send -sS | prtip middlebox | prtip format --open',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'middlebox', [], ['--checks']);
    if (a.positional.length > 0) throw new UserInputError(`prtip middlebox reads records on stdin and takes no argument, got "${a.positional[0]}"`);
    const checks = a.values.has('--checks') ? parseInteger('--checks', a.values.get('--checks')!, 0, 1e7) : undefined;
    const interrupt = interruptController();
    const marked = middleboxRecords({ checksTotal: checks, signal: interrupt.signal, args: [['prtip', 'middlebox', ...argv].join(' ')] })(stdinRecords('middlebox'));
    if (process.stdout.isTTY) await drain(formatRecords(formatOptions(emptyOptions(), [{ format: 'normal', path: '-' }]))(marked));
    else await writeRecordsToStdout(marked);
  }
}
