import { spawnSync } from 'node:child_process';
import { runScan } from '../../../pipelines/scan.js';
import { commandHelp, PrtipCommand } from '../lib/base-command.js';
import { emptyOptions, type CliOptions } from '../lib/flags.js';
import {
  buildLoopbackLab, buildNamespaceLab, canBuildNamespaces, DEMO_FILTERED_PORT, DEMO_OPEN_PORTS,
} from '../lib/demo-lab.js';
import { interruptController } from '../lib/io.js';
import { formatOptions, sendOptions, targetsOptions } from '../lib/stage-options.js';

export default class Demo extends PrtipCommand {
  static override summary = 'Scan a target built just for the demo, and show the results';
  static override description = commandHelp(
    'prtip demo',
    'As root: builds two network namespaces joined by a veth (nothing can leave the machine),\n' +
      'runs listeners and a filtered port on the target side, scans it with prtip scan, prints\n' +
      'the report and tears the lab down. Without root: connect-scans listeners it starts on\n' +
      '127.0.0.1. Takes no options.',
    [],
    ['sudo prtip demo', 'prtip demo'],
  );

  protected readonly commandName = 'demo';
  protected readonly groups = [];

  protected async main(_o: CliOptions): Promise<void> {
    if (canBuildNamespaces()) await this.namespaceDemo();
    else await this.loopbackDemo();
  }

  private async namespaceDemo(): Promise<void> {
    const ports = [...new Set([21, 23, 25, ...DEMO_OPEN_PORTS, DEMO_FILTERED_PORT])].sort((a, b) => a - b).join(',');
    process.stdout.write(
      `prtip demo: lab built in two network namespaces; target ${'198.18.0.2'} has listeners on ` +
        `${DEMO_OPEN_PORTS.join(', ')} and a firewall dropping ${DEMO_FILTERED_PORT}.\n` +
        `Running: prtip scan -sT -Pn --reason -p ${ports} 198.18.0.2\n\n`,
    );
    const lab = await buildNamespaceLab();
    try {
      const bin = process.argv[1]!; // the prtip entry point that is running now
      const r = spawnSync(
        'ip',
        ['netns', 'exec', lab.scannerNs, process.execPath, bin, 'scan', '-sT', '-Pn', '--reason', '--max-rtt-timeout', '500ms', '-p', ports, lab.target],
        { stdio: 'inherit', timeout: 60_000 },
      );
      if (r.status !== 0) process.exitCode = r.status ?? 1;
    } finally {
      lab.teardown();
    }
    process.stdout.write('\nprtip demo: lab torn down.\n');
  }

  private async loopbackDemo(): Promise<void> {
    const lab = await buildLoopbackLab();
    const ports = [...lab.open, ...lab.closed].join(',');
    process.stdout.write(
      `prtip demo (not root: loopback only): listeners on 127.0.0.1 ports ${lab.open.join(', ')}; ` +
        `${lab.closed.join(', ')} closed.\nRunning: prtip scan -sT --reason -p ${ports} 127.0.0.1\n\n`,
    );
    try {
      const o: CliOptions = { ...emptyOptions(), targets: ['127.0.0.1'], ports, sequential: true, reason: true, scanTypes: ['connect'] };
      const interrupt = interruptController();
      const args = [`prtip scan -sT --reason -p ${ports} 127.0.0.1`];
      await runScan({
        targets: targetsOptions(o, args, interrupt.signal),
        send: sendOptions(o, [], interrupt.signal, (m) => process.stderr.write(`prtip: warning: ${m}\n`)),
        format: formatOptions(o, [{ format: 'normal', path: '-' }]),
      });
    } finally {
      lab.close();
    }
  }
}
