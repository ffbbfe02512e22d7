/**
 * The shape every TCP flag scan shares (SYN, FIN, NULL, Xmas, Maimon, ACK, Window): probes with
 * fixed flags, an ICMP unreachable means filtered, and only the RST (and SYN-ACK) rules differ.
 * A new flag combination is a few lines calling tcpFlagScan in scan-tcp.ts (see scan-tcp.ts).
 */
import type { PortState } from '../records/index.js';
import { icmpReason } from './icmp-reasons.js';
import type { ProbeModule, Verdict } from './module.js';
import type { ReplyView } from './reply.js';
import { flagsOf, TCP_FLAG_BITS } from './tcp-flags.js';
import { RAW_TIMING } from './timing.js';

export interface TcpFlagScanSpec {
  name: string;
  flag: string;
  title: string;
  /** --help line; default from the title and flags. */
  help?: string;
  /** Flag letters of the probe: F S R P A U E C ("FPU" for Xmas, "" for NULL). */
  flags: string;
  /** What a RST from the target means (the reply is there for the Window scan's window). */
  rst: (reply: ReplyView) => Verdict;
  /** What a SYN-ACK means (probes with SYN only). */
  synAck?: Verdict;
  noAnswer: PortState;
  /** TCP options of the probe; default none (nmap sends MSS only with SYN). */
  tcpOptions?: Uint8Array;
}

export function tcpFlagScan(spec: TcpFlagScanSpec): ProbeModule {
  const tcpFlags = flagsOf(spec.flags);
  return {
    name: spec.name,
    flag: spec.flag,
    title: spec.title,
    help: spec.help ?? `${spec.title} (raw ${spec.flags ? spec.flags.split('').join('+') : 'flagless'} probes; needs root or CAP_NET_RAW)`,
    proto: 'tcp',
    privileged: true,
    ipv6: true,
    wire: () => ({ ipProto: 6, tcpFlags, window: 1024, tcpOptions: spec.tcpOptions ?? new Uint8Array(0) }),
    classify(r) {
      if (r.isIcmp) return { state: 'filtered', reason: icmpReason(r.family, r.icmpType, r.icmpCode) };
      if (!r.isTcp) return undefined;
      if (r.tcpFlags & TCP_FLAG_BITS.R) return spec.rst(r);
      if (spec.synAck && (r.tcpFlags & (TCP_FLAG_BITS.S | TCP_FLAG_BITS.A)) === (TCP_FLAG_BITS.S | TCP_FLAG_BITS.A)) return spec.synAck;
      return undefined;
    },
    noAnswer: { state: spec.noAnswer, reason: 'no-response' },
    timing: RAW_TIMING,
  };
}

export const closedOnReset = (): Verdict => ({ state: 'closed', reason: 'reset' });
