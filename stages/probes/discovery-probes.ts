/**
 * Host discovery's raw probe modules (nmap's -PE/-PP/-PM, -PS, -PA, -PU, -PY, -PO): the same interface as a
 * scan type's, run by the same raw session, but a verdict here speaks of the host, not the port —
 * state 'open' means "this answer proves the host up" (reason: nmap's word for the answer), and
 * 'filtered' an answer that proves nothing by itself (an ICMP error from a router on the way).
 * The records they produce never leave the discover stage, which turns them into host records.
 */
import { icmpReason, isPortUnreachable } from './icmp-reasons.js';
import type { ProbeModule, Verdict } from './module.js';
import type { ReplyView } from './reply.js';
import { synScan, ackScan } from './scan-tcp.js';
import { udpScan } from './scan-udp.js';
import { sctpInitScan } from './scan-sctp.js';
import { ipProtoScan } from './scan-ipproto.js';
import { SCTP_CHUNK } from '../../native/index.js';
import { RAW_TIMING } from './timing.js';

/** ICMP request types the ICMP module sends, as the port column carries them. */
export const ICMP_ECHO = 8;
export const ICMP_TIMESTAMP = 13;
export const ICMP_MASK = 17;

const up = (reason: string): Verdict => ({ state: 'open', reason });
const unproven = (reason: string): Verdict => ({ state: 'filtered', reason });
const silence: Verdict = { state: 'filtered', reason: 'no-response' };

/** An ICMP error: from the target itself it proves the host up (nmap counts them so); from a router, nothing. */
function icmpError(r: ReplyView): Verdict {
  const reason = icmpReason(r.family, r.icmpType, r.icmpCode);
  return r.fromTarget ? up(reason) : unproven(reason);
}

/** -PE/-PP/-PM: ICMP echo, timestamp and address-mask requests (ICMPv6 echo on IPv6), one engine for all three. */
export const icmpPing: ProbeModule = {
  name: 'icmp-ping', flag: '-PE', title: 'ICMP ping', help: 'ICMP echo, timestamp and address-mask requests',
  proto: 'tcp', // not used: protoNumber says which entries it takes, and its records stay inside discover
  protoNumber: 1,
  privileged: true,
  ipv6: true,
  wire: () => ({ ipProto: 1 }),
  classify(r) {
    if (r.isIcmpAnswer) {
      const t = r.icmpType;
      return up(t === 14 ? 'timestamp-reply' : t === 18 ? 'addressmask-reply' : 'echo-reply');
    }
    return r.isIcmp ? icmpError(r) : undefined;
  },
  noAnswer: silence,
  timing: RAW_TIMING,
};

/** -PS: a SYN; a SYN-ACK or a RST proves the host up (a RST proves nothing with --discovery-ignore-rst). */
export function tcpSynPing(ignoreRst: boolean): ProbeModule {
  return {
    ...synScan, name: 'syn-ping', flag: '-PS', title: 'TCP SYN ping', help: 'TCP SYN to the given ports',
    classify(r) {
      if (r.isTcp) return r.tcpFlags & 0x04 ? (ignoreRst ? undefined : up('reset')) : up('syn-ack');
      return r.isIcmp ? icmpError(r) : undefined;
    },
    noAnswer: silence,
  };
}

/** -PA: a bare ACK; the RST a live host answers it with proves it up. */
export function tcpAckPing(ignoreRst: boolean): ProbeModule {
  return {
    ...ackScan, name: 'ack-ping', flag: '-PA', title: 'TCP ACK ping', help: 'TCP ACK to the given ports',
    classify(r) {
      if (r.isTcp) return ignoreRst && r.tcpFlags & 0x04 ? undefined : up('reset');
      return r.isIcmp ? icmpError(r) : undefined;
    },
    noAnswer: silence,
  };
}

/** -PU: a UDP datagram (nmap's payload for the port, if any); any UDP answer or a port unreachable from the target proves it up. */
export const udpPing: ProbeModule = {
  ...udpScan, name: 'udp-ping', flag: '-PU', title: 'UDP ping', help: 'UDP datagrams to the given ports',
  icmpRateLimited: false, // one probe per port and host: there is no drop pattern to slow down for
  classify(r) {
    if (r.isUdp) return up('udp-response');
    if (r.isIcmp && isPortUnreachable(r.family, r.icmpType, r.icmpCode) && r.fromTarget) return up('port-unreach');
    return r.isIcmp ? icmpError(r) : undefined;
  },
  noAnswer: silence,
};

/** -PY: an SCTP INIT; an INIT-ACK (a listening port) or an ABORT (a closed one) proves the host up. */
export const sctpInitPing: ProbeModule = {
  ...sctpInitScan, name: 'sctp-ping', flag: '-PY', title: 'SCTP INIT ping', help: 'SCTP INIT to the given ports',
  classify(r) {
    if (r.isSctp) return r.sctpChunk === SCTP_CHUNK.initAck ? up('init-ack') : r.sctpChunk === SCTP_CHUNK.abort ? up('abort') : undefined;
    return r.isIcmp ? icmpError(r) : undefined;
  },
  noAnswer: silence,
};

/**
 * -PO: one packet per IP protocol (the port column carries the protocol number), with the header
 * -sO gives it (ICMP echo, IGMP query, TCP ACK, UDP, SCTP INIT; others bare). Any packet of the
 * protocol back proves the host up (nmap's reason: proto-response, whatever the protocol — an
 * echo reply or a RST too), and so does any ICMP error the target itself sends: a protocol
 * unreachable (proto-unreach), a port unreachable to the UDP probe, an ICMPv6 parameter problem.
 */
export const ipProtoPing: ProbeModule = {
  ...ipProtoScan, name: 'ipproto-ping', flag: '-PO', title: 'IP protocol ping', help: 'IP packets of the given protocols',
  classify(r) {
    // ICMPv6 parameter problem: the target read the packet (an unknown next header, or a bad field).
    if (r.isIcmp && r.family === 6 && r.icmpType === 4) return r.fromTarget ? up('param-problem') : unproven('param-problem');
    if (r.isIcmp) return icmpError(r);
    return up('proto-response');
  },
  noAnswer: silence,
};
