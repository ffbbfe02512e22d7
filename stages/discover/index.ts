/**
 * stages/discover: host discovery between targets and send. It learns which hosts are up — nmap's
 * ping probes through the raw session (or connect() without privileges), ARP/ND on the local link,
 * this machine's own addresses up as localhost-response — and passes on only the probes of live
 * hosts, with a host record for every host (up or down, nmap's reason, the answer's latency).
 *
 * Bounded memory whatever the plan's size: hosts are discovered as they first appear in the probe
 * stream, one group per batch (the permutation spreads a /8's hosts over its first batches), held
 * batches wait only for their own hosts, and what is known of each host is 2 bits (host-states.ts).
 * With -sn (pingOnly) no probe batch leaves: the scan is discovery only. Host groups
 * (--max-hostgroup: hostgroup records between the groups' batches) are finished one at a time.
 */
import {
  extendTrailer, isTrailer, probeBatchProblem, RecordStreamError, stageStream,
  type AnyRecord, type EndTrailer, type HostRecord, type ProbeBatch, type ScanHeader,
} from '../records/index.js';
import type { Duplex } from 'node:stream';
import { addrText, resolveNeighbours } from '../probes/index.js';
import { DOWN, HostStates, PENDING, UNKNOWN, UP } from './host-states.js';
import { LinkMap } from './link.js';
import { defaultPingProbes, describePing, isDefault, CONNECT_PING_PORTS, type PingProbes } from './ping-spec.js';
import type { HostProber, HostVerdict } from './prober.js';
import { RawProber, type PingSessionOptions } from './raw-prober.js';
import { ConnectProber } from './connect-prober.js';

export * from './ping-spec.js';
export { HostStates } from './host-states.js';
export type { HostProber, HostVerdict } from './prober.js';

export interface DiscoverOptions extends PingSessionOptions {
  /** The probes asked for (-PE, -PS…); nmap's defaults when none. */
  probes: PingProbes;
  /** Raw probes allowed (root or CAP_NET_RAW); otherwise the connect() ping to 80 and 443. */
  privileged: boolean;
  /** ARP/ND for hosts on the local link (false: --disable-arp-ping). */
  arp: boolean;
  /** --discovery-ignore-rst: a RST does not prove a host up. */
  ignoreRst: boolean;
  /** -sn: discovery only; no probe batch is passed on. */
  pingOnly: boolean;
  /**
   * -Pn: no ping probes; every host is up (user-set) except hosts on the local link that give no
   * ARP/ND answer, which are down — nmap resolves them even with -Pn.
   */
  assumeUp?: boolean;
  /** Most hosts waiting for a verdict at once (the window of held batches follows from it). */
  maxUndecided?: number;
  /** The command line of this stage, appended to the header's args. */
  args?: string[];
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
  /** The prober of routed hosts (tests and the memory bench give their own; default: raw or connect). */
  prober?: HostProber;
}

export const DISCOVER_DEFAULTS = { maxRetries: 1, initialTimeoutMs: 1000, minTimeoutMs: 100, maxTimeoutMs: 10_000, maxUndecided: 65536 } as const;

/** The probes this run sends: the user's, or nmap's defaults for a privileged scan. */
export function effectiveProbes(opts: Pick<DiscoverOptions, 'probes' | 'privileged' | 'arp'>): PingProbes {
  const p = isDefault(opts.probes) ? defaultPingProbes(4) : { ...opts.probes };
  p.arp = opts.arp;
  return p;
}

/** What the header says discovery did, nmap's flags: "-PE -PS443 -PA80 -PP", or "connect:80,443". */
export function discoveryText(opts: Pick<DiscoverOptions, 'probes' | 'privileged' | 'arp' | 'assumeUp'>): string {
  if (opts.assumeUp) return opts.arp ? '-Pn -PR' : '-Pn';
  return opts.privileged ? describePing(effectiveProbes(opts)) : `connect:${CONNECT_PING_PORTS.join(',')}`;
}

class Discovery {
  readonly states = new HostStates();
  private readonly link: LinkMap;
  private readonly prober: HostProber;
  readonly counters: Record<string, number> = { hosts: 0, up: 0, down: 0, arp: 0, local: 0 };
  /** This machine's own addresses among the targets (few: its interfaces' addresses). */
  private readonly own = new Set<string>();
  /** Host records ready to go downstream. */
  readonly out: HostRecord[] = [];

  constructor(private readonly opts: DiscoverOptions) {
    this.link = new LinkMap({ iface: opts.iface, source: opts.sourceAddress });
    this.prober = opts.prober ?? (opts.assumeUp ? new UserSetProber() : opts.privileged
      ? new RawProber({ ...opts, probes: effectiveProbes(opts) })
      : new ConnectProber({ ports: CONNECT_PING_PORTS, timeoutMs: opts.initialTimeoutMs, maxParallel: 256, signal: opts.signal }));
  }

  get undecided(): number {
    return this.prober.undecided;
  }

  /** Marks the batch's new hosts pending and starts discovering them. */
  async note(batch: ProbeBatch): Promise<void> {
    const width = batch.family === 4 ? 4 : 16;
    const fresh: number[] = [];
    for (let i = 0, o = 0; i < batch.count; i++, o += width) {
      if (this.states.get(batch.family, batch.addrs, o) !== UNKNOWN) continue;
      this.states.set(batch.family, batch.addrs, o, PENDING);
      fresh.push(o);
    }
    if (fresh.length === 0) return;
    const addrs = new Uint8Array(fresh.length * width);
    fresh.forEach((o, k) => addrs.set(batch.addrs.subarray(o, o + width), k * width));
    this.counters.hosts! += fresh.length;
    await this.start(batch.family, addrs);
  }

  private async start(family: 4 | 6, addrs: Uint8Array): Promise<void> {
    if (this.opts.prober) return this.opts.prober.probe(family, addrs);
    const width = family === 4 ? 4 : 16;
    const places = await this.link.places(family, addrs);
    const routed: number[] = [];
    const onLink = new Map<string, string[]>();
    places.forEach((p, k) => {
      if (p.place === 'local') {
        this.counters.local!++;
        if (this.own.size < 1024) this.own.add(p.ip);
        this.decide({ ip: p.ip, up: true, reason: 'localhost-response' }, family);
      }
      else if (p.place === 'special') this.decide({ ip: p.ip, up: false, reason: 'no-response' }, family);
      else if (p.place === 'link' && this.opts.arp && this.opts.privileged) {
        const list = onLink.get(p.hop.ifname) ?? [];
        list.push(p.ip);
        onLink.set(p.hop.ifname, list);
      } else routed.push(k);
    });
    for (const [ifname, ips] of onLink) {
      // nmap's ARP/ND ping: on the local link the neighbour answer alone decides.
      const t0 = performance.now();
      const found = await resolveNeighbours(ifname, family, ips);
      const rtt = (performance.now() - t0) / Math.max(1, ips.length);
      for (const ip of ips) {
        this.counters.arp!++;
        // -Pn: the answer only gives the MAC; nmap still calls such a host up by user-set.
        const reason = this.opts.assumeUp ? 'user-set' : family === 4 ? 'arp-response' : 'nd-response';
        this.decide(found.has(ip) ? { ip, up: true, reason, rtt } : { ip, up: false, reason: 'no-response' }, family);
      }
    }
    if (routed.length === 0) return;
    const picked = new Uint8Array(routed.length * width);
    routed.forEach((k, j) => picked.set(addrs.subarray(k * width, k * width + width), j * width));
    await this.prober.probe(family, picked);
  }

  private decide(v: HostVerdict, family: 4 | 6): void {
    const bytes = family === 4 ? Uint8Array.from(v.ip.split('.').map(Number)) : ipv6Bytes(v.ip);
    this.states.set(family, bytes, 0, v.up ? UP : DOWN);
    this.counters[v.up ? 'up' : 'down']!++;
    this.out.push({ type: 'host', ip: v.ip, state: v.up ? 'up' : 'down', reason: v.reason, ...(v.rtt !== undefined ? { rtt: Math.round(v.rtt * 1000) / 1000 } : {}), time: Date.now() });
  }

  /** Applies the prober's verdicts so far. */
  collect(): void {
    for (const v of this.prober.take()) this.decide(v, v.ip.includes(':') ? 6 : 4);
  }

  async step(): Promise<void> {
    await this.prober.step();
    this.collect();
  }

  async settle(): Promise<void> {
    await this.prober.settle();
    this.collect();
  }

  async close(): Promise<void> {
    await this.prober.close();
    this.collect();
    Object.assign(this.counters, this.prober.counters);
  }

  /** True once every host of the batch has its verdict. */
  decided(batch: ProbeBatch): boolean {
    const width = batch.family === 4 ? 4 : 16;
    for (let o = 0; o < batch.addrs.length; o += width) if (this.states.get(batch.family, batch.addrs, o) === PENDING) return false;
    return true;
  }

  /**
   * The batch's probes of live hosts: one batch per run of consecutive entries, so entry i stays
   * probe start + i. Runs of this machine's own addresses go last: a raw engine takes its route
   * from the first probes it gets, and the kernel has no route out to its own address.
   */
  live(batch: ProbeBatch): ProbeBatch[] {
    const width = batch.family === 4 ? 4 : 16;
    const runs: ProbeBatch[] = [];
    const ownRuns: ProbeBatch[] = [];
    for (let i = 0; i < batch.count; ) {
      if (this.states.get(batch.family, batch.addrs, i * width) !== UP) { i++; continue; }
      let j = i + 1;
      while (j < batch.count && this.states.get(batch.family, batch.addrs, j * width) === UP) j++;
      const run: ProbeBatch = i === 0 && j === batch.count ? batch : {
        type: 'probes', family: batch.family, start: batch.start + i, count: j - i,
        addrs: batch.addrs.subarray(i * width, j * width), ports: batch.ports.subarray(i * 2, j * 2), protos: batch.protos.subarray(i, j),
      };
      (this.own.size > 0 && this.own.has(addrText(batch.addrs, i * width, batch.family)) ? ownRuns : runs).push(run);
      i = j;
    }
    return [...runs, ...ownRuns];
  }
}

/** -Pn: every host it is given is up, reason user-set, without a probe. */
class UserSetProber implements HostProber {
  private readonly out: HostVerdict[] = [];
  readonly counters = {};
  readonly undecided = 0;
  async probe(family: 4 | 6, addrs: Uint8Array): Promise<void> {
    const width = family === 4 ? 4 : 16;
    for (let o = 0; o < addrs.length; o += width) this.out.push({ ip: addrText(addrs, o, family), up: true, reason: 'user-set' });
  }
  take(): HostVerdict[] { return this.out.splice(0, this.out.length); }
  async step(): Promise<void> {}
  async settle(): Promise<void> {}
  async close(): Promise<void> {}
}

function ipv6Bytes(ip: string): Uint8Array {
  const [head = '', tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t].map((w) => parseInt(w, 16));
  const out = new Uint8Array(16);
  words.forEach((w, k) => { out[k * 2] = w >>> 8; out[k * 2 + 1] = w & 0xff; });
  return out;
}

/**
 * The discover stage: probe batches in; host records and the probes of live hosts out (none with
 * -sn); every other record passes through.
 */
export function discoverRecords(opts: DiscoverOptions) {
  return async function* discover(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    const d = new Discovery(opts);
    const maxUndecided = opts.maxUndecided ?? DISCOVER_DEFAULTS.maxUndecided;
    const held: ProbeBatch[] = [];
    let trailer: EndTrailer | undefined;
    let passed = 0;
    const counters = { groups: 0 };
    const aborted = () => opts.signal?.aborted === true;
    const release = function* (): Generator<AnyRecord> {
      yield* d.out.splice(0, d.out.length);
      while (held.length > 0 && d.decided(held[0]!)) {
        const b = held.shift()!;
        if (opts.pingOnly) continue;
        for (const live of d.live(b)) { passed += live.count; yield live; }
      }
    };
    try {
      for await (const rec of source) {
        if (rec.type === 'scan') {
          const h = rec as ScanHeader;
          const header: ScanHeader = { ...h, args: [...h.args, ...(opts.args ?? [])], hostDiscovery: discoveryText(opts) };
          // -sn: no port is probed, whatever the plan said (nmap's ping scan has no scaninfo).
          if (opts.pingOnly && h.plan) header.plan = { ...h.plan, portsPerHost: 0, probes: 0, shardProbes: 0, ports: { tcp: '', udp: '', sctp: '' } };
          yield header;
          continue;
        }
        if (isTrailer(rec)) { trailer = rec; break; }
        if (rec.type === 'hostgroup') {
          // --max-hostgroup: the group's hosts all get their verdicts (and its live probes go on)
          // before the group's end passes, and only then is the next group pinged.
          while (held.length > 0 && !aborted()) {
            await d.step();
            yield* release();
            if (d.undecided === 0 && held.length > 0 && !d.decided(held[0]!)) throw new Error('discover: a host of a held batch has no verdict and none is coming');
          }
          counters.groups++;
          yield rec;
          continue;
        }
        if (rec.type !== 'probes') { yield rec; continue; }
        const batch = rec as ProbeBatch;
        const problem = probeBatchProblem(batch);
        if (problem) throw new RecordStreamError(`probe batch at ${String(batch.start)}: ${problem}`);
        await d.note(batch);
        held.push(batch);
        d.collect();
        yield* release();
        // Bounded: wait for verdicts while too many hosts (or batches) are undecided.
        while ((d.undecided > maxUndecided || held.length > 256) && !aborted()) {
          await d.step();
          yield* release();
        }
        if (aborted()) break;
      }
      while (held.length > 0 && !aborted()) {
        await d.step();
        yield* release();
        if (d.undecided === 0 && held.length > 0 && !d.decided(held[0]!)) throw new Error('discover: a host of a held batch has no verdict and none is coming');
      }
      await d.settle();
    } finally {
      await d.close();
    }
    yield* release();
    yield extendTrailer(trailer, 'discover', { ...d.counters, passed, ...(counters.groups ? { hostGroups: counters.groups } : {}) }, aborted() || trailer === undefined);
  };
}

export function createDiscoverStage(opts: DiscoverOptions): Duplex {
  return stageStream(discoverRecords(opts));
}
