/**
 * -sO, the IP protocol scan: one probe per IP protocol number (the record's "port", proto "ip"),
 * with a header fit for the protocols hosts answer (native/src/proto-ipproto.cc). Any packet of
 * the probed protocol back → open/proto-response (an ICMP echo reply too: nmap labels that one
 * proto-unreach on IPv4, proto-response on IPv6), and so is an ICMP port unreachable (a UDP stack
 * sent it); ICMP protocol unreachable from the target → closed; on IPv6 a parameter problem
 * "unrecognized next header" → closed, any other parameter problem → open (the host read the
 * protocol's header: it speaks it), as nmap; other unreachables → filtered; silence → open|filtered.
 */
import { PROTO_SCAN } from '../../native/index.js';
import { icmpReason, isPortUnreachable } from './icmp-reasons.js';
import type { ProbeModule, Verdict } from './module.js';
import type { ReplyView } from './reply.js';
import { RAW_TIMING } from './timing.js';

const isProtoUnreachable = (r: ReplyView) => (r.family === 4 ? r.icmpType === 3 && r.icmpCode === 2 : r.icmpType === 4 && r.icmpCode === 1);

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
      const reason = r.family === 6 && r.icmpType === 4 ? 'param-problem' : 'proto-unreach';
      if (isProtoUnreachable(r)) return r.fromTarget ? { state: 'closed', reason } : { state: 'filtered', reason };
      if (r.family === 6 && r.icmpType === 4) return { state: 'open', reason };
      if (isPortUnreachable(r.family, r.icmpType, r.icmpCode)) return { state: 'open', reason: 'port-unreach' };
      return { state: 'filtered', reason: icmpReason(r.family, r.icmpType, r.icmpCode) };
    }
    return { state: 'open', reason: 'proto-response' };
  },
  noAnswer: { state: 'open|filtered', reason: 'no-response' },
  timing: RAW_TIMING,
};
