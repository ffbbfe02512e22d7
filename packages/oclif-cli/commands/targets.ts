import { batchAddress, type AnyRecord, type ProbeBatch, type ScanHeader } from '../../../stages/records/index.js';
import { PROTO_BY_NUMBER } from '../../../stages/records/index.js';
import { targetRecords } from '../../../stages/targets/index.js';
import { commandHelp, PrtipCommand } from '../lib/base-command.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';
import { interruptController, writeRecordsToStdout, writeText } from '../lib/io.js';
import { targetsOptions } from '../lib/stage-options.js';

const GROUPS: FlagGroup[] = ['targets', 'ports', 'misc'];

/** On a terminal: one line per probe, like `ls` shows names. */
async function* probeLines(records: AsyncIterable<AnyRecord>): AsyncGenerator<string> {
  for await (const rec of records) {
    if (rec.type === 'scan') {
      const plan = (rec as ScanHeader).plan;
      if (plan) yield `# ${plan.hosts} hosts x ${plan.portsPerHost} ports = ${plan.shardProbes} probes (seed ${plan.seed})\n`;
    } else if (rec.type === 'probes') {
      const b = rec as ProbeBatch;
      let text = '';
      for (let i = 0; i < b.count; i++) {
        const port = (b.ports[i * 2]! << 8) | b.ports[i * 2 + 1]!;
        text += `${batchAddress(b, i)} ${port}/${PROTO_BY_NUMBER[b.protos[i]!] ?? b.protos[i]}\n`;
      }
      yield text;
    }
  }
}

export default class Targets extends PrtipCommand {
  static override summary = 'Expand targets and ports into probe batches (the first stage of a scan)';
  static override description = commandHelp(
    'prtip targets [options] TARGET... | prtip send …',
    'Expands nmap-style target and port specifications into a seeded random permutation of\n' +
      'probes, streamed as packed probe batches (msgpack). On a terminal it lists the probes.',
    GROUPS,
    ['prtip targets 198.18.0.0/24 -p 22,80,443 | prtip send -sT | prtip format', 'prtip targets -iL hosts.txt --top-ports 100 --shard 1/4 --seed 7 > shard1.rec'],
  );

  protected readonly commandName = 'targets';
  protected readonly groups = GROUPS;
  protected override readonly takesTargets = true;

  protected async main(o: CliOptions): Promise<void> {
    const interrupt = interruptController();
    const records = targetRecords(targetsOptions(o, [this.commandLine()], interrupt.signal));
    if (process.stdout.isTTY) await writeText(probeLines(records));
    else await writeRecordsToStdout(records);
  }
}
