/**
 * Where each target is, as discovery needs to know it: this machine's own address (nmap: up,
 * localhost-response), on the local link (ARP/ND decides, as nmap does unless --disable-arp-ping),
 * not unicast (a broadcast address: never probed), or behind a router (ping probes). Routes are
 * looked up once per /24 (/64), and per address inside prefixes that are on the link or special.
 */
import { addrText, nextHopsOf, resolveRawRoute, type NextHop } from '../probes/index.js';
import { UserInputError } from '../records/index.js';

export type Place = 'local' | 'link' | 'special' | 'routed';

export class LinkMap {
  private readonly byPrefix = new Map<string, NextHop>();
  private readonly byAddr = new Map<string, NextHop>();

  constructor(private readonly overrides: { iface?: string; source?: string } = {}) {}

  /** Each address's place and next hop, in order. */
  async places(family: 4 | 6, addrs: Uint8Array): Promise<Array<{ ip: string; place: Place; hop: NextHop }>> {
    const width = family === 4 ? 4 : 16;
    const plen = family === 4 ? 3 : 8;
    const prefixKey = (o: number) => Buffer.from(addrs.subarray(o, o + plen)).toString('hex');
    // Loopback (127/8, ::1) is this machine's without asking the kernel: a loopback scan starts at once.
    const loopback = (o: number) => family === 4 ? addrs[o] === 127 : addrs.subarray(o, o + 15).every((b) => b === 0) && addrs[o + 15] === 1;
    if (addrs.length > 0 && Array.from({ length: addrs.length / width }, (_, k) => k * width).every(loopback)) {
      const out: Array<{ ip: string; place: Place; hop: NextHop }> = [];
      for (let o = 0; o < addrs.length; o += width) {
        const ip = addrText(addrs, o, family);
        out.push({ ip, place: 'local', hop: { nextHop: ip, onLink: false, ifname: 'lo', local: true, type: 'local', ipLink: false } });
      }
      return out;
    }
    const fresh = new Map<string, string>();
    for (let o = 0; o < addrs.length; o += width) {
      const k = prefixKey(o);
      if (!this.byPrefix.has(k) && !fresh.has(k)) fresh.set(k, addrText(addrs, o, family));
    }
    if (fresh.size) {
      const hops = await nextHopsOf([...fresh.values()], this.overrides);
      for (const [k, a] of fresh) {
        const h = hops.get(a);
        if (!h) {
          // resolveRawRoute says why (a bad -e or -S), as the port scan would.
          if (this.overrides.iface || this.overrides.source) await resolveRawRoute(a, this.overrides);
          throw new UserInputError(`no route to ${a}`);
        }
        this.byPrefix.set(k, h);
      }
    }
    const perAddress = (h: NextHop) => h.onLink || h.local || h.type !== 'unicast';
    const wanted: string[] = [];
    for (let o = 0; o < addrs.length; o += width) {
      if (!perAddress(this.byPrefix.get(prefixKey(o))!)) continue;
      const ip = addrText(addrs, o, family);
      if (!this.byAddr.has(ip)) wanted.push(ip);
    }
    if (wanted.length) {
      const hops = await nextHopsOf(wanted, this.overrides);
      for (const ip of wanted) {
        const h = hops.get(ip);
        if (!h) throw new UserInputError(`no route to ${ip}`);
        this.byAddr.set(ip, h);
      }
    }
    const out: Array<{ ip: string; place: Place; hop: NextHop }> = [];
    for (let o = 0; o < addrs.length; o += width) {
      const ip = addrText(addrs, o, family);
      const hop = this.byAddr.get(ip) ?? this.byPrefix.get(prefixKey(o))!;
      // A bare-IP link (tun, ppp, tunnels) has no ARP/ND: its hosts get the ping probes, as nmap does.
      const place: Place = hop.local ? 'local' : hop.type !== 'unicast' ? 'special' : hop.onLink && !hop.ipLink ? 'link' : 'routed';
      out.push({ ip, place, hop });
    }
    // Per-address routes are only needed while their group is probed: the cache stays small.
    if (this.byAddr.size > 65536) this.byAddr.clear();
    return out;
  }
}
