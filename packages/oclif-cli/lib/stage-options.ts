/** Maps parsed command-line options onto each stage's options: the CLI's only policy. */
import type { ResolverOptions } from '../../../stages/dns/index.js';
import { checkTracePrivileges, TRACE_IPV6_REASON, type TraceOptions } from '../../../stages/trace/index.js';
import fs from 'node:fs';
import type { FormatOptions, OutputRequest } from '../../../stages/format/index.js';
import { UserInputError, type Proto } from '../../../stages/records/index.js';
import { SEND_DEFAULTS, type SendOptions } from '../../../stages/send/index.js';
import type { TargetsOptions } from '../../../stages/targets/index.js';
import type { DetectOptions } from '../../../stages/detect/index.js';
import type { ScriptOptions } from '../../../stages/script/index.js';
import { loadServicesTable } from '../../../stages/datafiles/index.js';
import type { CliOptions } from './flags.js';
import { loadNative, NATIVE_MISSING } from '../../../native/index.js';

/** loadNative's message as the object of "-X needs …": "prtip's native engine, which is not built (…): install …". */
export function nativeMissing(err: Error): string {
  return err.message.replace(/^prtip's native engine (is not built|cannot be loaded)/, "prtip's native engine, which $1");
}
import { checkOsPrivileges, DEFAULT_MAX_OS_TRIES, type OsStageOptions } from '../../../stages/os/index.js';
import { parseSpoofMac, parseZombie, probeModule, resolveTiming, scanTypeByName, type EvasionOptions, type TimingFlags } from '../../../stages/probes/index.js';

/** The protocols the asked scan types probe (default TCP): what unprefixed -p items mean. */
export function scanProtocols(o: CliOptions): Proto[] {
  const protos = new Set(o.scanTypes.map((t) => scanTypeByName(t)?.proto ?? 'tcp'));
  return protos.size > 0 ? [...protos] : ['tcp'];
}

export function targetsOptions(o: CliOptions, args: string[], signal: AbortSignal): TargetsOptions {
  if (o.targets.length === 0 && o.inputFiles.length === 0) {
    throw new UserInputError('no targets given: name hosts or networks (198.18.0.0/24, host.example) or use -iL FILE');
  }
  return {
    specs: o.targets,
    inputFiles: o.inputFiles,
    stdin: process.stdin,
    exclude: o.exclude,
    excludeFiles: o.excludeFiles,
    ports: o.ports,
    fast: o.fast,
    topPorts: o.topPorts,
    protocols: scanProtocols(o),
    family: o.family,
    ...(o.dnsServers && !o.systemDns ? { dnsServers: o.dnsServers } : {}),
    seed: o.seed,
    batchSize: o.batchSize,
    shard: o.shard,
    sequential: o.sequential,
    ...hostGroupOption(o),
    datadir: o.datadir,
    args,
    signal,
  };
}

/**
 * --max-hostgroup / --min-hostgroup → the group size. prtip's own group is every host (no
 * adaptive growth as nmap's), so the size is --max-hostgroup when given (any --min-hostgroup must
 * not exceed it), else --min-hostgroup (the smallest group that satisfies it).
 */
function hostGroupOption(o: CliOptions): { hostGroup?: number } {
  const { minHostgroup: min, maxHostgroup: max } = o;
  if (min !== undefined && max !== undefined && min > max) {
    throw new UserInputError(`--min-hostgroup ${min} is larger than --max-hostgroup ${max}: give a minimum no larger than the maximum`);
  }
  const size = max ?? min;
  return size !== undefined ? { hostGroup: size } : {};
}

/** --dns-servers / --system-dns → the resolver's options (stages/dns). */
export function dnsOptions(o: CliOptions): ResolverOptions {
  if (o.systemDns && o.dnsServers) throw new UserInputError('--system-dns and --dns-servers: give one (the system resolver has its own servers)');
  return o.systemDns ? { system: true } : o.dnsServers ? { servers: o.dnsServers } : {};
}

/**
 * The connect scan's own defaults where nmap's templates have no say on kernel sockets: connects
 * in flight, one attempt's wait (no RTT adaptation) and retries at -T3…-T5. Scan delay,
 * parallelism 1 at -T0…-T2, and every timing flag come from the shared table (resolveTiming).
 */
const CONNECT_TIMING: ReadonlyArray<{ maxParallelism: number; timeoutMs: number; maxRetries: number }> = [
  { maxParallelism: 1, timeoutMs: 5000, maxRetries: 1 },
  { maxParallelism: 1, timeoutMs: 5000, maxRetries: 1 },
  { maxParallelism: 1, timeoutMs: 2000, maxRetries: 1 },
  { maxParallelism: SEND_DEFAULTS.maxParallelism, timeoutMs: SEND_DEFAULTS.timeoutMs, maxRetries: SEND_DEFAULTS.maxRetries },
  { maxParallelism: 512, timeoutMs: 500, maxRetries: 1 },
  { maxParallelism: 1024, timeoutMs: 250, maxRetries: 0 },
];

/** The user's timing flags, as the shared resolver takes them. */
function timingFlags(o: CliOptions): TimingFlags {
  return {
    timing: o.timing, initialRttMs: o.initialRttMs, minRttMs: o.minRttMs, maxRttMs: o.timeoutMs, maxRetries: o.maxRetries,
    scanDelayMs: o.scanDelayMs, maxScanDelayMs: o.maxScanDelayMs, minParallelism: o.minParallelism, maxParallelism: o.maxParallelism,
    hostTimeoutMs: o.hostTimeoutMs, minRate: o.minRate, maxRate: o.maxRate,
  };
}

/** The soft limit on open files: parallel connects beyond it would only fail with EMFILE. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when this process may send raw packets (root or CAP_NET_RAW) and the native engine is
 * built; false without the privilege; the reason when the engine itself is missing (no libpcap
 * at build time), which root cannot fix.
 */
export function canSendRaw(load: () => { hasRawAccess(): boolean } = loadNative): boolean | string {
  try {
    return load().hasRawAccess();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== NATIVE_MISSING) throw err;
    return `-sS needs ${nativeMissing(err as Error)}`;
  }
}

/** Names of this machine's loopback: raw frames cannot reach the local stack (see SynScanner). */
const LOOPBACK_TARGET = /^(localhost|127(\.\d{1,3}){0,3}(\/\d+)?|::1|0*:(0*:){0,6}0*1)$/i;

/**
 * Which scan types run: those asked for (one per protocol), else -sS when privileged, else -sT
 * (with a notice if -sS was asked). Without a choice, a scan of loopback only is a connect scan,
 * as it must be. Other raw types without privileges are refused.
 */
export function chooseScanTypes(o: CliOptions, onWarning: (m: string) => void, rawAllowed: () => boolean | string = canSendRaw): string[] {
  const byProto = new Map<string, string>();
  for (const name of o.scanTypes) {
    const info = scanTypeByName(name)!;
    const prev = byProto.get(info.proto);
    if (prev) {
      throw new UserInputError(`only one scan type per protocol at a time for now, got ${scanTypeByName(prev)!.flag} and ${info.flag} (both ${info.proto.toUpperCase()})`);
    }
    byProto.set(info.proto, name);
  }
  const asked = [...o.scanTypes];
  if (asked.includes('connect') && asked.length > 1) {
    throw new UserInputError(`-sT (kernel sockets) does not combine with raw scan types (${asked.filter((a) => a !== 'connect').map((a) => scanTypeByName(a)!.flag).join(', ')}) yet: use -sS with them`);
  }
  if (asked.length === 0) {
    const loopbackOnly = o.inputFiles.length === 0 && o.targets.length > 0 && o.targets.every((t) => LOOPBACK_TARGET.test(t));
    return [!loopbackOnly && rawAllowed() === true ? 'syn' : 'connect'];
  }
  if (asked.every((a) => a === 'connect')) return asked;
  const allowed = rawAllowed();
  if (allowed === true) return asked;
  if (asked.length === 1 && asked[0] === 'syn') {
    onWarning(`${typeof allowed === 'string' ? allowed : '-sS needs root or CAP_NET_RAW'}; running a connect scan (-sT) instead`);
    return ['connect'];
  }
  const raw = asked.map((a) => scanTypeByName(a)!).filter((i) => i.privileged);
  const why = typeof allowed === 'string' ? allowed.replace(/^-sS needs/, raw.length > 1 ? 'need' : 'needs') : `${raw.length > 1 ? 'need' : 'needs'} root or CAP_NET_RAW; run prtip as root, or use -sT`;
  throw new UserInputError(`${raw.map((i) => `${i.flag} (${i.title})`).join(' and ')} ${why}`);
}

/** The first scan type (tests and callers that run one). */
export function chooseScanType(o: CliOptions, onWarning: (m: string) => void, rawAllowed: () => boolean | string = canSendRaw): string {
  const types = chooseScanTypes(o, onWarning, rawAllowed);
  if (types.length > 1) throw new UserInputError(`one scan type expected, got ${types.join(' and ')}`);
  return types[0]!;
}

export function sendOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void, rawAllowed?: () => boolean | string): SendOptions {
  const types = chooseScanTypes(o, onWarning, rawAllowed);
  if (o.minRate !== undefined && o.maxRate !== undefined && o.minRate > o.maxRate) {
    throw new UserInputError(`--min-rate ${o.minRate} is above --max-rate ${o.maxRate}`);
  }
  if (types[0] !== 'connect') return rawSendOptions(o, types, args, signal, onWarning);
  const rawOnly = [
    o.minRate !== undefined && '--min-rate', o.waitMs !== undefined && '--wait', o.iface !== undefined && '-e',
    o.minRttMs !== undefined && '--min-rtt-timeout', o.minParallelism !== undefined && '--min-parallelism',
    o.hostTimeoutMs !== undefined && '--host-timeout', o.defeatRstRateLimit && '--defeat-rst-ratelimit',
    o.sourceAddress !== undefined && '-S', o.sourcePort !== undefined && '-g', o.scanFlags !== undefined && '--scanflags',
    o.ttl !== undefined && '--ttl', o.badsum && '--badsum', o.fragment !== undefined && '-f/--mtu', o.decoys !== undefined && '-D',
    o.spoofMac !== undefined && '--spoof-mac', o.ipOptions !== undefined && '--ip-options', o.payload !== undefined && o.payload.flag,
    o.defeatIcmpRateLimit && '--defeat-icmp-ratelimit', o.maxScanDelayMs !== undefined && '--max-scan-delay', o.sendEth && '--send-eth',
  ].filter(Boolean);
  if (rawOnly.length > 0) {
    throw new UserInputError(`${rawOnly.join(', ')} ${rawOnly.length > 1 ? 'apply' : 'applies'} to raw scans (-sS, -sU, -sA, …) only; the connect scan (-sT) uses kernel sockets`);
  }
  const t = CONNECT_TIMING[o.timing ?? 3]!;
  const shared = resolveTiming(timingFlags(o));
  let maxParallelism = o.maxParallelism ?? t.maxParallelism;
  const limit = openFileLimit();
  if (limit !== undefined && maxParallelism > limit - 64) {
    const capped = Math.max(1, limit - 64);
    if (o.maxParallelism !== undefined) onWarning(`--max-parallelism ${maxParallelism} exceeds the open-file limit (${limit}); using ${capped}`);
    maxParallelism = capped;
  }
  return {
    scanType: 'connect',
    maxParallelism,
    // One attempt waits --initial-rtt-timeout, else --max-rtt-timeout, else the template's.
    timeoutMs: o.initialRttMs ?? o.timeoutMs ?? t.timeoutMs,
    maxRetries: o.maxRetries ?? t.maxRetries,
    // --scan-delay (and -T0…-T2's) spaces connect starts: a ceiling under --max-rate.
    maxRate: Math.min(o.maxRate ?? Infinity, shared.scanDelayMs > 0 ? 1000 / shared.scanDelayMs : Infinity) < Infinity
      ? Math.min(o.maxRate ?? Infinity, shared.scanDelayMs > 0 ? 1000 / shared.scanDelayMs : Infinity)
      : undefined,
    assumeUp: o.assumeUp,
    reverseDns: o.reverseDns,
    dns: dnsOptions(o),
    args,
    signal,
    onWarning,
  };
}

/** -sI: the zombie and the options it honours; packet options it cannot carry are refused. */
function idleSendOptions(o: CliOptions, types: string[], args: string[], signal: AbortSignal, onWarning: (m: string) => void): SendOptions {
  if (types.length > 1) throw new UserInputError(`-sI (idle scan) runs alone, not with ${types.filter((x) => x !== 'idle').map((x) => scanTypeByName(x)!.flag).join(', ')}`);
  const refused = [
    o.maxParallelism !== undefined && '--max-parallelism', o.scanFlags !== undefined && '--scanflags', o.badsum && '--badsum',
    o.fragment !== undefined && '-f/--mtu', o.decoys !== undefined && '-D', o.spoofMac !== undefined && '--spoof-mac',
    o.ipOptions !== undefined && '--ip-options', o.payload !== undefined && o.payload.flag, o.defeatIcmpRateLimit && '--defeat-icmp-ratelimit',
    o.maxScanDelayMs !== undefined && '--max-scan-delay', o.maxRate !== undefined && '--max-rate', o.minRate !== undefined && '--min-rate',
    o.waitMs !== undefined && '--wait', o.timeoutMs !== undefined && '--max-rtt-timeout',
  ].filter(Boolean);
  if (refused.length > 0) throw new UserInputError(`${refused.join(', ')} ${refused.length > 1 ? 'do' : 'does'} not apply to the idle scan (-sI): its probes are paced by the zombie's IP ID counts`);
  parseZombie(o.scanArgs.idle ?? '');
  return {
    scanType: 'idle', idleZombie: o.scanArgs.idle, maxParallelism: SEND_DEFAULTS.maxParallelism, timeoutMs: SEND_DEFAULTS.timeoutMs,
    maxRetries: o.maxRetries ?? 2, iface: o.iface, sourceAddress: o.sourceAddress, sourcePort: o.sourcePort, ttl: o.ttl,
    assumeUp: o.assumeUp, reverseDns: o.reverseDns, args, signal, onWarning,
  };
}

function rawSendOptions(o: CliOptions, types: string[], args: string[], signal: AbortSignal, onWarning: (m: string) => void): SendOptions {
  if (types.includes('idle')) return idleSendOptions(o, types, args, signal, onWarning);
  const modules = types.map((t) => probeModule(t)!);
  const flags = modules.map((m) => m.flag).join(' ');
  if (o.scanFlags !== undefined && !modules.some((m) => m.proto === 'tcp')) {
    throw new UserInputError(`--scanflags sets TCP flags: add a raw TCP scan type (-sS, -sA, -sF, …) to ${flags}`);
  }
  const udp = modules.some((m) => m.proto === 'udp');
  if (!udp && o.defeatIcmpRateLimit) throw new UserInputError('--defeat-icmp-ratelimit applies to the UDP scan (-sU)');
  if (o.defeatRstRateLimit && !modules.some((m) => m.proto === 'tcp')) throw new UserInputError('--defeat-rst-ratelimit applies to raw TCP scans (-sS, -sA, -sF, …)');
  const t = resolveTiming(timingFlags(o), modules[0]!.timing);
  if (t.minParallelism !== undefined && t.maxParallelism !== undefined && t.minParallelism > t.maxParallelism) {
    throw new UserInputError(`--min-parallelism ${t.minParallelism} is above --max-parallelism ${t.maxParallelism}`);
  }
  const evasion: EvasionOptions = {
    ...(o.badsum ? { badsum: true } : {}),
    ...(o.fragment !== undefined ? { fragment: o.fragment } : {}),
    ...(o.decoys ? { decoys: o.decoys } : {}),
    ...(o.ipOptions ? { ipOptions: o.ipOptions } : {}),
    ...(o.spoofMac !== undefined ? { spoofMac: parseSpoofMac(o.spoofMac, o.datadir) } : {}),
    ...(o.payload ? { payload: o.payload.bytes } : {}),
    ...(o.scanFlags !== undefined ? { tcpFlags: o.scanFlags } : {}),
  };
  return {
    scanType: types[0]!,
    ...(types.length > 1 ? { moreScanTypes: types.slice(1) } : {}),
    maxParallelism: SEND_DEFAULTS.maxParallelism, // unused by raw scans
    timeoutMs: t.initialRttMs,
    minRttTimeoutMs: t.minRttMs,
    maxRttTimeoutMs: t.maxRttMs,
    maxRetries: t.maxRetries,
    maxRate: t.maxRate,
    minRate: t.minRate,
    initialRate: t.initialRate,
    caGrowth: t.caGrowth,
    // --min-rate overrides the template's scan delay and window (nmap: the floor wins); a --scan-delay given stays.
    scanDelayMs: t.minRate !== undefined && o.scanDelayMs === undefined ? 0 : t.scanDelayMs,
    rawParallelism: t.minRate !== undefined && o.maxParallelism === undefined ? undefined : t.maxParallelism,
    minParallelism: t.minParallelism,
    hostTimeoutMs: t.hostTimeoutMs,
    defeatRstRateLimit: o.defeatRstRateLimit,
    waitMs: o.waitMs,
    iface: o.iface,
    sourceAddress: o.sourceAddress,
    sourcePort: o.sourcePort,
    ttl: o.ttl,
    evasion,
    datadir: o.datadir,
    defeatIcmpRateLimit: o.defeatIcmpRateLimit,
    // UDP's ICMP rate-limit pacing keeps nmap's 1 s ceiling whatever the TCP templates say.
    maxScanDelayMs: o.maxScanDelayMs ?? (udp ? 1000 : t.maxScanDelayMs),
    assumeUp: o.assumeUp,
    reverseDns: o.reverseDns,
    dns: dnsOptions(o),
    args,
    signal,
    onWarning,
  };
}

export function formatOptions(o: CliOptions, outputs: OutputRequest[]): FormatOptions {
  const services = loadServicesTable(o.datadir);
  return {
    outputs,
    view: {
      openOnly: o.openOnly,
      showProxied: o.showProxied,
      reason: o.reason,
      verbose: o.verbose,
      serviceName: (port, proto) => services.serviceName(port, proto as Proto),
    },
  };
}

/** -sV and friends → the detect stage. Timing templates shorten probe waits as nmap's do (-T4/-T5). */
export function detectOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void): Partial<DetectOptions> {
  const t = o.timing ?? 3;
  return {
    datadir: o.datadir,
    intensity: o.versionIntensity ?? 7,
    ...(t >= 5 ? { probeTimeoutMs: 2000 } : t === 4 ? { probeTimeoutMs: 4000 } : {}),
    args,
    signal,
    onWarning,
  };
}

/** -sC/--script and their flags → the script stage's options. */
export function scriptOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void): Partial<ScriptOptions> & Pick<ScriptOptions, 'scripts'> {
  return {
    // nmap's -sV runs the "version" category of scripts too; with scripts on, prtip does as well
    scripts: `${o.scripts ?? 'default'}${o.versionDetect ? ',version' : ''}`,
    scriptArgs: o.scriptArgs,
    scriptArgsFile: o.scriptArgsFile,
    datadir: o.datadir,
    ...(o.scriptTimeoutMs !== undefined ? { scriptTimeoutMs: o.scriptTimeoutMs } : {}),
    verbosity: o.verbose,
    debugging: o.debugging,
    trace: o.scriptTrace === true,
    timing: o.timing ?? 3,
    args,
    signal,
    onWarning,
    onLog: (line) => process.stderr.write(`${line}\n`),
  };
}

/** --traceroute → the trace stage; refuses what cannot run (no root, IPv6). */
export function traceOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void): TraceOptions {
  if (o.family === 6) throw new UserInputError(`--traceroute with -6: ${TRACE_IPV6_REASON}`);
  checkTracePrivileges();
  return {
    reverseDns: o.reverseDns, dns: dnsOptions(o), datadir: o.datadir,
    ...(o.maxRetries !== undefined ? { maxRetries: o.maxRetries } : {}),
    route: { ...(o.iface ? { iface: o.iface } : {}), ...(o.sourceAddress ? { source: o.sourceAddress } : {}) },
    args, signal, onWarning,
  };
}

/** -O and friends → the os stage (IPv4 and IPv6 hosts); refuses what cannot run (no root). */
export function osOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void): OsStageOptions {
  checkOsPrivileges();
  return {
    datadir: o.datadir, maxOsTries: o.maxOsTries ?? DEFAULT_MAX_OS_TRIES, limit: o.osscanLimit === true, guess: o.osscanGuess === true,
    scanDelayMs: 0, timingLevel: o.timing ?? 3, route: { ...(o.iface ? { iface: o.iface } : {}), ...(o.sourceAddress ? { source: o.sourceAddress } : {}) },
    args, signal, onWarning,
  };
}

/** --osscan-limit, --osscan-guess and --max-os-tries set how -O runs. */
export function refuseOsFlagsWithoutO(o: CliOptions): void {
  if (!o.osDetect && (o.osscanLimit || o.osscanGuess || o.maxOsTries !== undefined)) {
    throw new UserInputError('--osscan-limit, --osscan-guess/--fuzzy and --max-os-tries set how -O runs: add -O');
  }
}

