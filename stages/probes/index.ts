/**
 * The raw-probe layer (a library beside stages/records, not a stage): probe modules and their
 * registry, the raw session that runs any of them on the native engine, routing to next hops,
 * and the packet options (evasion). stages/send uses it for port scans; discover and os next.
 */
export type { ProbeModule, ScanTypeInfo, Verdict, RawTiming, WireContext, ModuleWire } from './module.js';
export { PROBE_MODULES, SCAN_TYPES, CONNECT_SCAN, IDLE_SCAN, PLANNED_SCAN_TYPES, probeModule, scanTypeByName } from './registry.js';
export { IdleScanner, parseZombie, classifyIpIds, tcpFrame, type IdleScanOptions, type IpIdClass } from './idle-scan.js';
export { RawSession, type RawSessionOptions, type RawCounters } from './raw-session.js';
export { ReplyView, replyLayout, addrText } from './reply.js';
export { RAW_TIMING, resolveTiming, type ResolvedTiming, type TimingFlags } from './timing.js';
export { CongestionControl, RetryAllowance } from './congestion.js';
export { icmpPing, tcpSynPing, tcpAckPing, udpPing, sctpInitPing, ipProtoPing, ICMP_ECHO, ICMP_TIMESTAMP, ICMP_MASK } from './discovery-probes.js';
export { tcpFlagScan, closedOnReset, type TcpFlagScanSpec } from './tcp-flag-scan.js';
export { flagsOf, parseScanFlags, TCP_FLAG_BITS } from './tcp-flags.js';
export { IcmpRateLimitWatch, type RoundResult } from './icmp-ratelimit.js';
export { icmpReason, isPortUnreachable } from './icmp-reasons.js';
export {
  parseDecoys, parseHexData, parseIpOptions, parseMtu, parseSpoofMac, dataOfLength, resolveEvasion, MAX_DATA_LENGTH, type EvasionOptions,
} from './evasion.js';
export { resolveRawRoute, addressBytes, addressKey, macBytes, neighbourTable, nextHopsOf, resolveNeighbours, type NextHop, type RawRoute } from './routing.js';
export { RttEstimator } from './rtt.js';
export type { ScanEngine, Decided } from './scan-engine.js';
