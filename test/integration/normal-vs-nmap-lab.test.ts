// -oN layout against the real thing: nmap -sT and prtip -sT scan the same lab target; after
// the tool name and the measured numbers (latency, seconds, dates) are masked, the reports must
// be identical line for line — with and without --reason and --open.
import t from 'tap';
import { createLab, labSkipReason } from '../lab/lab.js';
import { PRTIP_BIN } from '../helpers/cli.js';

const skip = labSkipReason();
if (skip) {
  if (process.env.CI) t.fail(`the lab must run in CI, but: ${skip}`);
  else t.pass(`lab skipped: ${skip}`);
} else {
  const lab = await createLab({ daemons: ['nginx', 'sshd'], filteredTcpPorts: [9999, 139] });
  t.teardown(() => lab.teardown());

  /**
   * Masks what legitimately differs: tool name, version, times, latencies — and nmap's note that
   * --open implies its --defeat-rst-ratelimit (an nmap behaviour prtip does not have).
   */
  const normalise = (text: string) => text
    .split('\n')
    .filter((l) => !/^(Starting |# |Read data files|Nmap done|prtip done|Some closed ports may be reported as filtered due to --defeat-rst-ratelimit)/.test(l))
    .map((l) => l.replace(/^Nmap scan report/, 'prtip scan report').replace(/\(\d+(\.\d+)?s latency\)/, '(Xs latency)'))
    .join('\n');

  const cases: Array<[string, string[]]> = [
    ['closed collapsed, open and filtered listed', ['-p', '1-40,80,139,8080,9999']],
    ['--reason', ['--reason', '-p', '1-40,80,139,8080,9999']],
    ['--open', ['--open', '-p', '20-30,80,139,9999']],
    ['few ports, all listed', ['-p', '21-23,80,9999']],
  ];
  for (const [name, args] of cases) {
    t.test(name, async (t) => {
      const common = ['-sT', '-Pn', '-n', '--max-retries', '1', ...args, lab.targetV4];
      const nmap = await lab.exec(['nmap', ...common], { timeoutMs: 60_000 });
      const prtip = await lab.exec([process.execPath, PRTIP_BIN, 'scan', ...common.filter((a) => a !== '-n')], { timeoutMs: 60_000 });
      t.equal(nmap.code, 0, nmap.stderr);
      t.equal(prtip.code, 0, prtip.stderr);
      const n = normalise(nmap.stdout.toString());
      t.match(n, /PORT|ignored states/, 'nmap produced a report');
      t.equal(normalise(prtip.stdout.toString()), n, 'same report as nmap, line for line');
    });
  }
}
