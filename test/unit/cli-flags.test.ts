import t from 'tap';
import { parseArgs, helpText, FLAGS, type FlagGroup } from '../../packages/oclif-cli/lib/flags.js';
import { UserInputError } from '../../stages/records/index.js';

const ALL: FlagGroup[] = ['targets', 'ports', 'scan', 'evasion', 'discovery', 'version', 'os', 'script', 'probedb', 'timing', 'output', 'database', 'interaction', 'cluster', 'privilege', 'misc'];
const scan = (...argv: string[]) => parseArgs(argv, ALL, 'scan', true);

t.test('nmap spellings parse into options', async (t) => {
  const o = scan('-sT', '-p22,80', '-Pn', '-n', '-T4', '-oN', 'out.txt', '-oD', '-', '--exclude', '198.18.0.5',
    '--top-ports=10', '-iL', '-', '--max-rtt-timeout', '250ms', '--rate', '2k', '-vv', '198.18.0.0/24', 'host.lab');
  t.same(o.scanTypes, ['connect']);
  t.equal(o.ports, '22,80');
  t.equal(o.assumeUp, true);
  t.equal(o.timing, 4);
  t.same(o.outputs, [{ format: 'normal', path: 'out.txt' }, { format: 'jsonl', path: '-' }]);
  t.same(o.exclude, ['198.18.0.5']);
  t.equal(o.topPorts, 10);
  t.same(o.inputFiles, ['-']);
  t.equal(o.timeoutMs, 250);
  t.equal(o.maxRate, 2000);
  t.equal(o.verbose, 2);
  t.same(o.targets, ['198.18.0.0/24', 'host.lab']);
});

t.test('attached and separate values agree', async (t) => {
  t.equal(scan('-p-').ports, '-');
  t.equal(scan('-p', '-').ports, '-');
  t.equal(scan('-Tinsane').timing, 5);
  t.equal(scan('-T', '2').timing, 2);
  t.same(scan('-oNscan.txt').outputs, [{ format: 'normal', path: 'scan.txt' }]);
  t.equal(scan('--max-retries', '3').maxRetries, 3);
  t.equal(scan('-R', '-n').reverseDns, false, '-n after -R wins');
  t.equal(scan('-n', '-R').reverseDns, true);
  t.same(scan('--', '-weird-host').targets, ['-weird-host']);
});

t.test('-A is -O -sV -sC --traceroute; names flags', async (t) => {
  t.match(scan('-A'), { osDetect: true, versionDetect: true, traceroute: true, scripts: 'default' });
  t.equal(scan('-sC', '-A').scripts, 'default', '-sC and -A select the default scripts once');
  t.equal(scan('--script', 'banner', '-A').scripts, 'banner,default');
  t.same(scan('--dns-servers', '198.18.0.53,[2001:2::53]:5353').dnsServers, ['198.18.0.53', '[2001:2::53]:5353']);
  t.match(scan('-sL', '-n'), { listScan: true, noDns: true, reverseDns: false });
  t.equal(scan('-sL').noDns, undefined, '-sL resolves unless -n');
  t.equal(scan('-n', '-R').noDns, false);
});

t.test('bad flags and values: one clear message quoting the token', async (t) => {
  const bad: Array<[string[], RegExp]> = [
    [['-sR'], /-sR \(RPC scan\) is not available in this version/],
    [['--dns-servers', 'ns.example'], /bad DNS server "ns.example" for --dns-servers: expected an IPv4 or IPv6 address/],
    [['--dns-servers', ','], /--dns-servers needs at least one server address/],
    [['-PS22,x'], /-PS22,x: "x" is not a port or range/],
    [['--frobnicate'], /unknown option "--frobnicate" for prtip scan/],
    [['-Q'], /unknown option "-Q"/],
    [['-p'], /-p needs a value/],
    [['-T9'], /bad timing template "-T9"/],
    [['--max-retries', 'lots'], /bad number "lots" for --max-retries/],
    [['--max-retries', '99'], /bad number "99" for --max-retries: must be 0-50/],
    [['--max-rtt-timeout', '5 parsecs'], /bad time "5 parsecs" for --max-rtt-timeout/],
    [['--rate', '-5'], /bad rate "-5" for --rate/],
    [['--shard', '3/2'], /bad shard "3\/2"/],
    [['--shard', 'a/b'], /bad shard "a\/b"/],
    [['--top-ports', '0'], /bad number "0" for --top-ports/],
    [['--seed', 'x'], /bad number "x" for --seed/],
    [['-Pn=1'], /unknown option "-Pn=1"/],
    [['--open=yes'], /--open takes no value/],
    [['-'], /"-" is not a target/],
  ];
  for (const [argv, re] of bad) {
    const err = t.throws(() => scan(...argv), undefined, argv.join(' ')) as unknown as Error;
    t.type(err, UserInputError, `${argv.join(' ')}: a UserInputError`);
    t.match(err.message, re, argv.join(' '));
    t.notMatch(err.message, /\n/, 'one line');
  }
});

t.test('a command refuses flags of other commands and stray words', async (t) => {
  t.throws(() => parseArgs(['-oN', 'x'], ['scan', 'discovery', 'timing'], 'send', false), /unknown option "-oN" for prtip send/);
  t.throws(() => parseArgs(['198.18.0.1'], ['output'], 'format', false), /prtip format takes no arguments, got "198.18.0.1"/);
});

t.test('help lists every flag of the groups asked for', async (t) => {
  const text = helpText('prtip scan', 'Scans.', ALL, ['prtip scan x']);
  for (const f of FLAGS) t.match(text, f.names[0]!, `help mentions ${f.names[0]}`);
  t.match(text, /TIMING AND PERFORMANCE:/);
});
