/**
 * What discovery knows of each host, in bounded memory: 2 bits per IPv4 address in 16 KiB pages
 * of one /16 each, created as hosts are first seen (a /8 sweep: 256 pages, 4 MiB), and a map for
 * IPv6 hosts (plans enumerate them: a /104 is already 16M). States: unknown, pending, up, down.
 */
export const UNKNOWN = 0;
export const PENDING = 1;
export const UP = 2;
export const DOWN = 3;
export type HostStateCode = 0 | 1 | 2 | 3;

export class HostStates {
  private readonly v4 = new Map<number, Uint8Array>();
  private readonly v6 = new Map<string, HostStateCode>();

  /** The state of the address at `addrs[off…]` (4 or 16 bytes). */
  get(family: 4 | 6, addrs: Uint8Array, off: number): HostStateCode {
    if (family === 6) return this.v6.get(key6(addrs, off)) ?? UNKNOWN;
    const page = this.v4.get((addrs[off]! << 8) | addrs[off + 1]!);
    if (!page) return UNKNOWN;
    const low = (addrs[off + 2]! << 8) | addrs[off + 3]!;
    return ((page[low >> 2]! >> ((low & 3) * 2)) & 3) as HostStateCode;
  }

  set(family: 4 | 6, addrs: Uint8Array, off: number, state: HostStateCode): void {
    if (family === 6) {
      this.v6.set(key6(addrs, off), state);
      return;
    }
    const hi = (addrs[off]! << 8) | addrs[off + 1]!;
    let page = this.v4.get(hi);
    if (!page) this.v4.set(hi, (page = new Uint8Array(16384)));
    const low = (addrs[off + 2]! << 8) | addrs[off + 3]!;
    const shift = (low & 3) * 2;
    page[low >> 2] = (page[low >> 2]! & ~(3 << shift)) | (state << shift);
  }

  /** Bytes held (for the memory figures). */
  get bytes(): number {
    return this.v4.size * 16384 + this.v6.size * 48;
  }
}

function key6(addrs: Uint8Array, off: number): string {
  return Buffer.from(addrs.buffer, addrs.byteOffset + off, 16).toString('latin1');
}
