/**
 * The typed boundary to the C++ engine (native/src). Loaded lazily so commands that need no
 * native code (connect scan, format) still run when the addon is not built.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface NativeInterfaceAddress {
  family: 4 | 6;
  address: string;
  netmask?: string;
}

export interface NativeInterface {
  name: string;
  description: string;
  loopback: boolean;
  up: boolean;
  running: boolean;
  addresses: NativeInterfaceAddress[];
}

/** What every SYN frame of a scan shares (addresses and MACs as bytes, network order). */
export interface SynTemplateConfig {
  srcMac: Uint8Array;
  /** Next-hop MAC for IPv4 / IPv6 targets (needed with src4 / src6). */
  dstMac4?: Uint8Array;
  dstMac6?: Uint8Array;
  src4?: Uint8Array;
  src6?: Uint8Array;
  sourcePort: number;
  /** IPv4 TTL / IPv6 hop limit, default 64. */
  ttl?: number;
  /** TCP window, default 1024. */
  window?: number;
  /** SipHash key (16 bytes); random per engine when absent. */
  key?: Uint8Array;
}

export interface SynEngineConfig extends SynTemplateConfig {
  ifname: string;
  /** Packets per second; 0 or absent: as fast as the path takes them. */
  rate?: number;
}

export interface SynEngineStats {
  sent: number;
  sendErrors: number;
  sendRetries: number;
  captured: number;
  /** Valid first replies handed to JS. */
  replies: number;
  /** Replies whose cookie did not name a probe in flight (ignored). */
  invalid: number;
  duplicates: number;
  /** Captured packets that were not replies to this scan. */
  foreign: number;
  pcapDropped: number;
  /** From the first send to the end of the last sendmmsg (packets − 1 intervals, so sent/sendSeconds ≈ the rate). */
  sendSeconds: number;
  error?: string;
}

/**
 * The native SYN engine: a sender thread (AF_PACKET, sendmmsg, token bucket) and a receiver thread
 * (libpcap, cookie validation, answered bitmap). JS owns the policy: what to send, when to resend,
 * when a probe has waited long enough.
 */
export interface SynEngine {
  /** Opens the packet socket and the capture and starts both threads; throws (EPERM, …) when it cannot. */
  start(): void;
  /**
   * Queues a batch for sending; null while all 4096 slots are in flight (retire some first).
   * `macs` (6 bytes per probe) gives each probe's Ethernet destination (hosts on the local link);
   * absent, every probe goes to the template's next hop. Resends of the slot use the same MACs.
   */
  enqueue(family: 4 | 6, start: number, addrs: Uint8Array, ports: Uint8Array, macs?: Uint8Array): { slot: number; seq: number } | null;
  /** Queues the slot's unanswered probes again: the job's seq and size, or null when every probe was answered. */
  resend(slot: number): { seq: number; count: number } | null;
  /** Frees the slot; returns its answered bitmap (bit i%8 of byte i/8 = entry i answered). */
  retire(slot: number): Buffer;
  /** Seq of the last send job completed (jobs complete in order). */
  sentSeq(): number;
  /** Probes queued but not yet sent. */
  queuedProbes(): number;
  stats(): SynEngineStats;
  /** Stops both threads; resolves once every reply has reached onReplies. */
  stop(): Promise<void>;
}

/** Size of one packed reply in the Buffers onReplies receives (layout in native/src/engine-core.h). */
export const REPLY_RECORD_SIZE = 56;
export const REPLY_KIND = { synAck: 1, rst: 2, icmp: 3 } as const;

export interface ParsedReplyInfo {
  kind: 'syn-ack' | 'rst' | 'icmp';
  family: 4 | 6;
  peer: Buffer;
  local: Buffer;
  peerPort: number;
  localPort: number;
  probeSeq: number;
  ttl: number;
  window: number;
  icmpType: number;
  icmpCode: number;
}

export interface NativeEngine {
  /** libpcap's version string. */
  pcapVersion(): string;
  /** Interfaces libpcap can capture on, with their addresses. */
  listInterfaces(): NativeInterface[];
  /** Internet checksum (RFC 1071) of the bytes, optionally continuing a running sum. */
  checksum(bytes: Uint8Array, initialSum?: number): number;
  /** Null when the native self-tests pass, else the name of the failing one. */
  selfTest(): string | null;
  /** True when this process may open AF_PACKET raw sockets (root or CAP_NET_RAW). */
  hasRawAccess(): boolean;
  /** One SYN frame as the engine would send it (tests); dstMac: the probe's own next hop instead of the template's. */
  buildSynFrame(config: SynTemplateConfig, family: 4 | 6, addr: Uint8Array, port: number, tag: number, dstMac?: Uint8Array): Buffer;
  /** Parses a captured frame (SYN-ACK, RST, or ICMP unreachable quoting a TCP probe); null otherwise. */
  parseReply(frame: Uint8Array): ParsedReplyInfo | null;
  sipHash(key: Uint8Array, data: Uint8Array): bigint;
  synCookie(key: Uint8Array, family: 4 | 6, saddr: Uint8Array, daddr: Uint8Array, sport: number, dport: number): number;
  SynEngine: new (config: SynEngineConfig, onReplies: (packed: Buffer) => void) => SynEngine;
}

let engine: NativeEngine | undefined;

/** Finds build/Release/prtip_native.node from both the source tree and dist/. */
function addonPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, '..', '..') : path.resolve(here, '..');
  return path.join(root, 'native', 'build', 'Release', 'prtip_native.node');
}

export function loadNative(): NativeEngine {
  if (engine) return engine;
  const file = addonPath();
  try {
    engine = createRequire(import.meta.url)(file) as NativeEngine;
  } catch (err) {
    throw new Error(
      `prtip's native engine is not built (${file}: ${(err as Error).message.split('\n')[0]}); run "npm run build"`,
    );
  }
  return engine;
}
