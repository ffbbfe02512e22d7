/**
 * A probe module, as ZMap's: one small object per scan type (and, next, per discovery or OS
 * probe). It names the scan type (nmap.dtd's name), its flag, the protocol of the probes it takes,
 * what native puts on the wire, how a reply classifies, and what silence means. The raw session
 * (raw-session.ts) does everything else, the same for every module.
 */
import type { WireSpec } from '../../native/index.js';
import type { PortState, Proto } from '../records/index.js';
import type { ReplyView } from './reply.js';

export interface Verdict {
  state: PortState;
  /** nmap's reason vocabulary: syn-ack, reset, udp-response, port-unreach, no-response, … */
  reason: string;
}

/** What a probe module contributes to the wire spec (native/index.ts: WireSpec). */
export type ModuleWire = Pick<WireSpec, 'ipProto' | 'tcpFlags' | 'window' | 'tcpOptions' | 'payload' | 'portPayloads' | 'sctpChunk'>;

/** What the scan's options give a module to build its wire part from. */
export interface WireContext {
  /** nmap's data directory (nmap-payloads, nmap-service-probes), when given. */
  datadir?: string;
  /** Payload override (--data, --data-string, --data-length): every probe carries it. */
  payload?: Uint8Array;
  /** Ports this run probes with the module (a module may load only what they need). */
  ports?: readonly number[];
}

/** Timing defaults per template (-T0 … -T5) for a raw module. */
export interface RawTiming {
  /** First wait for an answer (before RTTs are measured), and the bounds of the adapted timeout, ms. */
  initial: number;
  min: number;
  max: number;
  retries: number;
  /** Most probes per second the template allows (undefined: as fast as the path takes them). */
  maxRate?: number;
  /** Least gap between probes (ms), most it may grow to for a rate-limiting host, most probes awaiting answers. */
  scanDelay?: number;
  maxScanDelay?: number;
  parallelism?: number;
  /** A host not finished after this long (ms) is given up (-T5: 15 min). */
  hostTimeout?: number;
  /** Congestion control: the first pace (probes/s) and the growth per interval past slow start. */
  initialRate?: number;
  caGrowth?: number;
}

export interface ScanTypeInfo {
  /** nmap.dtd's scan type name: syn, connect, fin, null, xmas, maimon, ack, window, udp, … */
  name: string;
  /** Its command-line flag, nmap's: -sS. */
  flag: string;
  /** Human name: "TCP SYN scan". */
  title: string;
  /** One line for --help. */
  help: string;
  /** The protocol of the (port, proto) probes it takes from a batch. */
  proto: Proto;
  /** Needs raw sockets (root or CAP_NET_RAW). */
  privileged: boolean;
  /** The flag's argument, when it takes one (-sI ZOMBIE[:PORT]); the CLI keeps it by scan type name. */
  value?: string;
}

export interface ProbeModule extends ScanTypeInfo {
  privileged: true;
  /** IPv6 works for this module. */
  ipv6: boolean;
  /** What native builds for its probes (the session adds addresses, TTL and evasion options). */
  wire(ctx: WireContext): ModuleWire;
  /** A reply's meaning; undefined: not an answer this module understands (it stays unanswered). */
  classify(reply: ReplyView): Verdict | undefined;
  /** The verdict for a probe that got no answer after its retries. */
  noAnswer: Verdict;
  /** Timing per template (-T0 … -T5). */
  timing: readonly RawTiming[];
  /**
   * The target answers silence-meaning probes with ICMP errors a host rate-limits (UDP): the
   * session then watches each host's drop pattern and slows down for it, as nmap does.
   */
  icmpRateLimited?: boolean;
  /**
   * The IP protocol number of the batch entries it takes, when not its `proto`'s (discovery's
   * ICMP probes: 1, with the request type in the port column).
   */
  protoNumber?: number;
}
