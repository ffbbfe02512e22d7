/**
 * Raw IPv4 packets → the reply fields the fingerprint needs. For a probe side that hands over
 * packets as captured (from the IP header on), and for checks against captures.
 */
import type { OsIcmpEchoReply, OsIcmpUnreachReply, OsIpFields, OsTcpReply } from './responses.js';
import { decodeTcpOptions } from './tcp-options.js';

export type DecodedOsReply =
  | { proto: 'tcp'; src: string; dst: string; reply: OsTcpReply }
  | { proto: 'icmp-echo-reply'; src: string; dst: string; reply: OsIcmpEchoReply }
  | { proto: 'icmp-unreach'; src: string; dst: string; reply: OsIcmpUnreachReply }
  | { proto: 'other'; src: string; dst: string };

const v4 = (b: Uint8Array, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/** Decodes an IPv4 packet (IP header first); undefined when it is not a whole IPv4 header. */
export function decodeIpv4Reply(pkt: Uint8Array): DecodedOsReply | undefined {
  if (pkt.length < 20 || pkt[0]! >> 4 !== 4) return undefined;
  const ihl = (pkt[0]! & 0x0f) * 4;
  if (ihl < 20 || pkt.length < ihl) return undefined;
  const dv = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  const totalLength = dv.getUint16(2);
  // Bytes of this datagram actually present (a capture may carry Ethernet padding after it).
  const end = Math.min(pkt.length, totalLength);
  const ip: OsIpFields = {
    id: dv.getUint16(4),
    ttl: pkt[8]!,
    df: (dv.getUint16(6) & 0x4000) !== 0,
    totalLength,
    checksum: dv.getUint16(10),
  };
  const proto = pkt[9]!;
  const src = v4(pkt, 12);
  const dst = v4(pkt, 16);
  const l4 = ihl;
  if (proto === 6 && end >= l4 + 20) {
    const off = (pkt[l4 + 12]! >> 4) * 4;
    if (off < 20 || end < l4 + off) return { proto: 'other', src, dst };
    const { options, malformed } = decodeTcpOptions(pkt.subarray(l4 + 20, l4 + off));
    const reply: OsTcpReply = {
      ip,
      sport: dv.getUint16(l4),
      dport: dv.getUint16(l4 + 2),
      seq: dv.getUint32(l4 + 4),
      ack: dv.getUint32(l4 + 8),
      reserved: pkt[l4 + 12]! & 0x0f,
      flags: pkt[l4 + 13]!,
      window: dv.getUint16(l4 + 14),
      urgentPointer: dv.getUint16(l4 + 18),
      options,
      payload: Uint8Array.from(pkt.subarray(l4 + off, end)),
    };
    if (malformed) reply.optionsMalformed = true;
    return { proto: 'tcp', src, dst, reply };
  }
  if (proto === 1 && end >= l4 + 8) {
    const type = pkt[l4]!;
    const code = pkt[l4 + 1]!;
    if (type === 0) {
      return {
        proto: 'icmp-echo-reply', src, dst,
        reply: { ip, type, code, id: dv.getUint16(l4 + 4), seq: dv.getUint16(l4 + 6), payload: Uint8Array.from(pkt.subarray(l4 + 8, end)) },
      };
    }
    if (type === 3) {
      return {
        proto: 'icmp-unreach', src, dst,
        reply: { ip, type, code, unused: dv.getUint32(l4 + 4), quoted: Uint8Array.from(pkt.subarray(l4 + 8, end)) },
      };
    }
  }
  return { proto: 'other', src, dst };
}
