/**
 * A captured reply as the raw engine packs it (native/src/wire.h: ReplyRecord). The field offsets
 * come from native itself (replyLayout()), so this file holds no retyped layout: a field added in
 * C++ shows up here by name.
 */
import { loadNative, type ReplyFieldName, type ReplyLayout } from '../../native/index.js';
import { formatIPv6 } from '../records/index.js';

let layout: ReplyLayout | undefined;
/** The packed reply layout of the loaded native build. */
export function replyLayout(): ReplyLayout {
  return (layout ??= loadNative().replyLayout());
}

const off = (name: ReplyFieldName) => replyLayout().fields[name][0];

/**
 * A window onto one packed reply: `at(i)` moves it, getters read in place (no object per field,
 * no copy). Probe modules classify through it.
 */
export class ReplyView {
  readonly size: number;
  readonly kinds: ReplyLayout['kinds'];
  private base = 0;
  private dv: DataView;
  private readonly o: Record<ReplyFieldName, number>;

  constructor(readonly packed: Buffer) {
    const l = replyLayout();
    this.size = l.size;
    this.kinds = l.kinds;
    this.dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    this.o = Object.fromEntries(Object.keys(l.fields).map((k) => [k, off(k as ReplyFieldName)])) as Record<ReplyFieldName, number>;
  }

  /** Number of replies in the buffer. */
  get count(): number {
    return Math.floor(this.packed.byteLength / this.size);
  }

  at(i: number): this {
    this.base = i * this.size;
    return this;
  }

  private u8(f: ReplyFieldName): number { return this.packed[this.base + this.o[f]]!; }
  private u16(f: ReplyFieldName): number { return this.dv.getUint16(this.base + this.o[f], true); }
  private u32(f: ReplyFieldName): number { return this.dv.getUint32(this.base + this.o[f], true); }

  get index(): number { return this.dv.getFloat64(this.base + this.o.index, true); }
  get timeMs(): number { return this.dv.getFloat64(this.base + this.o.timeMs, true); }
  /** Round-trip time in ms, -1 when unknown. */
  get rttMs(): number { return this.dv.getFloat32(this.base + this.o.rttMs, true); }
  /** Times the probe had been sent when this reply came: 1 gives an RTT sample, more does not (Karn's rule). */
  get tries(): number { return this.u8('tries'); }
  get family(): 4 | 6 { return this.u8('family') as 4 | 6; }
  get kind(): number { return this.u8('kind'); }
  get isTcp(): boolean { return this.kind === this.kinds.tcp; }
  get isUdp(): boolean { return this.kind === this.kinds.udp; }
  /** An ICMP error quoting the probe. */
  get isIcmp(): boolean { return this.kind === this.kinds.icmp; }
  /** An ICMP answer to an ICMP probe (echo, timestamp or address-mask reply), not an error. */
  get isIcmpAnswer(): boolean { return this.kind === this.kinds.icmpAnswer; }
  get isSctp(): boolean { return this.kind === this.kinds.sctp; }
  /** Protocol scan: a packet of another probed protocol (an ICMP echo reply, …). */
  get isOtherProto(): boolean { return this.kind === this.kinds.proto; }
  /** SCTP reply: its first chunk's type (2 INIT-ACK, 6 ABORT). */
  get sctpChunk(): number { return this.u8('sctpChunk'); }
  /** The IP protocol the reply answers (protocol scan: the probed one). */
  get ipProto(): number { return this.u8('ipProto'); }
  get port(): number { return this.u16('port'); }
  get ttl(): number { return this.u8('ttl'); }
  get window(): number { return this.u16('window'); }
  get ipId(): number { return this.u16('ipId'); }
  get seq(): number { return this.u32('seq'); }
  get ack(): number { return this.u32('ack'); }
  get tcpFlags(): number { return this.u8('tcpFlags'); }
  get icmpType(): number { return this.u8('icmpType'); }
  get icmpCode(): number { return this.u8('icmpCode'); }
  get payloadLength(): number { return this.u16('payloadLength'); }
  get quotedLength(): number { return this.u16('quotedLength'); }
  get tcpOptions(): Buffer { return this.packed.subarray(this.base + this.o.tcpOptions, this.base + this.o.tcpOptions + this.u8('tcpOptionsLength')); }
  get payloadHead(): Buffer { return this.packed.subarray(this.base + this.o.payloadHead, this.base + this.o.payloadHead + this.u8('payloadHeadLength')); }
  /** The probe's destination, as text. */
  get ip(): string { return addrText(this.packed, this.base + this.o.addr, this.family); }
  /** The reply's IP source (an ICMP error's sender), as text. */
  get from(): string { return addrText(this.packed, this.base + this.o.from, this.family); }
  /** True when the reply came from the probed address itself (not a router or firewall on the way). */
  get fromTarget(): boolean {
    const a = this.base + this.o.addr, b = this.base + this.o.from, n = this.family === 4 ? 4 : 16;
    for (let k = 0; k < n; k++) if (this.packed[a + k] !== this.packed[b + k]) return false;
    return true;
  }
}

export function addrText(b: Uint8Array, at: number, family: 4 | 6): string {
  return family === 4 ? `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}` : formatIPv6(b.subarray(at, at + 16));
}
