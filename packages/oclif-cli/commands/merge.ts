import fs from 'node:fs';
import { formatRecords } from '../../../stages/format/index.js';
import { mergeRecords } from '../../../stages/merge/index.js';
import { decodeRecords, UserInputError, type AnyRecord } from '../../../stages/records/index.js';
import { parseInteger } from '../lib/nmap-values.js';
import { drain, interruptController, stdinRecords, writeRecordsToStdout } from '../lib/io.js';
import { emptyOptions } from '../lib/flags.js';
import { formatOptions } from '../lib/stage-options.js';
import { parseSimple, SimpleCommand } from '../lib/simple-command.js';

export default class Merge extends SimpleCommand {
  static override summary = 'Join record streams (retries, shards, sources) into one view per host and port';
  static override description = [
    'USAGE: prtip merge [FILE...] [--memory N]',
    '',
    'Reads record streams (the FILEs one after another, or stdin) and writes one stream with one',
    'record per (ip, port, proto) by the precedence open > closed > unfiltered > closed|filtered >',
    '> open|filtered > filtered (ties: the later observation), one host record per host (up wins),',
    'grouped per host in address order. At most --memory N records (default 250000) are held in',
    'memory; beyond that sorted runs are spilled to a temporary directory and merged at the end.',
    '',
    'EXAMPLES:',
    '  prtip targets 198.18.0.0/16 -p 80 --seed 7 --shard 1/2 | prtip send -sT > s1.rec   (and 2/2 > s2.rec)',
    '  prtip merge s1.rec s2.rec | prtip format -oX all.xml',
    '',
  ].join('\n');

  protected async main(argv: string[]): Promise<void> {
    const a = parseSimple(argv, 'merge', [], ['--memory']);
    const memory = a.values.has('--memory') ? parseInteger('--memory', a.values.get('--memory')!, 1, 1e9) : undefined;
    for (const f of a.positional) {
      try {
        fs.accessSync(f, fs.constants.R_OK);
      } catch (err) {
        throw new UserInputError(`cannot read "${f}": ${(err as Error).message}`);
      }
    }
    interruptController(false);
    const input = a.positional.length
      ? (async function* (): AsyncGenerator<AnyRecord> {
          for (const f of a.positional) yield* decodeRecords(fs.createReadStream(f) as AsyncIterable<Buffer>, f, { complete: true });
        })()
      : stdinRecords('merge');
    const merged = mergeRecords({ memoryRecords: memory })(input);
    if (process.stdout.isTTY) await drain(formatRecords(formatOptions(emptyOptions(), [{ format: 'normal', path: '-' }]))(merged));
    else await writeRecordsToStdout(merged);
  }
}
