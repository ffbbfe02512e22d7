/**
 * Every command-line option prtip accepts, in nmap's spelling, in one table. Commands pick the
 * groups they accept; help text is generated from the same table, so it cannot drift.
 */
import net from 'node:net';
import { UserInputError } from '../../../stages/records/index.js';
import {
  dataOfLength, parseDecoys, parseHexData, parseIpOptions, parseMtu, parseScanFlags, PLANNED_SCAN_TYPES, SCAN_TYPES, MAX_DATA_LENGTH,
} from '../../../stages/probes/index.js';
import type { OutputRequest } from '../../../stages/format/index.js';
import { parseInteger, parseRate, parseShard, parseTime, parseTimingTemplate } from './nmap-values.js';
import { DEFAULT_SCTP_PING_PORT, DEFAULT_TCP_PING_PORT, DEFAULT_UDP_PING_PORT, noPingProbes, parsePingPorts, parsePingProtocols, type PingProbes } from '../../../stages/discover/ping-spec.js';
import { parseDnsServer } from '../../../stages/dns/index.js';

export interface CliOptions {
  targets: string[];
  inputFiles: string[];
  exclude: string[];
  excludeFiles: string[];
  ports?: string;
  fast: boolean;
  topPorts?: number;
  family?: 4 | 6;
  seed?: number;
  batchSize?: number;
  shard?: { index: number; count: number };
  sequential: boolean;
  /** --min-hostgroup / --max-hostgroup, hosts. */
  minHostgroup?: number;
  maxHostgroup?: number;
  datadir?: string;
  /** --unprivileged-user: who a scan started as root continues as (default nobody). */
  unprivilegedUser?: string;
  scanTypes: string[];
  /** Arguments of scan-type flags that take one, by scan type name (idle: the -sI zombie). */
  scanArgs: Record<string, string>;
  assumeUp: boolean;
  reverseDns: boolean;
  /** -PE -PP -PM -PS… -PA… -PU… -PR: the discovery probes asked for (none: nmap's defaults). */
  ping: PingProbes;
  /** -sn: discovery only, no port scan. */
  pingOnly: boolean;
  /** --disable-arp-ping */
  disableArpPing: boolean;
  /** --discovery-ignore-rst */
  discoveryIgnoreRst: boolean;
  /** -n given last (so -sL, which resolves by default, does not). */
  noDns?: boolean;
  /** --dns-servers (each checked), --system-dns. */
  dnsServers?: string[];
  systemDns?: boolean;
  /** -sL: list the targets (names unless -n), send nothing to them. */
  listScan?: boolean;
  /** --traceroute (also -A). */
  traceroute?: boolean;
  timing?: number;
  maxRetries?: number;
  maxParallelism?: number;
  timeoutMs?: number;
  /** --initial-rtt-timeout / --min-rtt-timeout (--max-rtt-timeout is timeoutMs), ms. */
  initialRttMs?: number;
  minRttMs?: number;
  /** --scan-delay, --host-timeout (ms), --min-parallelism. */
  scanDelayMs?: number;
  hostTimeoutMs?: number;
  minParallelism?: number;
  /** --defeat-rst-ratelimit: RSTs that a rate limit drops do not slow the scan or earn retries. */
  defeatRstRateLimit?: boolean;
  maxRate?: number;
  minRate?: number;
  waitMs?: number;
  iface?: string;
  sourceAddress?: string;
  sourcePort?: number;
  /** Raw scans: --scanflags (TCP flags byte). */
  scanFlags?: number;
  ttl?: number;
  badsum: boolean;
  /** -f / -ff / --mtu: L4 bytes per IPv4 fragment. */
  fragment?: number;
  decoys?: string[];
  /** --spoof-mac as given (resolved with the data directory's vendor list). */
  spoofMac?: string;
  ipOptions?: Uint8Array;
  /** --data / --data-string / --data-length, and which of them gave it. */
  payload?: { bytes: Uint8Array; flag: string };
  defeatIcmpRateLimit: boolean;
  maxScanDelayMs?: number;
  /** --send-eth (the raw engine's only way; refused with -sT). */
  sendEth?: boolean;
  outputs: OutputRequest[];
  openOnly: boolean;
  /** --show-proxied */
  showProxied?: boolean;
  reason: boolean;
  verbose: number;
  /** --packet-trace (the p/P keys switch it while a scan runs). */
  packetTrace?: boolean;
  /** -sV */
  versionDetect: boolean;
  /** --version-intensity / --version-light / --version-all */
  versionIntensity?: number;
  /** prtip detect --check-db */
  checkDb: boolean;
  /** -O, --osscan-limit, --osscan-guess/--fuzzy, --max-os-tries */
  osDetect?: boolean;
  osscanLimit?: boolean;
  osscanGuess?: boolean;
  maxOsTries?: number;
  db?: string;
  resume?: string;
  /** prtip cluster / worker: --redis URL, --shards N, --concurrency K, --results DIR, --stall-timeout, --partial */
  redis?: string;
  shards?: number;
  concurrency?: number;
  results?: string;
  stallMs?: number;
  partial: boolean;
  /** --stats-every: nmap-style status lines this often (ms). */
  statsEveryMs?: number;
  /** --tui: the full-screen dashboard. */
  tui: boolean;
  /** --script / -sC ("default"), joined with "," when given more than once. */
  scripts?: string;
  scriptArgs?: string;
  scriptArgsFile?: string;
  /** --script-help: describe the selected scripts and exit. */
  scriptHelp?: string;
  scriptTimeoutMs?: number;
  /** --script-trace: scripts' socket traffic on stderr. */
  scriptTrace?: boolean;
  /** -d: debugging level (scripts' stdnse.debug output). */
  debugging: number;
}

export function emptyOptions(): CliOptions {
  return {
    targets: [], inputFiles: [], exclude: [], excludeFiles: [], fast: false, sequential: false,
    scanTypes: [], scanArgs: {}, assumeUp: false, reverseDns: false, ping: noPingProbes(), pingOnly: false, disableArpPing: false, discoveryIgnoreRst: false, outputs: [], openOnly: false, reason: false, verbose: 0, badsum: false, defeatIcmpRateLimit: false,
    versionDetect: false, checkDb: false, partial: false, tui: false, debugging: 0,
  };
}

export type FlagGroup = 'targets' | 'ports' | 'scan' | 'evasion' | 'discovery' | 'version' | 'os' | 'script' | 'probedb' | 'timing' | 'output' | 'database' | 'interaction' | 'cluster' | 'privilege' | 'misc';

export const GROUP_TITLES: Record<FlagGroup, string> = {
  targets: 'TARGET SPECIFICATION',
  ports: 'PORT SPECIFICATION AND SCAN ORDER',
  scan: 'SCAN TECHNIQUES',
  evasion: 'FIREWALL/IDS EVASION AND SPOOFING',
  discovery: 'HOST DISCOVERY AND NAMES',
  version: 'SERVICE/VERSION DETECTION',
  os: 'OS DETECTION',
  script: 'SCRIPT SCAN (NSE)',
  probedb: 'PROBE DATABASE',
  timing: 'TIMING AND PERFORMANCE',
  output: 'OUTPUT',
  database: 'DATABASE (DuckDB)',
  cluster: 'CLUSTER (BullMQ on Redis)',
  interaction: 'RUNTIME INTERACTION',
  privilege: 'PRIVILEGES',
  misc: 'MISC',
};

export interface FlagSpec {
  /** Spellings, e.g. ['-p'] or ['--max-rate', '--rate']. */
  names: string[];
  /** Placeholder of the value in help; absent for switches. */
  value?: string;
  /** An optional value that only comes attached to the flag, nmap's -PS22,80 (placeholder for help). */
  attached?: string;
  group: FlagGroup;
  help: string;
  apply(o: CliOptions, value: string, name: string): void;
}

const TIMEOUT_MAX_MS = 3_600_000;

function parseInterface(v: string): string {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(v)) throw new UserInputError(`bad interface name "${v}" for -e`);
  return v;
}

function parseAddress(flag: string, v: string): string {
  if (net.isIP(v) === 0) throw new UserInputError(`bad address "${v}" for ${flag}: expected an IPv4 or IPv6 address`);
  return v;
}

export const FLAGS: FlagSpec[] = [
  // targets
  { names: ['-iL'], value: 'FILE', group: 'targets', help: 'read targets from FILE ("-" = stdin)', apply: (o, v) => o.inputFiles.push(v) },
  { names: ['--exclude'], value: 'SPECS', group: 'targets', help: 'exclude hosts/networks (comma-separated)', apply: (o, v) => o.exclude.push(v) },
  { names: ['--excludefile'], value: 'FILE', group: 'targets', help: 'exclude the targets listed in FILE', apply: (o, v) => o.excludeFiles.push(v) },
  { names: ['-4'], group: 'targets', help: 'IPv4 only: hostnames resolve to IPv4 (the default)', apply: (o) => { o.family = 4; } },
  { names: ['-6'], group: 'targets', help: 'IPv6: hostnames resolve to IPv6; IPv4 targets are refused', apply: (o) => { o.family = 6; } },
  // ports and order
  { names: ['-p'], value: 'PORTS', group: 'ports', help: 'ports: 22; 1-65535; -p- (all); U:53,T:21-25,80; http,ssh; [1-1024]', apply: (o, v) => { o.ports = v; } },
  { names: ['-F'], group: 'ports', help: 'fast: the 100 most common ports', apply: (o) => { o.fast = true; } },
  { names: ['--top-ports'], value: 'N', group: 'ports', help: 'the N most common ports (nmap-services frequencies)', apply: (o, v, n) => { o.topPorts = parseInteger(n, v, 1, 65535); } },
  { names: ['-r'], group: 'ports', help: 'probe in sequential order instead of a random permutation', apply: (o) => { o.sequential = true; } },
  { names: ['--max-hostgroup'], value: 'N', group: 'ports', help: 'scan hosts in groups of N (address order): a group\'s discovery and port probes all finish before the next group\'s start (default: one group)', apply: (o, v, n) => { o.maxHostgroup = parseInteger(n, v, 1, 1 << 24); } },
  { names: ['--min-hostgroup'], value: 'N', group: 'ports', help: 'groups of at least N hosts; alone: groups of N (prtip\'s own group is every host, so only a given size cuts it)', apply: (o, v, n) => { o.minHostgroup = parseInteger(n, v, 1, 1 << 24); } },
  { names: ['--seed'], value: 'N', group: 'ports', help: 'seed of the random order (reproducible scans and shards)', apply: (o, v, n) => { o.seed = parseInteger(n, v, 0, 0xffffffff); } },
  { names: ['--batch-size'], value: 'N', group: 'ports', help: 'probes per batch record (default 8192); --resume restarts at batch granularity', apply: (o, v, n) => { o.batchSize = parseInteger(n, v, 1, 1 << 20); } },
  { names: ['--shard'], value: 'I/N', group: 'ports', help: 'scan only shard I of N (disjoint slices; use the same --seed on every shard)', apply: (o, v) => { o.shard = parseShard(v); } },
  { names: ['--datadir'], value: 'DIR', group: 'misc', help: 'where nmap data files live (default /usr/share/nmap)', apply: (o, v) => { o.datadir = v; } },
  { names: ['--unprivileged-user'], value: 'USER', group: 'privilege', help: 'started as root: open raw sockets, outputs and --db first, then continue as USER (default nobody)', apply: (o, v) => { o.unprivilegedUser = v; } },
  // scan techniques
  // one flag per scan type, from the probe-module registry (stages/probes/registry.ts)
  ...SCAN_TYPES.map((m): FlagSpec => ({
    names: [m.flag], ...(m.value ? { value: m.value } : {}), group: 'scan', help: m.help,
    apply: (o, v) => { if (!o.scanTypes.includes(m.name)) o.scanTypes.push(m.name); if (m.value) o.scanArgs[m.name] = v; },
  })),
  { names: ['--scanflags'], value: 'FLAGS', group: 'scan', help: 'raw TCP scans: send these flags (URGACKPSHRSTSYNFINECECWR, ALL, NONE or a number); the scan type still reads the replies', apply: (o, v) => { o.scanFlags = parseScanFlags(v); } },
  { names: ['-e'], value: 'IFACE', group: 'scan', help: 'raw scans: send and capture on IFACE (default: from the routing table)', apply: (o, v) => { o.iface = parseInterface(v); } },
  { names: ['-S'], value: 'ADDR', group: 'scan', help: 'raw scans: source address of the probes (default: from the routing table)', apply: (o, v) => { o.sourceAddress = parseAddress('-S', v); } },
  { names: ['-g', '--source-port'], value: 'PORT', group: 'scan', help: 'raw scans: fixed source port (default: random per scan)', apply: (o, v, n) => { o.sourcePort = parseInteger(n, v, 1, 65535); } },
  { names: ['--defeat-icmp-ratelimit'], group: 'scan', help: 'UDP: do not slow down for ICMP rate limits; unanswered ports are closed|filtered', apply: (o) => { o.defeatIcmpRateLimit = true; } },
  // packet options (evasion)
  { names: ['--ttl'], value: '0-255', group: 'evasion', help: 'raw scans: IPv4 TTL / IPv6 hop limit of the probes', apply: (o, v, n) => { o.ttl = parseInteger(n, v, 0, 255); } },
  { names: ['--send-eth'], group: 'evasion', help: 'raw scans: send Ethernet frames (what the raw engine always does; accepted for nmap command lines)', apply: (o) => { o.sendEth = true; } },
  { names: ['--badsum'], group: 'evasion', help: 'raw scans: a wrong TCP/UDP checksum (hosts drop such probes; a middlebox answering them gives itself away)', apply: (o) => { o.badsum = true; } },
  { names: ['-f'], group: 'evasion', help: 'raw scans, IPv4: split probes into 8-byte fragments (-ff: 16)', apply: (o) => { o.fragment = (o.fragment ?? 0) + 8; } },
  { names: ['-ff'], group: 'evasion', help: 'raw scans, IPv4: 16-byte fragments', apply: (o) => { o.fragment = 16; } },
  { names: ['--mtu'], value: 'N', group: 'evasion', help: 'raw scans, IPv4: fragments of N bytes (a multiple of 8)', apply: (o, v) => { o.fragment = parseMtu(v); } },
  { names: ['-D'], value: 'DECOYS', group: 'evasion', help: 'raw scans: send each probe also from decoys (addr,ME,RND:5), in that order', apply: (o, v) => { o.decoys = parseDecoys(v); } },
  { names: ['--spoof-mac'], value: 'MAC', group: 'evasion', help: 'raw scans: source MAC (0 = random, a vendor name or prefix from nmap-mac-prefixes, or a MAC)', apply: (o, v) => { o.spoofMac = v; } },
  { names: ['--ip-options'], value: 'OPTS', group: 'evasion', help: 'raw scans, IPv4: IP options (R, T, U, "L addr…", "S addr…" or hex \x07\x04…)', apply: (o, v) => { o.ipOptions = parseIpOptions(v); } },
  { names: ['--data'], value: 'HEX', group: 'evasion', help: 'raw scans: payload of every probe, in hex (0xdeadbeef)', apply: (o, v, n) => { o.payload = { bytes: parseHexData(v, n), flag: n }; } },
  { names: ['--data-string'], value: 'TEXT', group: 'evasion', help: 'raw scans: payload of every probe, as text', apply: (o, v, n) => { o.payload = { bytes: stringData(v, n), flag: n }; } },
  { names: ['--data-length'], value: 'N', group: 'evasion', help: `raw scans: N random payload bytes in every probe (0-${MAX_DATA_LENGTH})`, apply: (o, v, n) => { o.payload = { bytes: dataOfLength(parseInteger(n, v, 0, MAX_DATA_LENGTH)), flag: n }; } },
  // discovery and names
  { names: ['-Pn'], group: 'discovery', help: 'skip host discovery: every host up (reason user-set); as root, hosts on the local link still need an ARP/ND answer (as nmap; not with --disable-arp-ping)', apply: (o) => { o.assumeUp = true; } },
  { names: ['-sn'], group: 'discovery', help: 'ping scan: host discovery only, no port scan ("Host is up (0.0012s latency).")', apply: (o) => { o.pingOnly = true; } },
  { names: ['-PE'], group: 'discovery', help: 'discovery: ICMP echo request (ICMPv6 echo on IPv6)', apply: (o) => { o.ping.echo = true; } },
  { names: ['-PP'], group: 'discovery', help: 'discovery: ICMP timestamp request (IPv4)', apply: (o) => { o.ping.timestamp = true; } },
  { names: ['-PM'], group: 'discovery', help: 'discovery: ICMP address-mask request (IPv4)', apply: (o) => { o.ping.mask = true; } },
  { names: ['-PS'], attached: 'PORTS', group: 'discovery', help: 'discovery: TCP SYN to PORTS (attached: -PS22,80,1000-1010; default 80); SYN-ACK or RST = up', apply: (o, v, n) => { o.ping.syn.push(...parsePingPorts(n, v, DEFAULT_TCP_PING_PORT)); } },
  { names: ['-PA'], attached: 'PORTS', group: 'discovery', help: 'discovery: TCP ACK to PORTS (default 80); a RST = up', apply: (o, v, n) => { o.ping.ack.push(...parsePingPorts(n, v, DEFAULT_TCP_PING_PORT)); } },
  { names: ['-PU'], attached: 'PORTS', group: 'discovery', help: 'discovery: UDP to PORTS (default 40125); a UDP answer or port unreachable = up', apply: (o, v, n) => { o.ping.udp.push(...parsePingPorts(n, v, DEFAULT_UDP_PING_PORT)); } },
  { names: ['-PY'], attached: 'PORTS', group: 'discovery', help: 'discovery: SCTP INIT to PORTS (default 80); INIT-ACK or ABORT = up', apply: (o, v, n) => { o.ping.sctp.push(...parsePingPorts(n, v, DEFAULT_SCTP_PING_PORT)); } },
  { names: ['-PO'], attached: 'PROTOS', group: 'discovery', help: 'discovery: IP packets of PROTOS (default 1,2,4: ICMP, IGMP, IP-in-IP); any answer in the protocol or protocol unreachable = up', apply: (o, v, n) => { o.ping.ipProto.push(...parsePingProtocols(n, v)); } },
  { names: ['-PR'], group: 'discovery', help: 'discovery: ARP (IPv4) / ND (IPv6) on the local link (always used there unless --disable-arp-ping)', apply: (o) => { o.ping.arp = true; } },
  { names: ['--disable-arp-ping'], group: 'discovery', help: 'discovery: no ARP/ND on the local link; its hosts get the ping probes too', apply: (o) => { o.disableArpPing = true; } },
  { names: ['--discovery-ignore-rst'], group: 'discovery', help: 'discovery: a TCP RST does not prove a host up (firewalls that forge them)', apply: (o) => { o.discoveryIgnoreRst = true; } },
  { names: ['-n'], group: 'discovery', help: 'never do reverse DNS (the default, except with -sL; overrides an earlier -R)', apply: (o) => { o.reverseDns = false; o.noDns = true; } },
  { names: ['-R'], group: 'discovery', help: 'reverse-resolve hosts that are up, in parallel (resolv.conf\'s servers, /etc/hosts first)', apply: (o) => { o.reverseDns = true; o.noDns = false; } },
  { names: ['--dns-servers'], value: 'SERVER[,…]', group: 'discovery', help: 'DNS servers for -R, -sL, traceroute hops and target names (addr or addr:port; default: resolv.conf\'s)', apply: (o, v, n) => { o.dnsServers = parseDnsServers(n, v); } },
  { names: ['--system-dns'], group: 'discovery', help: 'reverse names from the system resolver (getnameinfo), a few at a time', apply: (o) => { o.systemDns = true; } },
  { names: ['-A'], group: 'os', help: 'aggressive: -O -sV -sC --traceroute (as nmap; root)', apply: (o) => { o.osDetect = true; o.versionDetect = true; o.traceroute = true; if (!(o.scripts ?? '').split(',').includes('default')) o.scripts = o.scripts ? `${o.scripts},default` : 'default'; } },
  { names: ['--traceroute'], group: 'discovery', help: 'trace the hops to each up host with probes of the scan\'s type after the scan (root, IPv4)', apply: (o) => { o.traceroute = true; } },
  { names: ['-sL'], group: 'discovery', help: 'list scan: list the targets with their reverse names (unless -n); nothing is sent to them', apply: (o) => { o.listScan = true; } },
  // service/version detection
  { names: ['-sV'], group: 'version', help: 'probe open ports for service/version (nmap-service-probes, or the built-in set)', apply: (o) => { o.versionDetect = true; } },
  { names: ['--version-intensity'], value: '0-9', group: 'version', help: 'probes tried: rarity up to this (default 7); port-listed probes always', apply: (o, v, n) => { o.versionIntensity = parseInteger(n, v, 0, 9); } },
  { names: ['-O'], group: 'os', help: "OS detection: nmap's 16 IPv4 probes matched against DATADIR/nmap-os-db; IPv6: nmap's IPv6 probes and print, no IPv6 database (root)", apply: (o) => { o.osDetect = true; } },
  { names: ['--osscan-limit'], group: 'os', help: 'OS-scan only hosts with an open and a closed TCP port', apply: (o) => { o.osscanLimit = true; } },
  { names: ['--osscan-guess', '--fuzzy'], group: 'os', help: 'print aggressive OS guesses when there is no perfect match', apply: (o) => { o.osscanGuess = true; } },
  { names: ['--max-os-tries'], value: 'N', group: 'os', help: 'OS probe rounds per host until a perfect match (1-50, default 5)', apply: (o, v, n) => { o.maxOsTries = parseInteger(n, v, 1, 50); } },
  { names: ['--version-light'], group: 'version', help: 'alias for --version-intensity 2', apply: (o) => { o.versionIntensity = 2; } },
  { names: ['--version-all'], group: 'version', help: 'alias for --version-intensity 9 (every probe)', apply: (o) => { o.versionIntensity = 9; } },
  { names: ['--check-db'], group: 'probedb', help: 'load the probe database, report what cannot be used (counts and reasons), exit', apply: (o) => { o.checkDb = true; } },
  // scripts (NSE)
  { names: ['-sC'], group: 'script', help: 'run the default scripts (--script default)', apply: (o) => { o.scripts = o.scripts ? `${o.scripts},default` : 'default'; } },
  { names: ['--script'], value: 'SPEC', group: 'script', help: 'scripts by name, category, file, directory, glob or expression ("default or safe", "not intrusive")', apply: (o, v) => { o.scripts = o.scripts ? `${o.scripts},${v}` : v; } },
  { names: ['--script-args'], value: 'ARGS', group: 'script', help: 'arguments for scripts: n1=v1,n2={v2,v3},flag', apply: (o, v) => { o.scriptArgs = o.scriptArgs ? `${o.scriptArgs},${v}` : v; } },
  { names: ['--script-args-file'], value: 'FILE', group: 'script', help: 'more script arguments, read from FILE', apply: (o, v) => { o.scriptArgsFile = v; } },
  { names: ['--script-help'], value: 'SPEC', group: 'script', help: 'describe the scripts SPEC selects, and exit', apply: (o, v) => { o.scriptHelp = v; } },
  { names: ['--script-timeout'], value: 'TIME', group: 'script', help: 'longest time one script may spend on one target (default 10m)', apply: (o, v, n) => { o.scriptTimeoutMs = Math.max(1, parseTime(n, v)); } },
  { names: ['--script-trace'], group: 'script', help: 'show every byte scripts send and receive, on stderr', apply: (o) => { o.scriptTrace = true; } },
  { names: ['-d'], group: 'script', help: 'debugging: scripts\' debug output and failures on stderr (-dd more)', apply: (o) => { o.debugging++; } },
  // timing
  { names: ['-T'], value: '0-5', group: 'timing', help: 'timing template: 0 paranoid … 3 normal … 5 insane', apply: (o, v) => { o.timing = parseTimingTemplate(v); } },
  { names: ['--max-retries'], value: 'N', group: 'timing', help: 'most retransmissions of a probe (fewer while the path loses nothing)', apply: (o, v, n) => { o.maxRetries = parseInteger(n, v, 0, 50); } },
  { names: ['--min-rtt-timeout'], value: 'TIME', group: 'timing', help: 'least time an attempt waits, however fast answers come', apply: (o, v, n) => { o.minRttMs = rttTimeout(n, v); } },
  { names: ['--initial-rtt-timeout'], value: 'TIME', group: 'timing', help: 'how long attempts wait before RTTs are measured', apply: (o, v, n) => { o.initialRttMs = rttTimeout(n, v); } },
  { names: ['--max-rtt-timeout'], value: 'TIME', group: 'timing', help: 'most time an attempt waits (500ms, 2s)', apply: (o, v, n) => { o.timeoutMs = rttTimeout(n, v); } },
  { names: ['--host-timeout'], value: 'TIME', group: 'timing', help: 'give up a host not finished after TIME: no ports reported, host marked timed out (0: never)', apply: (o, v, n) => { const ms = parseTime(n, v); o.hostTimeoutMs = ms > 0 ? Math.min(TIMEOUT_MAX_MS, ms) : undefined; } },
  { names: ['--scan-delay'], value: 'TIME', group: 'timing', help: 'least time between two probes (every scan type)', apply: (o, v, n) => { o.scanDelayMs = Math.min(TIMEOUT_MAX_MS, parseTime(n, v)); } },
  { names: ['--max-scan-delay'], value: 'TIME', group: 'timing', help: 'most the delay between probes may grow for a host that rate-limits answers (default 1s)', apply: (o, v, n) => { o.maxScanDelayMs = Math.max(1, Math.min(TIMEOUT_MAX_MS, parseTime(n, v))); } },
  { names: ['--min-parallelism'], value: 'N', group: 'timing', help: 'probes awaiting answers the congestion window never goes below', apply: (o, v, n) => { o.minParallelism = parseInteger(n, v, 1, 65535); } },
  { names: ['--max-parallelism'], value: 'N', group: 'timing', help: 'most probes awaiting answers at once (connects in flight for -sT)', apply: (o, v, n) => { o.maxParallelism = parseInteger(n, v, 1, 65535); } },
  { names: ['--max-rate', '--rate'], value: 'PPS', group: 'timing', help: 'ceiling on the pace congestion control chooses, probes/s (1000, 200k)', apply: (o, v, n) => { o.maxRate = parseRate(n, v); } },
  { names: ['--min-rate'], value: 'PPS', group: 'timing', help: 'floor on the pace: send at least this fast whatever the path answers', apply: (o, v, n) => { o.minRate = parseRate(n, v); } },
  { names: ['--defeat-rst-ratelimit'], group: 'timing', help: 'raw TCP: RSTs lost to a rate limit neither slow the scan nor earn retries (closed ports may show filtered)', apply: (o) => { o.defeatRstRateLimit = true; } },
  { names: ['--wait'], value: 'TIME', group: 'timing', help: 'raw scans: cooldown for replies after a probe\'s last attempt (1, 500ms)', apply: (o, v, n) => { o.waitMs = Math.min(TIMEOUT_MAX_MS, parseTime(n, v)); } },
  // output
  { names: ['-oN'], value: 'FILE', group: 'output', help: 'normal (nmap-style) output to FILE ("-" = stdout)', apply: (o, v) => o.outputs.push({ format: 'normal', path: v }) },
  { names: ['-oX'], value: 'FILE', group: 'output', help: 'Nmap XML (valid against nmap.dtd; ndiff reads it)', apply: (o, v) => o.outputs.push({ format: 'xml', path: v }) },
  { names: ['-oG'], value: 'FILE', group: 'output', help: 'grepable output, one line per host', apply: (o, v) => o.outputs.push({ format: 'grepable', path: v }) },
  { names: ['-oA'], value: 'BASE', group: 'output', help: 'BASE.nmap, BASE.xml and BASE.gnmap at once', apply: (o, v) => {
    if (v === '-') throw new UserInputError('-oA takes a file name base, not "-"');
    o.outputs.push({ format: 'normal', path: `${v}.nmap` }, { format: 'xml', path: `${v}.xml` }, { format: 'grepable', path: `${v}.gnmap` });
  } },
  { names: ['-oJ'], value: 'FILE', group: 'output', help: 'one JSON document: scan, hosts with ports, runstats', apply: (o, v) => o.outputs.push({ format: 'json', path: v }) },
  { names: ['-oD', '-oJL'], value: 'FILE', group: 'output', help: 'JSON Lines: one object per record ("-" = stdout)', apply: (o, v) => o.outputs.push({ format: 'jsonl', path: v }) },
  { names: ['-oC', '--csv'], value: 'FILE', group: 'output', help: 'CSV: one row per port with its service', apply: (o, v) => o.outputs.push({ format: 'csv', path: v }) },
  { names: ['--db'], value: 'FILE', group: 'database', help: 'append the scan to a DuckDB database (checkpointed; see prtip sql)', apply: (o, v) => { o.db = v; } },
  { names: ['--resume'], value: 'FILE', group: 'database', help: 'continue the unfinished scan stored in FILE (by --db)', apply: (o, v) => { o.resume = v; } },
  // cluster (prtip cluster …, prtip worker)
  { names: ['--redis'], value: 'URL', group: 'cluster', help: 'the cluster\'s Redis: redis://host:port[/db] or unix:///path/to/socket', apply: (o, v) => { o.redis = v; } },
  { names: ['--shards'], value: 'N', group: 'cluster', help: 'cluster submit: split the scan into N shard jobs (--shard i/N, one seed)', apply: (o, v, n) => { o.shards = parseInteger(n, v, 1, 100_000); } },
  { names: ['--concurrency'], value: 'K', group: 'cluster', help: 'worker: shard jobs run at once (default 1)', apply: (o, v, n) => { o.concurrency = parseInteger(n, v, 1, 64); } },
  { names: ['--results'], value: 'DIR', group: 'cluster', help: 'worker: where shards keep checkpoints and Parquet (a dir or file:// URL shared by the workers)', apply: (o, v) => { o.results = v; } },
  { names: ['--stall-timeout'], value: 'TIME', group: 'cluster', help: 'worker: a dead worker\'s shard is taken over after this long (default 30s)', apply: (o, v, n) => { o.stallMs = Math.max(1000, Math.min(TIMEOUT_MAX_MS, parseTime(n, v))); } },
  { names: ['--partial'], group: 'cluster', help: 'cluster collect: union the shards that are done even if others are not', apply: (o) => { o.partial = true; } },
  { names: ['--open'], group: 'output', help: 'show only open ports', apply: (o) => { o.openOnly = true; } },
  { names: ['--show-proxied'], group: 'output', help: 'list ports marked proxied (a SYN proxy, tarpit or answer-everything balancer answered for them) with --open too, and never fold them into a "Not shown" line', apply: (o) => { o.showProxied = true; } },
  { names: ['--reason'], group: 'output', help: 'show why each port is in its state', apply: (o) => { o.reason = true; } },
  { names: ['--packet-trace'], group: 'scan', help: 'print every probe sent and reply received (SENT/RCVD; -sT: CONN), as nmap; keys p/P switch it; slows large scans', apply: (o) => { o.packetTrace = true; } },
  { names: ['--stats-every'], value: 'TIME', group: 'interaction', help: 'status lines this often (default 10s with -v when stderr is no terminal; a terminal gets a live line; keys v V d D p P Enter ?)', apply: (o, v, n) => { o.statsEveryMs = Math.max(100, Math.min(TIMEOUT_MAX_MS, parseTime(n, v))); } },
  { names: ['--tui'], group: 'interaction', help: 'full-screen dashboard on stderr (q stops cleanly); the status line when not a terminal or too small', apply: (o) => { o.tui = true; } },
  { names: ['-v'], group: 'output', help: 'verbose: open ports on stderr as found; down hosts in reports', apply: (o) => { o.verbose++; } },
];

/** --dns-servers: a comma-separated list of addresses (addr:port, [v6]:port). */
function parseDnsServers(flag: string, v: string): string[] {
  const list = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new UserInputError(`${flag} needs at least one server address`);
  for (const s of list) {
    if (!parseDnsServer(s)) throw new UserInputError(`bad DNS server "${s}" for ${flag}: expected an IPv4 or IPv6 address, optionally :port`);
  }
  return list;
}

/** --data-string: the text's bytes (UTF-8), bounded like the other payloads. */
function stringData(v: string, flag: string): Uint8Array {
  const b = new Uint8Array(Buffer.from(v, 'utf8'));
  if (b.length > MAX_DATA_LENGTH) throw new UserInputError(`${flag}: at most ${MAX_DATA_LENGTH} bytes`);
  return b;
}

/** nmap options prtip does not do yet: refused with a clear word instead of "unknown". */
const NOT_YET: Record<string, string> = {
  ...Object.fromEntries(PLANNED_SCAN_TYPES.map((p) => [p.flag, p.title])),
  '-oS': 'script kiddie output',
  '--send-ip': 'sending through raw IP sockets (the raw engine sends Ethernet frames: --send-eth)',
  '-sR': 'RPC scan',
};

export interface ParseResult {
  options: CliOptions;
}

const byName = new Map<string, FlagSpec>();
for (const f of FLAGS) for (const n of f.names) byName.set(n, f);

function notYet(token: string): UserInputError | undefined {
  const key = Object.keys(NOT_YET).find((k) => token === k || (token.startsWith(k) && /^-P[YO]/.test(k)));
  if (!key) return undefined;
  return new UserInputError(`${token} (${NOT_YET[key]}) is not available in this version of prtip; prtip scan --help lists what is`);
}

/** --min/initial/max-rtt-timeout: refused, not clamped, outside 1 ms … TIMEOUT_MAX_MS (0 would wait for nothing). */
function rttTimeout(flag: string, raw: string): number {
  const ms = parseTime(flag, raw);
  if (ms < 1 || ms > TIMEOUT_MAX_MS) {
    throw new UserInputError(`${flag} "${raw}": an attempt must wait 1ms-${TIMEOUT_MAX_MS / 1000}s`);
  }
  return ms;
}

/**
 * Parses nmap-style arguments: `-p 22` and `-p22`, `-T4`, `-sT`, `-oN FILE`, `--opt VALUE`,
 * `--opt=VALUE`, bare words as targets. Only flags of `groups` are accepted; anything else is a
 * UserInputError quoting the token.
 */
export function parseArgs(
  argv: string[],
  groups: readonly FlagGroup[],
  command: string,
  allowTargets: boolean,
  /** Flags of the accepted groups this command has no use for, with the reason it says. */
  refused: Readonly<Record<string, string>> = {},
): CliOptions {
  const o = emptyOptions();
  const allowed = (f: FlagSpec) => groups.includes(f.group);
  const take = (i: number, name: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new UserInputError(`${name} needs a value; see prtip ${command} --help`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      for (const rest of argv.slice(i + 1)) addTarget(rest);
      break;
    }
    if (!tok.startsWith('-') || tok === '-') {
      addTarget(tok);
      continue;
    }
    let name = tok;
    let inline: string | undefined;
    if (tok.startsWith('--') && tok.includes('=')) {
      name = tok.slice(0, tok.indexOf('='));
      inline = tok.slice(tok.indexOf('=') + 1);
    }
    let spec = byName.get(name);
    if (!spec && !tok.startsWith('--')) {
      // Attached values: -p22, -p-, -T4, -oNfile. Longest spelling first (-oJL before -oD's -o…).
      const candidates = [...byName.keys()].filter((k) => !k.startsWith('--') && tok.startsWith(k) && (byName.get(k)!.value || byName.get(k)!.attached));
      candidates.sort((a, b) => b.length - a.length);
      if (candidates[0]) {
        name = candidates[0];
        spec = byName.get(name);
        inline = tok.slice(name.length);
      } else if (/^-s[A-Za-z]{2,}$/.test(tok)) {
        // Combined scan letters, as nmap allows: -sTV = -sT -sV.
        const expanded = [...tok.slice(2)].map((c) => `-s${c}`);
        argv = [...argv.slice(0, i), ...expanded, ...argv.slice(i + 1)];
        i--;
        continue;
      } else if (/^-v{2,}$/.test(tok) && byName.get('-v') && groups.includes('output')) {
        o.verbose += tok.length - 1;
        continue;
      } else if (/^-d{2,}$/.test(tok) && groups.includes('script')) {
        o.debugging += tok.length - 1;
        continue;
      }
    }
    if (!spec || !allowed(spec)) {
      throw (spec ? undefined : notYet(tok)) ??
        new UserInputError(`unknown option "${tok}" for prtip ${command}; see prtip ${command} --help`);
    }
    if (refused[name] !== undefined) throw new UserInputError(`prtip ${command} does not take ${name}: ${refused[name]}`);
    if (spec.attached) {
      spec.apply(o, inline ?? '', name);
    } else if (spec.value) {
      const value = inline ?? take(i++, name);
      spec.apply(o, value, name);
    } else {
      if (inline !== undefined) throw new UserInputError(`${name} takes no value, got "${tok}"`);
      spec.apply(o, '', name);
    }
  }
  return o;

  function addTarget(word: string): void {
    if (!allowTargets) throw new UserInputError(`prtip ${command} takes no arguments, got "${word}"; see prtip ${command} --help`);
    if (word === '-') throw new UserInputError('"-" is not a target; to read targets from stdin use -iL -');
    o.targets.push(word);
  }
}

/** Help text for a command: usage, what it does, and its flags grouped as nmap groups them. */
export function helpText(
  usage: string,
  summary: string,
  groups: readonly FlagGroup[],
  examples: string[],
  refused: Readonly<Record<string, string>> = {},
): string {
  const lines = [`USAGE: ${usage}`, '', summary, ''];
  for (const g of groups) {
    const flags = FLAGS.filter((f) => f.group === g && !f.names.every((n) => refused[n] !== undefined));
    if (flags.length === 0) continue;
    lines.push(`${GROUP_TITLES[g]}:`);
    for (const f of flags) {
      const left = `  ${f.names.join(', ')}${f.value ? ` ${f.value}` : ''}${f.attached ? `[${f.attached}]` : ''}`;
      lines.push(`${left.padEnd(30)} ${f.help}`);
    }
    lines.push('');
  }
  if (examples.length) lines.push('EXAMPLES:', ...examples.map((e) => `  ${e}`), '');
  return lines.join('\n');
}

/** The README's flag table, generated from FLAGS (a test keeps the README equal to it). */
export function markdownFlagTable(): string {
  const rows = FLAGS.map((f) => {
    const spelling = f.names.map((n) => `\`${n}${f.value ? ` ${f.value}` : ''}${f.attached ? `[${f.attached}]` : ''}\``).join(', ');
    return `| ${spelling} | ${GROUP_TITLES[f.group].toLowerCase()} | ${f.help.replaceAll('|', '\\|')} |`;
  });
  return ['| option | group | what it does |', '|---|---|---|', ...rows].join('\n');
}
