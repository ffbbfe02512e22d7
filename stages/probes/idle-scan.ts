/**
 * -sI, the idle scan (nmap's algorithm): ports are probed with SYNs forged from a zombie's
 * address, and the zombie's IP ID counter tells how many of them the target answered with a
 * SYN/ACK (the zombie sends a RST for each, spending an ID). The zombie is qualified first (6
 * SYN/ACKs 30 ms apart: its IDs must increase one by one, or byte-swapped: nmap's incremental and
 * broken-incremental classes), then a spoof test per target (4 SYN/ACKs forged from the target:
 * the zombie's ID must move by 5 with our probe). Ports go in groups (32, doubling while empty); a group whose count is not
 * zero is halved, depth first, until each open port stands alone. Unopened ports are
 * closed|filtered (no-ipid-change), as nmap reports them.
 *
 * Not a probe module: it is sequential, stateful and counts across probes, so it runs on the
 * RawExchange (prebuilt frames out, captured packets in) instead of the raw engine, and implements
 * the ScanEngine interface the send stage drives every scan type through.
 */
import { randomInt } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { loadNative, type NativeEngine, type RawExchange } from '../../native/index.js';
import { UserInputError, type PortRecord, type ProbeBatch } from '../records/index.js';
import { probesOf } from '../records/probe-batch.js';
import { addressBytes, resolveNeighbours, resolveRawRoute, type RawRoute } from './routing.js';
import type { Decided, ScanEngine } from './scan-engine.js';

export interface IdleScanOptions {
  /** The zombie, "host[:probeport]" as -sI takes it (probe port default 80). */
  zombie: string;
  /** Re-counts of a group whose ID distance makes no sense (zombie traffic of its own). */
  maxRetries: number;
  iface?: string;
  sourceAddress?: string;
  sourcePort?: number;
  ttl?: number;
  signal?: AbortSignal;
}

/** "host[:port]" → the zombie's IPv4 address and probe port. */
export function parseZombie(spec: string): { host: string; port: number } {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!m || !isIPv4(m[1]!)) throw new UserInputError(`-sI "${spec}": give the zombie as an IPv4 address, optionally with its probe port (198.18.0.3:80)`);
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (port < 1 || port > 65535) throw new UserInputError(`-sI "${spec}": the probe port must be 1-65535`);
  return { host: m[1]!, port };
}

const SYN = 0x02, RST = 0x04, ACK = 0x10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The IP ID classes nmap accepts for a zombie. */
export type IpIdClass = 'incremental' | 'broken-incremental';

/** Classifies a zombie's successive IP IDs (nmap's rule of thumb: steps of 1..~ up, or byte-swapped). */
export function classifyIpIds(ids: readonly number[]): IpIdClass | string {
  if (ids.length < 4) return `the zombie answered ${ids.length} of 6 probes`;
  const steps = ids.slice(1).map((id, i) => (id - ids[i]!) & 0xffff);
  if (steps.every((s) => s === 0)) return 'its IP ID does not change (class: constant)';
  // Steps in whole multiples of 256: a counter sent in the wrong byte order (nmap's BI class).
  if (steps.every((s) => s > 0 && s % 256 === 0 && s <= 5120)) return 'broken-incremental';
  if (steps.every((s) => s >= 1 && s < 5000)) return 'incremental';
  return 'its IP IDs are not sequential (class: random or per-destination)';
}

const swap16 = (v: number) => ((v & 0xff) << 8) | (v >> 8);

/** Ethernet + IPv4 + TCP (20 bytes, no options), checksums included. */
export function tcpFrame(native: Pick<NativeEngine, 'checksum'>, f: {
  srcMac: Uint8Array; dstMac: Uint8Array; src: Uint8Array; dst: Uint8Array; sport: number; dport: number;
  seq: number; ack: number; flags: number; ipId: number; ttl: number;
}): Buffer {
  const b = Buffer.alloc(54);
  b.set(f.dstMac, 0); b.set(f.srcMac, 6); b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45; b.writeUInt16BE(40, 16); b.writeUInt16BE(f.ipId & 0xffff, 18); b[22] = f.ttl; b[23] = 6;
  b.set(f.src, 26); b.set(f.dst, 30);
  b.writeUInt16BE(native.checksum(b.subarray(14, 34)), 24);
  b.writeUInt16BE(f.sport, 34); b.writeUInt16BE(f.dport, 36); b.writeUInt32BE(f.seq >>> 0, 38); b.writeUInt32BE(f.ack >>> 0, 42);
  b[46] = 0x50; b[47] = f.flags; b.writeUInt16BE(1024, 48);
  const pseudo = Buffer.alloc(12 + 20);
  pseudo.set(f.src, 0); pseudo.set(f.dst, 4); pseudo[9] = 6; pseudo.writeUInt16BE(20, 10);
  b.copy(pseudo, 12, 34, 54);
  b.writeUInt16BE(native.checksum(pseudo), 50);
  return b;
}

export class IdleScanner implements ScanEngine {
  readonly counters: Record<string, number> = { sent: 0, zombieProbes: 0, open: 0, closed: 0, filtered: 0, recounts: 0 };
  private readonly native = loadNative();
  private readonly zombie: { host: string; port: number; bytes: Uint8Array };
  private route?: RawRoute;
  private zombieMac?: Uint8Array;
  private ex?: RawExchange;
  private idClass?: IpIdClass;
  private srttMs = 100;
  private readonly sport: number;
  private readonly spoofChecked = new Map<string, Uint8Array>();
  private readonly done: Decided[] = [];

  constructor(private readonly opts: IdleScanOptions) {
    const z = parseZombie(opts.zombie);
    this.zombie = { ...z, bytes: addressBytes(z.host) };
    this.sport = opts.sourcePort ?? randomInt(61000, 65536);
  }

  get aborted(): boolean {
    return this.opts.signal?.aborted === true;
  }

  async *add(batch: ProbeBatch): AsyncGenerator<Decided, void, undefined> {
    const byHost = new Map<string, number[]>();
    for (const p of probesOf(batch)) {
      if (p.proto !== 'tcp') continue;
      if (batch.family !== 4) throw new UserInputError(`-sI (idle scan) is IPv4 only: ${p.ip}`);
      const list = byHost.get(p.ip) ?? [];
      list.push(p.port);
      byHost.set(p.ip, list);
    }
    for (const [ip, ports] of byHost) {
      if (this.aborted) return;
      await this.scanHost(ip, ports);
      yield* this.drain();
    }
    if (!this.aborted) this.done.push({ type: 'progress', start: batch.start, count: batch.count });
    yield* this.drain();
  }

  /** Nothing is kept between groups: the end of one is the end of its probes in flight. */
  finishGroup(): AsyncGenerator<Decided, void, undefined> {
    return this.finish();
  }

  async *finish(): AsyncGenerator<Decided, void, undefined> {
    yield* this.drain();
  }

  async close(): Promise<void> {
    this.ex?.close();
    this.ex = undefined;
  }

  private *drain(): Generator<Decided> {
    while (this.done.length > 0) yield this.done.shift()!;
  }

  /** The route to the zombie, its MAC, the capture, and the zombie's IP ID class (once). */
  private async ready(): Promise<void> {
    if (this.idClass) return;
    const route = await resolveRawRoute(this.zombie.host, { iface: this.opts.iface, source: this.opts.sourceAddress });
    if (route.local) throw new UserInputError(`-sI: the zombie ${this.zombie.host} is this machine`);
    this.route = route;
    this.zombieMac = route.onLink && !route.ipLink ? (await resolveNeighbours(route.ifname, 4, [this.zombie.host])).get(this.zombie.host) : route.nextHopMac;
    if (!this.zombieMac) throw new UserInputError(`-sI: the zombie ${this.zombie.host} does not answer ARP on ${route.ifname}`);
    this.ex = new this.native.RawExchange(route.ifname, `tcp and src host ${this.zombie.host} and src port ${this.zombie.port} and dst port ${this.sport}`);
    const ids: number[] = [];
    const rtts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      const id = await this.probeZombie(1000, false);
      if (id !== undefined) { ids.push(id); rtts.push(performance.now() - t0); }
      await sleep(30);
    }
    const cls = classifyIpIds(ids);
    if (cls !== 'incremental' && cls !== 'broken-incremental') {
      throw new UserInputError(`-sI: ${this.zombie.host}:${this.zombie.port} cannot serve as a zombie: ${cls}; pick an idle host with a global incremental IP ID`);
    }
    this.idClass = cls;
    this.srttMs = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  }

  /** One SYN/ACK to the zombie's probe port; the IP ID of its RST (in sequence order), or undefined. */
  private async probeZombie(timeoutMs: number, retry = true): Promise<number | undefined> {
    const r = this.route!;
    for (let attempt = 0; attempt < (retry ? 3 : 1); attempt++) {
      const nonce = randomInt(1, 0xffffffff);
      this.ex!.poll(); // stale replies out of the way
      this.ex!.send(tcpFrame(this.native, {
        srcMac: r.srcMac, dstMac: this.zombieMac!, src: r.sourceBytes, dst: this.zombie.bytes, sport: this.sport, dport: this.zombie.port,
        seq: randomInt(0, 0xffffffff), ack: nonce, flags: SYN | ACK, ipId: randomInt(0, 65536), ttl: this.opts.ttl ?? 64,
      }));
      this.counters.zombieProbes!++;
      this.counters.sent!++;
      const until = performance.now() + timeoutMs;
      while (performance.now() < until) {
        for (const { packet } of this.ex!.poll()) {
          const ihl = (packet[0]! & 15) * 4;
          const tcp = packet.subarray(ihl);
          if (tcp.length >= 20 && tcp[13]! & RST && tcp.readUInt32BE(4) === nonce) {
            const id = packet.readUInt16BE(4);
            return this.idClass === 'broken-incremental' ? swap16(id) : id;
          }
        }
        await sleep(1);
      }
    }
    return undefined;
  }

  private get waitMs(): number {
    return Math.min(1000, Math.max(100, 4 * this.srttMs));
  }

  /** Frames forged from `src` to `dst:dport`, all at once. */
  private forge(src: Uint8Array, srcMac: Uint8Array, dst: Uint8Array, dstMac: Uint8Array, sport: number, dports: number[], flags: number): void {
    for (const dport of dports) {
      this.ex!.send(tcpFrame(this.native, {
        srcMac, dstMac, src, dst, sport, dport, seq: randomInt(0, 0xffffffff), ack: flags & ACK ? randomInt(0, 0xffffffff) : 0,
        flags, ipId: randomInt(0, 65536), ttl: this.opts.ttl ?? 64,
      }));
      this.counters.sent!++;
    }
  }

  /** The target's MAC (or the gateway's), and the spoof test once per target. */
  private async targetMac(ip: string): Promise<Uint8Array> {
    const known = this.spoofChecked.get(ip);
    if (known) return known;
    const r = await resolveRawRoute(ip, { iface: this.opts.iface, source: this.opts.sourceAddress });
    if (r.ifname !== this.route!.ifname) throw new UserInputError(`-sI: ${ip} is reached through ${r.ifname}, the zombie through ${this.route!.ifname}: both must share an interface`);
    const mac = r.onLink && !r.ipLink ? (await resolveNeighbours(r.ifname, 4, [ip])).get(ip) : r.nextHopMac;
    if (!mac) throw new UserInputError(`-sI: ${ip} does not answer ARP on ${r.ifname}`);
    // 4 SYN/ACKs "from the target": the zombie answers each with a RST (to the target), spending 4 IDs.
    const before = await this.probeZombie(this.waitMs * 2);
    this.forge(addressBytes(ip), this.route!.srcMac, this.zombie.bytes, this.zombieMac!, randomInt(1024, 65536), [this.zombie.port, this.zombie.port, this.zombie.port, this.zombie.port], SYN | ACK);
    await sleep(this.waitMs);
    const after = await this.probeZombie(this.waitMs * 2);
    if (before === undefined || after === undefined) throw new UserInputError(`-sI: the zombie ${this.zombie.host} stopped answering`);
    const moved = (after - before) & 0xffff;
    if (moved < 5) {
      throw new UserInputError(
        `-sI: packets forged with ${ip}'s address do not reach the zombie (its IP ID moved by ${moved}, 5 expected): spoofing is filtered on the way, or the zombie keeps per-host IP IDs`,
      );
    }
    this.spoofChecked.set(ip, mac);
    return mac;
  }

  /** How many of these ports answered the zombie with SYN/ACK: its IP ID distance less our own probe. */
  private async countOpen(target: Uint8Array, targetMac: Uint8Array, ports: number[]): Promise<number> {
    let last = 0;
    for (let attempt = 0; attempt <= this.opts.maxRetries; attempt++) {
      if (attempt > 0) this.counters.recounts!++;
      const before = await this.probeZombie(this.waitMs * 2);
      this.forge(this.zombie.bytes, this.route!.srcMac, target, targetMac, this.zombie.port, ports, SYN);
      await sleep(this.waitMs);
      const after = await this.probeZombie(this.waitMs * 2);
      if (before === undefined || after === undefined) continue;
      last = ((after - before) & 0xffff) - 1;
      if (last >= 0 && last <= ports.length) return last;
    }
    return Math.min(Math.max(last, 0), ports.length);
  }

  private async scanHost(ip: string, ports: number[]): Promise<void> {
    await this.ready();
    const mac = await this.targetMac(ip);
    const target = addressBytes(ip);
    const open = new Set<number>();
    // Depth first: a group with a count is halved until each open port stands alone.
    const search = async (group: number[], known?: number): Promise<void> => {
      if (this.aborted) return;
      const n = known ?? (await this.countOpen(target, mac, group));
      if (n === 0) return;
      if (n === group.length) { group.forEach((p) => open.add(p)); return; }
      const half = group.slice(0, Math.ceil(group.length / 2));
      const rest = group.slice(half.length);
      const first = await this.countOpen(target, mac, half);
      await search(half, first);
      await search(rest); // counted again rather than n - first: the zombie may have spent IDs of its own meanwhile
    };
    // Groups of 32, doubling (up to 256) while they come back empty: closed ports cost little then;
    // a group with an open port sends the size back to 32.
    let size = 32;
    for (let i = 0; i < ports.length && !this.aborted;) {
      const g = ports.slice(i, i + size);
      i += g.length;
      const before = open.size;
      await search(g);
      size = open.size === before ? Math.min(256, size * 2) : 32;
    }
    if (this.aborted) return;
    const time = Date.now();
    for (const port of ports) {
      const isOpen = open.has(port);
      this.counters[isOpen ? 'open' : 'filtered']!++;
      const rec: PortRecord = {
        type: 'port', ip, port, proto: 'tcp', state: isOpen ? 'open' : 'closed|filtered', reason: isOpen ? 'ipid-change' : 'no-ipid-change',
        ttl: null, rtt: null, time,
      };
      this.done.push(rec);
    }
  }
}
