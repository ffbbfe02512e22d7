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

/**
 * What every probe of a raw scan shares: addresses and MACs as bytes (network order), the L4
 * protocol and its header fields, payloads, and the IP-layer evasion options. A probe module
 * (stages/probes) says what goes here; native/src/wire.h builds it.
 */
export interface WireSpec {
  srcMac: Uint8Array;
  /** Next-hop MAC for IPv4 / IPv6 targets (needed with src4 / src6). */
  dstMac4?: Uint8Array;
  dstMac6?: Uint8Array;
  src4?: Uint8Array;
  src6?: Uint8Array;
  sourcePort: number;
  /** IPv4 TTL / IPv6 hop limit, default 64. */
  ttl?: number;
  /** SipHash key (16 bytes); random per engine when absent. */
  key?: Uint8Array;
  /**
   * L4 protocol: 6 TCP (default), 17 UDP, 132 SCTP, or PROTO_SCAN (256: the IP protocol scan, each
   * probe's "port" is its IP protocol number). wireProtocols() lists what native has.
   */
  ipProto?: number;
  /** SCTP: the probe's chunk, 1 INIT (default) or 10 COOKIE-ECHO. */
  sctpChunk?: number;
  /** TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128); default SYN. */
  tcpFlags?: number;
  /** TCP window, default 1024. */
  window?: number;
  /** TCP options bytes (≤ 40); default MSS 1460. */
  tcpOptions?: Uint8Array;
  /** Payload of every probe (--data…); overrides portPayloads. */
  payload?: Uint8Array;
  /** Payloads per destination port (UDP: nmap-payloads); each one a datagram of its own. */
  portPayloads?: Array<[number, Uint8Array[]]>;
  /** A wrong L4 checksum (--badsum). */
  badsum?: boolean;
  /** IPv4 options, padded to a multiple of 4 bytes (--ip-options). */
  ipOptions?: Uint8Array;
  /** IPv4 fragments with this many L4 bytes each (multiple of 8; -f 8, -ff 16, --mtu N). */
  fragment?: number;
  /** Decoy sources, in order, our own address among them (-D); 4 or 16 bytes each. */
  decoys4?: Uint8Array;
  decoys6?: Uint8Array;
}

export interface RawEngineConfig extends WireSpec {
  ifname: string;
  /** Packets per second; 0 or absent: as fast as the path takes them. */
  rate?: number;
  /** --packet-trace from the start (setTrace switches it later). */
  trace?: boolean;
  /** Floor (probes/s) the sender keeps even with a full congestion window (--min-rate). */
  minRate?: number;
  /** Initial congestion window (probes awaiting an answer); 0: none. */
  congestionWindow?: number;
}

export interface RawEngineStats {
  /** Frames on the wire (a probe may be several: payloads, decoys, fragments). */
  sent: number;
  sendErrors: number;
  /** The latest send error (errno and its text), when there was one. */
  sendErrno?: number;
  sendError?: string;
  sendRetries: number;
  captured: number;
  /** Valid first replies handed to JS. */
  replies: number;
  /** Replies that named no probe in flight (ignored). */
  invalid: number;
  duplicates: number;
  /** Captured packets that were not replies to this scan. */
  foreign: number;
  /** Packets the kernel dropped before the capture read them (the ring was full), and those the interface dropped. */
  pcapDropped: number;
  ifDropped: number;
  /** Of the replies, TCP RSTs (--defeat-rst-ratelimit leaves them out of the pace). */
  rstReplies: number;
  /** Times the sender waited for the congestion window, and probes it sent past a full window to keep --min-rate. */
  windowWaits: number;
  minRateSends: number;
  /** Frames sent through host lanes (hosts with their own pace). */
  laneSent: number;
  /** From the first send to the end of the last sendmmsg (packets − 1 intervals, so sent/sendSeconds ≈ the rate). */
  sendSeconds: number;
  error?: string;
}

/**
 * The native raw engine: a sender thread (AF_PACKET, sendmmsg, token bucket) and a receiver thread
 * (libpcap, cookie or (address, port) validation, answered bitmap), for one wire spec. JS owns the
 * policy: what to send, when to resend, when a probe has waited long enough.
 */
export interface RawEngine {
  /** Opens the packet socket and the capture and starts both threads; throws (EPERM, …) when it cannot. */
  start(): void;
  /**
   * Queues a batch for sending; null while all 4096 slots are in flight (retire some first).
   * `macs` (6 bytes per probe) gives each probe's Ethernet destination (hosts on the local link);
   * absent, every probe goes to the template's next hop. Resends of the slot use the same MACs.
   * `hold`: entries the first job leaves out (probes of hosts with their own pace, sent through
   * their lanes with resend); seq is 0 when every entry is held.
   */
  enqueue(family: 4 | 6, start: number, addrs: Uint8Array, ports: Uint8Array, macs?: Uint8Array | null, hold?: Uint32Array): { slot: number; seq: number } | null;
  /**
   * Queues the slot's unanswered probes again: the job's seq and size, or null when every probe was
   * answered. `pace` (probes/s) spaces this job's probes (a target rate-limiting its answers).
   * `entries`: only these (if unanswered). `lane` > 0: the job goes through that host's lane — after
   * the lane's earlier jobs, at the lane's pace, beside every other job (per-host pacing).
   */
  resend(slot: number, pace?: number, entries?: Uint32Array, lane?: number): { seq: number; count: number } | null;
  /** Send jobs of the slot not finished yet (0: its latest round is all on the wire; lanes finish out of order). */
  pendingJobs(slot: number): number;
  /** Entries of the slot's latest job (not a lane's) below this index are on the wire (the sender goes in order). */
  sentUpTo(slot: number): number;
  /** A host lane's pace from now on (probes/s), for its queued jobs too. */
  setLanePace(lane: number, pps: number): void;
  /** How many probes of the slot have their answer. */
  answeredCount(slot: number): number;
  /** Seconds the slot's latest send job took on the wire (first send to last), not counting its time in the queue. */
  roundSeconds(slot: number): number;
  /** Frees the slot; returns its answered bitmap (bit i%8 of byte i/8 = entry i answered). */
  retire(slot: number): Buffer;
  /** Seq of the last send job completed (jobs complete in order). */
  sentSeq(): number;
  /** Probes queued but not yet sent. */
  queuedProbes(): number;
  /** The sender's pace from now on, probes (frames) per second; 0: unpaced. Congestion control sets it. */
  setRate(pps: number): void;
  /** Most probes waiting for an answer at once (the congestion window; 0: no limit), and how long an unanswered probe keeps its place, ms. */
  setWindow(n: number, timeoutMs?: number): void;
  /** Probes sent and neither answered nor expired. */
  outstanding(): number;
  /** Gives these entries of the slot up (--host-timeout): no resend, no report; they read as answered. */
  abandon(slot: number, entries: Uint32Array): void;
  /** The slot's answered bitmap (as retire returns it), the slot staying in flight. */
  answered(slot: number): Buffer;
  stats(): RawEngineStats;
  /** --packet-trace: copy every frame sent and every packet captured (or stop copying). */
  setTrace(on: boolean): void;
  /**
   * What was traced since the last call, null when nothing: packed records (u8 direction 0 sent /
   * 1 received, u8 0, u16 stored length, u32 length on the wire, f64 realtime ms, then the
   * Ethernet frame's first ≤ 256 bytes), and how many frames did not fit the bounded buffer.
   */
  takeTrace(): { frames: Buffer; dropped: number } | null;
  /**
   * A drain barrier: onReplies(empty buffer, id) is called once every reply the receiver parsed
   * before this call has reached onReplies — with `ring`, also every packet captured before it
   * (the capture ring hands blocks over a few ms late). Ids grow; answers come in order.
   */
  barrier(ring: boolean): number;
  /** Stops both threads; resolves once every reply has reached onReplies. */
  stop(): Promise<void>;
}

/** How native lays out one packed reply (native/src/wire.h: ReplyRecord), as it reports it. */
export interface ReplyLayout {
  size: number;
  kinds: { tcp: number; udp: number; icmp: number; sctp: number; proto: number; icmpAnswer: number };
  fields: Record<ReplyFieldName, [number, 'f64' | 'f32' | 'u32' | 'u16' | 'u8' | 'bytes', number?]>;
}

export type ReplyFieldName =
  | 'index' | 'timeMs' | 'rttMs' | 'slot' | 'addr' | 'from' | 'seq' | 'ack' | 'port' | 'window' | 'ipId'
  | 'payloadLength' | 'quotedLength' | 'family' | 'kind' | 'ttl' | 'tcpFlags' | 'icmpType' | 'icmpCode'
  | 'tcpOptionsLength' | 'payloadHeadLength' | 'tries' | 'tcpOptions' | 'payloadHead' | 'sctpChunk' | 'ipProto';

export interface ParsedReplyInfo {
  kind: 'syn-ack' | 'rst' | 'udp' | 'icmp' | 'sctp' | 'proto';
  family: 4 | 6;
  peer: Buffer;
  local: Buffer;
  /** The reply's IP source (an ICMP error's sender). */
  from: Buffer;
  peerPort: number;
  localPort: number;
  /** TCP: the probe's sequence number (cookie + tag) as the reply reveals it. */
  probeSeq?: number;
  ttl: number;
  window: number;
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
  payloadLength: number;
  /** SCTP: the reply's first chunk type. */
  sctpChunk: number;
  /** The IP protocol the reply answers (protocol scan: the probe's protocol). */
  ipProto: number;
}

/** Which capture set-up a reserved raw handle has: RawEngine's (ring of blocks) or RawExchange's (whole packets at once). */
export type RawHandleKind = 'engine' | 'exchange';

/** WireSpec.ipProto of the IP protocol scan (-sO, -PO): each probe's port is its IP protocol. */
export const PROTO_SCAN = 256;
/** SCTP chunk types (WireSpec.sctpChunk, and what replies carry). */
export const SCTP_CHUNK = { init: 1, initAck: 2, abort: 6, cookieEcho: 10 } as const;

export interface NativeEngine {
  /** libpcap's version string. */
  pcapVersion(): string;
  /** Interfaces libpcap can capture on, with their addresses. */
  listInterfaces(): NativeInterface[];
  /** Internet checksum (RFC 1071) of the bytes, optionally continuing a running sum. */
  checksum(bytes: Uint8Array, initialSum?: number): number;
  /** Null when the native self-tests pass, else the name of the failing one. */
  selfTest(): string | null;
  /**
   * True when a raw engine can start: this process may open AF_PACKET raw sockets (root or
   * CAP_NET_RAW), or handles were reserved for it before its privileges were dropped.
   */
  hasRawAccess(): boolean;
  /**
   * Opens raw handles (an AF_PACKET send socket and an activated capture that accepts nothing yet)
   * on the interface until `count` are reserved for that kind: "engine" for RawEngine, "exchange"
   * for RawExchange. Engines take a reserved handle before opening one and give it back when they
   * stop, so a process that dropped root keeps scanning. Returns how many are reserved; throws
   * (code EPERM without root or CAP_NET_RAW) when one cannot be opened.
   */
  reserveRawHandles(ifname: string, kind: RawHandleKind, count: number): number;
  /** How many handles of the kind are reserved on the interface now (not in use). */
  reservedRawHandles(ifname: string, kind: RawHandleKind): number;
  /** Closes every reserved handle (in-use ones close when their engine stops). */
  closeRawHandles(): void;
  /** Every frame of one probe as the engine would send it (tests); dstMac: the probe's own next hop. */
  buildProbeFrames(config: WireSpec, family: 4 | 6, addr: Uint8Array, port: number, tag: number, dstMac?: Uint8Array): Buffer[];
  /** The first frame of one probe (a SYN with the default spec). */
  buildSynFrame(config: WireSpec, family: 4 | 6, addr: Uint8Array, port: number, tag: number, dstMac?: Uint8Array): Buffer;
  /** Parses a captured frame as a reply to probes of `config` (default: SYN probes); null otherwise. */
  parseReply(frame: Uint8Array, config?: WireSpec): ParsedReplyInfo | null;
  sipHash(key: Uint8Array, data: Uint8Array): bigint;
  probeCookie(key: Uint8Array, family: 4 | 6, saddr: Uint8Array, daddr: Uint8Array, sport: number, dport: number): number;
  /** The packed reply's layout in this build. */
  replyLayout(): ReplyLayout;
  /** The L4 wire modules native has. */
  wireProtocols(): Array<{ name: string; ipProto: number }>;
  /** onReplies(packed): replies; onReplies(empty, id): the answer to barrier id. */
  RawEngine: new (config: RawEngineConfig, onReplies: (packed: Buffer, barrier?: number) => void) => RawEngine;
  /** Exact prebuilt frames out, whole reply packets in (OS detection; native/src/raw-exchange.cc). */
  RawExchange: { new (ifname: string, bpfFilter: string): RawExchange; nowUs(): number };
}

/**
 * Sends whole Ethernet frames (IPv4 or IPv6) on an AF_PACKET socket bound to `ifname` and captures the
 * incoming packets matching a BPF filter, with libpcap's timestamps (realtime µs, the clock
 * `send` and `nowUs` read). Non-blocking: poll() returns what arrived since the last call.
 */
export interface RawExchange {
  /** Sends one frame; returns the realtime µs just before it went to the kernel. */
  send(frame: Uint8Array): number;
  /** Packets captured since the last poll: the IP packet (link header removed) and its capture time. */
  poll(): Array<{ timeUs: number; packet: Buffer }>;
  close(): void;
}

let engine: NativeEngine | undefined;

/** The `code` of the error loadNative throws when the addon cannot be loaded. */
export const NATIVE_MISSING = 'PRTIP_NATIVE_MISSING';

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
    // A user error, not a bug: the build ran without libpcap (native/build.mjs said so).
    const absent = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw Object.assign(
      new Error(absent
        ? `prtip's native engine is not built (${file} is missing): install libpcap-dev and run "npm run build"`
        : `prtip's native engine cannot be loaded (${file}: ${(err as Error).message.split('\n')[0]}): run "npm run build"`),
      { code: NATIVE_MISSING },
    );
  }
  return engine;
}
