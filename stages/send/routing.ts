/**
 * Where raw probes leave from: the interface, source address and next-hop MAC for a target, from
 * the kernel's routing and neighbour tables (`ip -j route get`, `ip -j neigh`). -e and -S override
 * the interface and source address. An unresolved neighbour is resolved by sending one UDP
 * datagram to the next hop (the kernel then runs ARP/NDP), never by guessing.
 */
import { execFile } from 'node:child_process';
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
  nextHopMac: Uint8Array;
  /** True when the target is on the local link (no gateway): then the next hop is the target itself. */
  onLink: boolean;
  /** True when the target is an address of this machine (route type local). */
  local: boolean;
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

/** Makes the kernel resolve `addr` on its own: one UDP datagram (discard port) to the next hop. */
async function triggerResolution(addr: string, family: 4 | 6): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('error', () => { s.close(); resolve(); });
    s.send(Buffer.alloc(0), 9, addr, () => { s.close(); resolve(); });
  });
}

/** The kernel's next hop for `target`: its gateway, or the target itself when it is on the link. */
export async function nextHopOf(target: string, overrides: RouteOverrides = {}): Promise<{ nextHop: string; onLink: boolean; ifname: string }> {
  const args = ['route', 'get', target];
  if (overrides.source) args.push('from', overrides.source);
  if (overrides.iface) args.push('oif', overrides.iface);
  const [route] = await ipJson(args);
  if (!route || typeof route.dev !== 'string') throw new UserInputError(`no route to ${target}`);
  const gateway = typeof route.gateway === 'string' ? route.gateway : undefined;
  return { nextHop: gateway ?? target, onLink: gateway === undefined, ifname: route.dev };
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
  const loopback = link.link_type === 'loopback';
  const srcMac = typeof link.address === 'string' ? macBytes(link.address) : new Uint8Array(6);
  const nextHop = typeof route.gateway === 'string' ? route.gateway : target;
  let mac: string | undefined = loopback ? '00:00:00:00:00:00' : await neighbourMac(ifname, nextHop);
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
    onLink: nextHop === target, local: route.type === 'local',
  };
}
