/**
 * -sU: UDP probes with nmap's payload for the port (nmap-payloads, else nmap-service-probes' UDP
 * probes; none elsewhere; --data… overrides). Any UDP reply → open; ICMP port unreachable from the
 * target → closed (from anyone else → filtered); other unreachables → filtered; silence → open|filtered.
 */
import { loadUdpPayloads } from '../datafiles/index.js';
import { icmpReason, isPortUnreachable } from './icmp-reasons.js';
import type { ProbeModule } from './module.js';
import { RAW_TIMING } from './timing.js';

export const udpScan: ProbeModule = {
  name: 'udp',
  flag: '-sU',
  title: 'UDP scan',
  help: 'UDP scan (raw packets with nmap-payloads per port; needs root or CAP_NET_RAW)',
  proto: 'udp',
  privileged: true,
  ipv6: true,
  icmpRateLimited: true,
  wire(ctx) {
    if (ctx.payload) return { ipProto: 17 };
    const { byPort } = loadUdpPayloads(ctx.datadir);
    const wanted = ctx.ports ? new Set(ctx.ports) : undefined;
    const portPayloads: Array<[number, Uint8Array[]]> = [];
    for (const [port, list] of byPort) if (!wanted || wanted.has(port)) portPayloads.push([port, list]);
    return { ipProto: 17, portPayloads };
  },
  classify(r) {
    if (r.isUdp) return { state: 'open', reason: 'udp-response' };
    if (!r.isIcmp) return undefined;
    if (isPortUnreachable(r.family, r.icmpType, r.icmpCode)) {
      return r.fromTarget ? { state: 'closed', reason: 'port-unreach' } : { state: 'filtered', reason: 'port-unreach' };
    }
    return { state: 'filtered', reason: icmpReason(r.family, r.icmpType, r.icmpCode) };
  },
  noAnswer: { state: 'open|filtered', reason: 'no-response' },
  timing: RAW_TIMING,
};
