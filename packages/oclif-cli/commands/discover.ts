import { formatRecords } from '../../../stages/format/index.js';
import { discoverRecords } from '../../../stages/discover/index.js';
import { UserInputError } from '../../../stages/records/index.js';
import { SCAN_TYPES } from '../../../stages/probes/index.js';
import { commandHelp, PrtipCommand, refuseTerminalOnlyFlags } from '../lib/base-command.js';
import type { CliOptions, FlagGroup } from '../lib/flags.js';
import { drain, interruptController, lossWatch, stdinRecords, warnLine, writeRecordsToStdout } from '../lib/io.js';
import { formatOptions } from '../lib/stage-options.js';
import { discoverOptions } from '../lib/discover-options.js';

const GROUPS: FlagGroup[] = ['discovery', 'scan', 'timing', 'output'];

const NOT_HERE = 'prtip discover sends ping probes only; the port scan is prtip send, after it in the pipe';
const REFUSED: Record<string, string> = {
  ...Object.fromEntries(SCAN_TYPES.map((m) => [m.flag, NOT_HERE])),
  '--scanflags': NOT_HERE,
  '--defeat-icmp-ratelimit': NOT_HERE,
  '-Pn': '-Pn skips discovery: leave prtip discover out of the pipe (prtip send -Pn reports every host up)',
  '-R': 'reverse DNS is not done by prtip discover',
  '--max-parallelism': 'raw discovery is paced by --max-rate; the unprivileged connect() ping keeps 256 in flight',
  '--min-rate': 'discovery is paced by --max-rate',
  '--max-scan-delay': 'discovery is paced by --max-rate',
  '--wait': 'discovery waits by --max-rtt-timeout',
  ...Object.fromEntries(['-oN', '-oX', '-oG', '-oA', '-oJ', '-oD', '-oJL', '-oC', '--csv'].map((f) => [f, 'output files are written by prtip format (or prtip scan): prtip targets … | prtip discover | prtip format -oN FILE'])),
};

export default class Discover extends PrtipCommand {
  static override summary = 'Find which hosts are up; pass on only the probes of live hosts';
  static override description = commandHelp(
    'prtip targets … | prtip discover [options] | prtip send … | prtip format …',
    'Host discovery, as nmap does it before a port scan. Reads probe batches on stdin, sends ping\n' +
      'probes to each new host, and writes a host record for every host (up or down, with nmap\'s\n' +
      'reason: echo-reply, syn-ack, reset, timestamp-reply, port-unreach, init-ack, abort,\n' +
      'proto-unreach, proto-response, arp-response, nd-response, localhost-response, no-response…, and the answer\'s latency), followed by the probe batches of\n' +
      'live hosts only; every other record passes through. With -sn no probe batch goes on (a ping\n' +
      'scan). On a terminal it prints a report.\n\n' +
      'DEFAULTS (nmap\'s): as root or with CAP_NET_RAW -PE -PS443 -PA80 -PP (IPv6: no -PP); hosts on\n' +
      'the local link by ARP/ND alone unless --disable-arp-ping; this machine\'s own addresses and\n' +
      'loopback are up (localhost-response) without a probe. Unprivileged: connect() to 80 and 443\n' +
      '(a refused connection proves the host up). Any -P option replaces the defaults. Timing: -T\'s\n' +
      'probe timeouts (1s at first for -T3, adapting to measured RTTs), 1 retry (--max-retries),\n' +
      'no rate limit (--max-rate). -PY sends SCTP INIT chunks (default port 80), -PO IP packets\n' +
      'of the given protocols (default 1,2,4), with the headers -sO sends.',
    GROUPS,
    [
      'prtip targets 198.18.0.0/16 -p 80 | prtip discover -sn | prtip format -oN -',
      'prtip targets 198.18.0.0/24 -p 1-1024 | prtip discover -PE -PS22,80 | prtip send -sS | prtip format -oX scan.xml',
      'prtip targets 198.18.0.0/24 -p 80 | prtip discover -PU53,161 --max-retries 2 | prtip format -oD hosts.jsonl',
    ],
    REFUSED,
  );

  protected readonly commandName = 'discover';
  protected readonly groups = GROUPS;
  protected override readonly refused = REFUSED;

  protected async main(o: CliOptions): Promise<void> {
    if (o.outputs.length > 0) {
      throw new UserInputError('output files are written by prtip format (or prtip scan): prtip targets … | prtip discover | prtip format -oN FILE');
    }
    refuseTerminalOnlyFlags(o, 'discover');
    const interrupt = interruptController();
    const opts = discoverOptions(o, [this.commandLine()], interrupt.signal, warnLine)!;
    const losses = lossWatch();
    const records = losses.wrap(discoverRecords(opts)(stdinRecords('discover')));
    if (process.stdout.isTTY) await drain(formatRecords(formatOptions(o, [{ format: 'normal', path: '-' }]))(records));
    else await writeRecordsToStdout(records);
    losses.settle();
  }
}
