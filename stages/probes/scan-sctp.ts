/**
 * The SCTP scans: one packet with one chunk per port. -sY sends INIT, as an association's first
 * step: INIT-ACK → open, ABORT → closed, ICMP unreachable or silence → filtered. -sZ sends a
 * COOKIE-ECHO no endpoint issued: an open port drops it silently, a closed one answers ABORT, so
 * silence → open|filtered, ABORT → closed, ICMP unreachable → filtered.
 */
import { SCTP_CHUNK } from '../../native/index.js';
import { icmpReason } from './icmp-reasons.js';
import type { ProbeModule, Verdict } from './module.js';
import type { ReplyView } from './reply.js';
import { RAW_TIMING } from './timing.js';

function sctpScan(spec: Pick<ProbeModule, 'name' | 'flag' | 'title' | 'help'> & { chunk: number; initAck?: Verdict; noAnswer: Verdict }): ProbeModule {
  return {
    name: spec.name, flag: spec.flag, title: spec.title, help: spec.help, proto: 'sctp', privileged: true, ipv6: true,
    wire: () => ({ ipProto: 132, sctpChunk: spec.chunk }),
    classify(r: ReplyView) {
      if (r.isIcmp) return { state: 'filtered', reason: icmpReason(r.family, r.icmpType, r.icmpCode) };
      if (!r.isSctp) return undefined;
      if (r.sctpChunk === SCTP_CHUNK.abort) return { state: 'closed', reason: 'abort' };
      if (r.sctpChunk === SCTP_CHUNK.initAck && spec.initAck) return spec.initAck;
      return undefined;
    },
    noAnswer: spec.noAnswer,
    timing: RAW_TIMING,
  };
}

export const sctpInitScan = sctpScan({
  name: 'sctpinit', flag: '-sY', title: 'SCTP INIT scan', help: 'SCTP INIT scan (raw INIT chunks; needs root or CAP_NET_RAW)',
  chunk: SCTP_CHUNK.init, initAck: { state: 'open', reason: 'init-ack' }, noAnswer: { state: 'filtered', reason: 'no-response' },
});

export const sctpCookieEchoScan = sctpScan({
  name: 'sctpcookieecho', flag: '-sZ', title: 'SCTP COOKIE-ECHO scan', help: 'SCTP COOKIE-ECHO scan (raw COOKIE-ECHO chunks; needs root or CAP_NET_RAW)',
  chunk: SCTP_CHUNK.cookieEcho, noAnswer: { state: 'open|filtered', reason: 'no-response' },
});
