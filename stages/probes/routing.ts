/**
 * Where raw probes leave from: the interface, source address and next-hop MAC for a target, from
 * the kernel's routing and neighbour tables (`ip -j route get`, `ip -j neigh`). -e and -S override
 * the interface and source address. An unresolved neighbour is resolved by sending one UDP
 * datagram to the next hop (the kernel then runs ARP/NDP), never by guessing. Hosts on the local
 * link are looked up in bulk: many routes in one `ip -batch`, the whole neighbour table at once.
 */
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { promisify } from 'node:util';
import { UserInputError } from '../records/index.js';

const run = promisify(execFile);

export interface RawRoute {
  family: 4 | 6;
  ifname: string;
  source: string;
  sourceBytes: Uint8Array;
  srcMac: Uint8Array;
  nextHop: string;
  /**
   * The gateway's MAC. For a target on the local link it is not resolved here (all zeros): each
   * on-link host's MAC is resolved on its own (resolveNeighbours) and travels with its probes.
   */
  nextHopMac: Uint8Array;
  /** True when the target is on the local link (no gateway): then the next hop is the target itself. */
  onLink: boolean;
  /** True when the target is an address of this machine (route type local). */
  local: boolean;
  /** The interface's link type as `ip link` names it (ether, loopback, none, ppp, ipip, gre, …). */
  linkType: string;
  /**
   * The interface carries bare IP packets (tun, WireGuard, ppp, ipip/gre/sit tunnels): probes go
   * out as IP packets, no next hop has a MAC, and there is no ARP/ND (nmap's ARP ping needs Ethernet).
   */
  ipLink: boolean;
}

/** `ip link` link types whose interfaces carry bare IP packets (native/src/pcap-info.cc agrees from ARPHRD). */
const IP_LINK_TYPES = new Set(['none', 'ppp', 'rawip', 'ipip', 'ip6tnl', 'sit', 'gre', 'ip6gre']);

/** Whether raw probes can go out on a link of this type, and how; a refusal names the reason. */
export function linkKind(ifname: string, linkType: string): { ipLink: boolean } {
  if (linkType === 'ether' || linkType === 'loopback') return { ipLink: false };
  if (IP_LINK_TYPES.has(linkType)) return { ipLink: true };
  throw new UserInputError(
    `raw probes cannot go out on ${ifname}: its link type "${linkType}" is neither Ethernet nor a bare-IP link (tun, WireGuard, ppp, ipip/gre); use -sT`,
  );
}

/** Link type of each interface (`ip -j link`), re-read when an interface is not known yet. */
const linkTypes = new Map<string, string>();
async function linkTypeOf(ifname: string): Promise<string | undefined> {
  if (!linkTypes.has(ifname)) {
    for (const l of await ipJson(['link', 'show'])) {
      if (typeof l.ifname === 'string' && typeof l.link_type === 'string') linkTypes.set(l.ifname, l.link_type);
    }
  }
  return linkTypes.get(ifname);
}

export interface RouteOverrides {
  /** -e IFACE */
  iface?: string;
  /** -S ADDR */
  source?: string;
}

/** Address text → bytes in network order (4 or 16). */
export function addressBytes(text: string): Uint8Array {
  const fam = net.isIP(text);
  if (fam === 4) return Uint8Array.from(text.split('.').map(Number));
  if (fam !== 6) throw new UserInputError(`"${text}" is not an IP address`);
  let t = text.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const b = addressBytes(v4[1]!);
    t = t.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = t.split('::') as [string, string | undefined];
  const hg = head ? head.split(':') : [];
  const tg = tail ? tail.split(':') : [];
  const words = [...hg, ...Array<string>(8 - hg.length - tg.length).fill('0'), ...tg].map((w) => parseInt(w, 16));
  const out = new Uint8Array(16);
  words.forEach((w, i) => { out[i * 2] = w >>> 8; out[i * 2 + 1] = w & 0xff; });
  return out;
}

export function macBytes(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p))) throw new Error(`bad MAC address "${text}"`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

async function ipJson(args: string[]): Promise<Array<Record<string, unknown>>> {
  try {
    const { stdout } = await run('ip', ['-j', ...args], { timeout: 10_000 });
    return stdout.trim() ? (JSON.parse(stdout) as Array<Record<string, unknown>>) : [];
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new UserInputError(`ip ${args.join(' ')}: ${(err.stderr || err.message).trim().split('\n')[0]}`);
  }
}

async function neighbourMac(ifname: string, addr: string): Promise<string | undefined> {
  const rows = await ipJson(['neigh', 'show', 'to', addr, 'dev', ifname]);
  for (const r of rows) {
    const state = (r.state as string[] | undefined) ?? [];
    if (typeof r.lladdr === 'string' && !state.includes('FAILED') && !state.includes('INCOMPLETE')) return r.lladdr;
  }
  return undefined;
}

/** Whether an interface can carry packets now: up (administratively), down, or gone. */
export async function linkState(ifname: string): Promise<'up' | 'down' | 'gone'> {
  let rows: Array<Record<string, unknown>>;
  try {
    rows = await ipJson(['link', 'show', 'dev', ifname]);
  } catch {
    return 'gone';
  }
  const flags = (rows[0]?.flags as string[] | undefined) ?? [];
  if (!rows[0]) return 'gone';
  return flags.includes('UP') && rows[0].operstate !== 'DOWN' ? 'up' : 'down';
}

/** The usable entries (a link-layer address, not FAILED/INCOMPLETE) of an interface's neighbour table, by addressKey. */
export async function neighbourTable(ifname: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const r of await ipJson(['neigh', 'show', 'dev', ifname])) {
    const state = (r.state as string[] | undefined) ?? [];
    if (typeof r.dst !== 'string' || typeof r.lladdr !== 'string' || state.includes('FAILED') || state.includes('INCOMPLETE')) continue;
    if (!net.isIP(r.dst)) continue;
    try {
      out.set(addressKey(r.dst), macBytes(r.lladdr));
    } catch {
      // not an Ethernet address (another link type): no use for our frames
    }
  }
  return out;
}

/** A canonical key for an address (hex of its bytes), whatever its text form. */
export function addressKey(text: string): string {
  return Buffer.from(addressBytes(text)).toString('hex');
}

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The MACs of on-link hosts, from the neighbour table of `ifname`: read once; the addresses it
 * lacks get one UDP datagram each (bounded parallelism) so the kernel runs ARP/NDP, and the table
 * is polled until they are all resolved or `waitMs` ran out. Hosts that did not answer are absent.
 * Addresses are resolved in chunks (`chunk`, each with its own wait) so the pending entries stay
 * under the kernel's neighbour table limit (net.ipv4.neigh.default.gc_thresh3, 1024 by default).
 */
export async function resolveNeighbours(
  ifname: string,
  family: 4 | 6,
  addrs: string[],
  opts: { waitMs?: number; parallel?: number; pollMs?: number; chunk?: number } = {},
): Promise<Map<string, Uint8Array>> {
  const found = new Map<string, Uint8Array>();
  const table = await neighbourTable(ifname);
  const missing: string[] = [];
  for (const a of addrs) {
    const mac = table.get(addressKey(a));
    if (mac) found.set(a, mac);
    else missing.push(a);
  }
  const parallel = opts.parallel ?? 64;
  const chunk = opts.chunk ?? 256;
  for (let c = 0; c < missing.length; c += chunk) {
    let pending = missing.slice(c, c + chunk);
    for (let i = 0; i < pending.length; i += parallel) {
      await Promise.all(pending.slice(i, i + parallel).map((a) => triggerResolution(a, family)));
    }
    const deadline = performance.now() + (opts.waitMs ?? 1000);
    while (pending.length > 0 && performance.now() < deadline) {
      await sleepMs(Math.min(opts.pollMs ?? 50, Math.max(1, deadline - performance.now())));
      const now = await neighbourTable(ifname);
      pending = pending.filter((a) => {
        const mac = now.get(addressKey(a));
        if (mac) found.set(a, mac);
        return !mac;
      });
    }
  }
  return found;
}

export interface NextHop {
  nextHop: string;
  onLink: boolean;
  ifname: string;
  /** The target is an address of this machine. */
  local: boolean;
  /** The route's type: unicast, local, broadcast, multicast, … */
  type: string;
  /** The interface carries bare IP packets (tun, ppp, tunnels): no neighbour to resolve (RawRoute.ipLink). */
  ipLink: boolean;
}

/**
 * The kernel's next hop for each target, in one `ip -batch` process (netlink lookups only, no
 * packet is sent). Targets without a route are absent from the result.
 */
export async function nextHopsOf(targets: string[], overrides: RouteOverrides = {}): Promise<Map<string, NextHop>> {
  const out = new Map<string, NextHop>();
  if (targets.length === 0) return out;
  const extra = `${overrides.source ? ` from ${overrides.source}` : ''}${overrides.iface ? ` oif ${overrides.iface}` : ''}`;
  const input = targets.map((t) => `route get ${t}${extra}\n`).join('');
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn('ip', ['-j', '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => child.kill(), 60_000);
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (e) => { clearTimeout(timer); reject(new UserInputError(`ip -batch: ${e.message}`)); });
    child.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString()); });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
  const wanted = new Map(targets.map((t) => [addressKey(t), t]));
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    let rows: Array<Record<string, unknown>>;
    try {
      rows = JSON.parse(line) as Array<Record<string, unknown>>;
    } catch {
      continue;
    }
    for (const r of rows) {
      if (typeof r.dst !== 'string' || typeof r.dev !== 'string' || !net.isIP(r.dst)) continue;
      const target = wanted.get(addressKey(r.dst));
      if (target === undefined) continue;
      const gateway = typeof r.gateway === 'string' ? r.gateway : undefined;
      out.set(target, { nextHop: gateway ?? target, onLink: gateway === undefined, ifname: r.dev, local: r.type === 'local', type: typeof r.type === 'string' ? r.type : 'unicast', ipLink: false });
    }
  }
  const devs = new Set([...out.values()].map((h) => h.ifname));
  for (const dev of devs) {
    const t = await linkTypeOf(dev);
    if (t === undefined || !IP_LINK_TYPES.has(t)) continue;
    for (const h of out.values()) if (h.ifname === dev) h.ipLink = true;
  }
  return out;
}

/** Makes the kernel resolve `addr` on its own: one UDP datagram (discard port) to the next hop. */
async function triggerResolution(addr: string, family: 4 | 6): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('error', () => { s.close(); resolve(); });
    s.send(Buffer.alloc(0), 9, addr, () => { s.close(); resolve(); });
  });
}

/** The route the kernel would use to reach `target`, with the next hop's MAC resolved. */
export async function resolveRawRoute(target: string, overrides: RouteOverrides = {}): Promise<RawRoute> {
  const family = net.isIP(target) as 4 | 6;
  if (family !== 4 && family !== 6) throw new Error(`resolveRawRoute: "${target}" is not an address`);
  if (overrides.source !== undefined && net.isIP(overrides.source) !== family) {
    throw new UserInputError(`-S ${overrides.source} is not an IPv${family} address, but the target ${target} is`);
  }
  const args = ['route', 'get', target];
  if (overrides.source) args.push('from', overrides.source);
  if (overrides.iface) args.push('oif', overrides.iface);
  const [route] = await ipJson(args);
  if (!route || typeof route.dev !== 'string') throw new UserInputError(`no route to ${target}`);
  const ifname = overrides.iface ?? route.dev;
  const source = overrides.source ?? (route.prefsrc as string | undefined);
  if (!source) throw new UserInputError(`no source address for ${target} on ${ifname}: give one with -S`);
  const [link] = await ipJson(['link', 'show', 'dev', ifname]);
  if (!link) throw new UserInputError(`-e ${ifname}: no such interface`);
  const linkType = typeof link.link_type === 'string' ? link.link_type : 'unknown';
  const { ipLink } = linkKind(ifname, linkType);
  const loopback = linkType === 'loopback';
  // An IP link has no MAC (tun) or one that is not Ethernet's: the frames' header is zeros and dropped.
  const srcMac = !ipLink && typeof link.address === 'string' ? macBytes(link.address) : new Uint8Array(6);
  const nextHop = typeof route.gateway === 'string' ? route.gateway : target;
  const onLink = nextHop === target;
  // On the link, every host's MAC is resolved with its probes (resolveNeighbours), not here.
  let mac: string | undefined = loopback || onLink || ipLink ? '00:00:00:00:00:00' : await neighbourMac(ifname, nextHop);
  if (!mac) {
    await triggerResolution(nextHop, family);
    for (let i = 0; i < 20 && !mac; i++) {
      await new Promise((r) => setTimeout(r, 50));
      mac = await neighbourMac(ifname, nextHop);
    }
  }
  if (!mac) throw new UserInputError(`cannot resolve the MAC address of ${nextHop} on ${ifname} (ARP/NDP gave no answer)`);
  return {
    family, ifname, source, sourceBytes: addressBytes(source), srcMac, nextHop, nextHopMac: macBytes(mac),
    onLink, local: route.type === 'local', linkType, ipLink,
  };
}
