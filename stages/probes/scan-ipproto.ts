/**
 * -sO, the IP protocol scan: one probe per IP protocol number (the record's "port", proto "ip"),
 * with a header fit for the protocols hosts answer (native/src/proto-ipproto.cc). Any packet of
 * the probed protocol back → open, and so is an ICMP port unreachable (a UDP stack sent it);
 * ICMP protocol unreachable (ICMPv6 "unrecognized next header") from the target → closed; other
 * unreachables → filtered; silence → open|filtered.
 */
import { PROTO_SCAN } from '../../native/index.js';
import { icmpReason, isPortUnreachable } from './icmp-reasons.js';
import type { ProbeModule, Verdict } from './module.js';
import type { ReplyView } from './reply.js';
import { RAW_TIMING } from './timing.js';

const isProtoUnreachable = (r: ReplyView) => (r.family === 4 ? r.icmpType === 3 && r.icmpCode === 2 : r.icmpType === 4 && r.icmpCode === 1);

/** nmap's reason for a direct answer in the probed protocol: proto-response, but echo-reply for ICMP's. */
const responseReason = (r: ReplyView) => (r.isOtherProto && (r.ipProto === 1 || r.ipProto === 58) ? 'echo-reply' : 'proto-response');

export const ipProtoScan: ProbeModule = {
  name: 'ipproto',
  flag: '-sO',
  title: 'IP protocol scan',
  help: 'IP protocol scan: which IP protocols (0-255, -p numbers) the host speaks (raw packets; needs root or CAP_NET_RAW)',
  proto: 'ip',
  privileged: true,
  ipv6: true,
  wire: () => ({ ipProto: PROTO_SCAN }),
  classify(r): Verdict | undefined {
    if (r.isIcmp) {
      if (isProtoUnreachable(r)) return r.fromTarget ? { state: 'closed', reason: 'proto-unreach' } : { state: 'filtered', reason: 'proto-unreach' };
      if (isPortUnreachable(r.family, r.icmpType, r.icmpCode)) return { state: 'open', reason: 'port-unreach' };
      return { state: 'filtered', reason: r.family === 6 && r.icmpType === 4 ? 'param-problem' : icmpReason(r.family, r.icmpType, r.icmpCode) };
    }
    return { state: 'open', reason: responseReason(r) };
  },
  noAnswer: { state: 'open|filtered', reason: 'no-response' },
  timing: RAW_TIMING,
};
