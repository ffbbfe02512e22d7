/**
 * The raw session: everything a raw probe module needs around it, the same for every module — one
 * native engine per address family (created on the family's first batch; its route decides
 * interface, source and next hop), next-hop MACs for on-link hosts, the answered bitmap (kept by
 * native, which drops duplicates), retries, the adaptive timeout, progress records for --resume,
 * counters, and per-host slowing down where targets rate-limit their ICMP errors. The module says
 * what goes on the wire and what a reply means (module.ts); the port scan (stages/send) uses it
 * now, host discovery and OS probes next, which is why it lives here and not in a stage.
 *
 * Kernel RSTs to SYN-ACKs (the local stack knows no such connection) go out and never reach the
 * receiver, which only captures inbound packets, so they cannot affect results.
 */
import { randomInt } from 'node:crypto';
import { loadNative, type RawEngine, type RawEngineConfig } from '../../native/index.js';
import { PROTO_NUMBER, UserInputError, type PortRecord, type ProbeBatch, type ProgressRecord } from '../records/index.js';
import type { ProbeModule, WireContext } from './module.js';
import { addrText, ReplyView } from './reply.js';
import { linkState, nextHopsOf, resolveNeighbours, resolveRawRoute, type NextHop, type RawRoute } from './routing.js';
import { RttEstimator, HostRtt } from './rtt.js';
import { CongestionControl, HostPacing, RetryAllowance } from './congestion.js';
import type { ScanEngine } from './scan-engine.js';
import { IcmpRateLimitWatch } from './icmp-ratelimit.js';
import { resolveEvasion, type EvasionOptions } from './evasion.js';
import { tracedFrames, traceLine } from './packet-trace.js';
import type { PacketTrace } from '../records/index.js';

export interface RawSessionOptions {
  module: ProbeModule;
  /** Fixed source port (-g); default: random per scan, above the kernel's ephemeral range. */
  sourcePort?: number;
  iface?: string;
  sourceAddress?: string;
  /** Ceiling on the pace, packets per second (retries included); undefined: as fast as the path takes them. */
  maxRate?: number;
  /** Floor on the pace (--min-rate): congestion control never goes below it, and a full window does not hold it back. */
  minRate?: number;
  /** The pace congestion control starts from (probes/s; default 1000) and its growth per interval above ssthresh. */
  initialRate?: number;
  caGrowth?: number;
  /** Fixed pace: congestion control off (tests of the engine itself). */
  fixedRate?: boolean;
  /** Least time between two probes (--scan-delay), ms: a ceiling of 1000/delay probes/s. */
  scanDelayMs?: number;
  /** Most probes awaiting an answer at once (--max-parallelism; -T0…-T2: 1); undefined: no window. */
  maxParallelism?: number;
  /** --min-parallelism: the pace never falls below this many probes per smoothed RTT. */
  minParallelism?: number;
  /** --host-timeout, ms: a host whose probes are not all finished this long after its first is given up. */
  hostTimeoutMs?: number;
  /** --defeat-rst-ratelimit: RSTs count neither as answers for the pace nor as drops. */
  defeatRstRateLimit?: boolean;
  /** Most retransmissions (--max-retries); fewer are used while answers show the path needs none (nmap's rule). */
  maxRetries: number;
  initialTimeoutMs: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
  /** Cooldown after a probe's last attempt before it counts as unanswered (--wait), ms. */
  waitMs?: number;
  ttl?: number;
  /** Packet options (--badsum, -f, -D, --ip-options, --spoof-mac, --data…, --scanflags). */
  evasion?: EvasionOptions;
  /** nmap's data directory (UDP payloads). */
  datadir?: string;
  /** --defeat-icmp-ratelimit: never slow down for ICMP rate limits; silence then means closed|filtered. */
  defeatIcmpRateLimit?: boolean;
  /** Max per-host delay between probes when a host rate-limits (--max-scan-delay), ms. */
  maxScanDelayMs?: number;
  signal?: AbortSignal;
  /** Non-fatal notices (e.g. this machine's own addresses skipped). */
  onWarning?: (message: string) => void;
  /** --packet-trace: nmap's SENT/RCVD line for every frame sent and packet captured. */
  packetTrace?: PacketTrace;
  /** Tests only: the engine and the routes at the boundary, instead of native's and the kernel's. */
  boundary?: {
    openEngine(config: RawEngineConfig, onReplies: (packed: Buffer, barrier?: number) => void): RawEngine;
    resolveRoute(target: string): Promise<RawRoute>;
    nextHops(targets: string[]): Promise<Map<string, NextHop>>;
  };
}

export interface RawCounters {
  /** Probes handed to the engine. */
  probes: number;
  /** Frames on the wire (first tries and retries; decoys, payloads and fragments each count). */
  sent: number;
  /** Probes re-sent because they had no answer yet. */
  retries: number;
  open: number;
  closed: number;
  filtered: number;
  invalid: number;
  duplicates: number;
  [k: string]: number;
}

/** One family's engine and what the scan learned about its next hops (bounded by the routes and the link's hosts). */
interface FamilyEngine {
  engine: RawEngine;
  route: RawRoute;
  /** Route per /24 (/64), keyed by the prefix (IPv4: its 24 bits as a number; IPv6: its bytes in hex). */
  hopByPrefix: Map<number | string, NextHop>;
  /** Route per address inside on-link prefixes (IPv4: as a number; IPv6: hex). */
  hopByAddr: Map<number | string, NextHop>;
  /** Next hop (host or gateway) → its MAC; null: ARP/NDP gave no answer. */
  macOf: Map<string, Uint8Array | null>;
  /** The one gateway routed targets go through. */
  gateway?: string;
  /** Some prefix is on the link (or special): its addresses are looked up one by one. */
  perAddressPrefixes?: boolean;
  /** The latest drain barrier native answered (RawEngine.barrier). */
  barrierDone: number;
}

interface InFlight {
  slot: number;
  family: 4 | 6;
  start: number;
  addrs: Uint8Array;
  ports: Uint8Array;
  seq: number;
  attempt: number;
  sentAt?: number;
  /** When the current round was queued (performance.now()), its size and the answers before it. */
  roundAt: number;
  roundSent: number;
  answeredBefore: number;
  /** Pace of the current round (probes/s), paced rounds so far, and those in a row without answers (ICMP rate limits). */
  pace?: number;
  pacedRounds: number;
  emptyRounds?: number;
  /** When the batch was first queued (performance.now()). */
  firstAt?: number;
  /** The batch's hosts, when few (their RTTs decide its wait); undefined: many, the group's RTT does. */
  hosts?: string[];
  /** --host-timeout: every host of the batch. */
  hostSet?: Set<string>;
  /** Few hosts, many probes each: each host's share is judged at every round's end (per-host pacing). */
  perHost?: boolean;
  /** The answered bitmap when the current round began (undefined: the first round, nothing answered). */
  roundBits?: Buffer;
  /** Some of its probes went through host lanes: its round is on the wire when native's jobs for it are done. */
  laned?: boolean;
  /**
   * Being closed: done is declared only behind native's drain barriers — 'ring' waits for every
   * packet captured before the deadline to be parsed (then the slot is retired), 'flush' for every
   * reply parsed before the retire to reach JS (then its unanswered probes and progress follow).
   */
  closing?: { phase: 'ring' | 'flush'; barrier: number; answered?: Buffer };
}

/** A batch is judged host by host when its hosts hold at least this many of its probes each on average. */
const PER_HOST_PROBES = 16;

/** Whether a batch has few enough distinct hosts for each to hold PER_HOST_PROBES of its probes. */
function fewHosts(family: 4 | 6, addrs: Uint8Array): boolean {
  const width = family === 4 ? 4 : 16;
  const n = addrs.length / width;
  const limit = Math.floor(n / PER_HOST_PROBES);
  if (limit < 2) return false;
  const seen = new Set<number | string>();
  for (let o = 0; o < addrs.length; o += width) {
    seen.add(family === 4 ? ((addrs[o]! << 24) | (addrs[o + 1]! << 16) | (addrs[o + 2]! << 8) | addrs[o + 3]!) >>> 0 : addrText(addrs, o, 6));
    if (seen.size > limit) return false;
  }
  return seen.size >= 2;
}

function hostSetOf(family: 4 | 6, addrs: Uint8Array): Set<string> {
  const width = family === 4 ? 4 : 16;
  const set = new Set<string>();
  for (let o = 0; o < addrs.length; o += width) set.add(addrText(addrs, o, family));
  return set;
}

/** errno values of a send that say the link itself is gone: ENXIO, ENODEV, ENETDOWN. */
const LINK_GONE_ERRNOS = new Set([6, 19, 100]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One raw scan session for one probe module: feed it probe batches with `add`, pull finished
 * port records with `take`, and `finish` when the input ended.
 */
export class RawSession implements ScanEngine {
  /** Live counters (sent and the engine's figures refresh as the scan runs; final after close). */
  readonly counters: RawCounters = { probes: 0, sent: 0, retries: 0, open: 0, closed: 0, filtered: 0, invalid: 0, duplicates: 0 };
  readonly module: ProbeModule;
  private readonly flag: string;
  private readonly protoNumber: number;
  private lastStats = 0;
  private readonly ratelimit?: IcmpRateLimitWatch;
  private readonly engines = new Map<4 | 6, FamilyEngine>();
  private readonly inflight: InFlight[] = [];
  private readonly replyBuffers: Buffer[] = [];
  private closed = false;
  /** Retired batches whose unanswered probes are still to be reported (decoded lazily). */
  private readonly unanswered: Array<{ b: InFlight; answered: Buffer; time: number; count?: number }> = [];
  private readonly warnedOwn = new Set<string>();
  private readonly rtt: RttEstimator;
  /** Per-host RTT estimators (a batch of few hosts waits as long as its slowest host needs). */
  private readonly hostRtt: HostRtt;
  private readonly cc?: CongestionControl;
  private readonly retryAllowance: RetryAllowance;
  /** Hosts with a pace of their own (see HostPacing); undefined where the scan's pacing is fixed or windowed. */
  private readonly hostPacing?: HostPacing;
  /** Answers from hosts with their own pace (the group's share leaves them out, as native's laneSent). */
  private laneAnswers = 0;
  /**
   * How long after its capture an answer reaches JS (smoothed, ms): on a busy machine the counts
   * the pace is steered by lag behind the wire, and a lag must not read as a falling share.
   */
  private deliveryLagMs = 0;
  private lastCc = 0;
  private pushedRate = 0;
  private lastWindow = -Infinity;
  /** --host-timeout: each host's first probe (ms, performance.now()), in order, and the hosts given up. */
  private readonly hostFirst = new Map<string, number>();
  private readonly hostOrder: Array<[string, number]> = [];
  private hostOrderAt = 0;
  /** Hosts given up (--host-timeout): no more probes, no port records; the send stage reports them. */
  readonly timedOutHosts = new Set<string>();
  /** --host-timeout: port records held until the end (a host given up later must not have shown ports). */
  private readonly held: PortRecord[] = [];
  private readonly sourcePort: number;
  private readonly key = new Uint8Array(16);
  /** Limit on probes queued in native but not yet sent (backpressure towards the input). */
  private readonly queueLimit: number;

  constructor(private readonly opts: RawSessionOptions) {
    this.module = opts.module;
    this.flag = opts.module.flag;
    this.protoNumber = opts.module.protoNumber ?? PROTO_NUMBER[opts.module.proto];
    if (opts.module.icmpRateLimited && !opts.defeatIcmpRateLimit) {
      this.ratelimit = new IcmpRateLimitWatch({ maxDelayMs: opts.maxScanDelayMs ?? 1000 });
    }
    this.rtt = new RttEstimator(opts.initialTimeoutMs, opts.minTimeoutMs, opts.maxTimeoutMs);
    this.hostRtt = new HostRtt(this.rtt, opts.initialTimeoutMs, opts.minTimeoutMs, opts.maxTimeoutMs);
    this.retryAllowance = new RetryAllowance(opts.maxRetries);
    const ceiling = Math.min(opts.maxRate ?? Infinity, opts.scanDelayMs ? 1000 / opts.scanDelayMs : Infinity);
    if (!opts.fixedRate) {
      this.cc = new CongestionControl({
        // A ceiling given (--max-rate, --scan-delay) is where the pace starts: the user knows the
        // path; adaptation only comes down from it when the path stops answering.
        initialRate: Number.isFinite(ceiling) ? ceiling : Math.max(opts.minRate ?? 0, opts.initialRate ?? 1000),
        // --max-scan-delay bounds how slow adaptation may get (one probe per that long), --min-rate more.
        minRate: Math.min(ceiling, Math.max(opts.minRate ?? 0, opts.maxScanDelayMs ? 1000 / opts.maxScanDelayMs : 0)) || undefined,
        maxRate: Number.isFinite(ceiling) ? ceiling : undefined,
        caGrowth: opts.caGrowth,
        confirmCut: () => this.shortfallIsPathWide(),
      });
    }
    // Per-host pacing needs the adaptive pace (not a fixed one or a window) and stays out of the
    // ICMP rate-limit watch's way (UDP paces whole rounds there).
    if (this.cc && !opts.maxParallelism && !this.ratelimit) {
      this.hostPacing = new HostPacing({ minRate: Math.max(1000 / (opts.maxScanDelayMs ?? 1000), 0.001), caGrowth: opts.caGrowth });
    }
    // Above Linux's default ephemeral range (32768–60999) so no kernel socket shares our port.
    this.sourcePort = opts.sourcePort ?? randomInt(61000, 65536);
    crypto.getRandomValues(this.key);
    this.queueLimit = opts.maxRate ? Math.max(16384, Math.ceil(opts.maxRate * 0.25)) : 131072;
  }

  /** The pace the sender keeps now (probes/s; undefined: unpaced). */
  private get paceNow(): number | undefined {
    if (this.cc) return this.cc.rate;
    const ceiling = Math.min(this.opts.maxRate ?? Infinity, this.opts.scanDelayMs ? 1000 / this.opts.scanDelayMs : Infinity);
    return Number.isFinite(ceiling) ? ceiling : undefined;
  }

  /** Probes queued in native but not sent yet, at most: a quarter second at the present pace (backpressure). */
  private get queueCap(): number {
    const pace = this.paceNow;
    return pace === undefined ? this.queueLimit : Math.min(this.queueLimit, Math.max(16384, Math.ceil(pace * 0.25)));
  }

  /**
   * Why the scan's link failed (the interface went down or away, the capture died), once it did:
   * then nothing more is sent, what was found stays, and every probe without an answer is counted
   * in counters.lostProbes (never reported as filtered, nor marked done for --resume).
   */
  failure?: string;

  get aborted(): boolean {
    return this.opts.signal?.aborted === true || this.failure !== undefined;
  }

  private fail(reason: string): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    this.counters.lostProbes ??= 0;
    this.opts.onWarning?.(`${this.flag}: ${reason}: stopping the scan; what it found so far is kept, probes still unanswered are lost`);
  }

  private lose(n: number): void {
    this.counters.lostProbes = (this.counters.lostProbes ?? 0) + n;
  }

  /** Why the engine's interface cannot carry the scan any more (down or gone), or undefined while it is up. */
  private async linkProblem(family: 4 | 6): Promise<string | undefined> {
    const ifname = this.engines.get(family)?.route.ifname;
    if (!ifname) return undefined;
    const state = await linkState(ifname);
    return state === 'up' ? undefined : `${ifname} ${state === 'gone' ? 'disappeared' : 'went down'}`;
  }

  /**
   * Finished records so far: replies in arrival order, and probes that ran out of attempts. After
   * a retired run's last record comes a progress record for its positions (what --resume skips).
   */
  *take(): Generator<PortRecord | ProgressRecord> {
    for (;;) {
      const packed = this.replyBuffers.shift();
      if (packed) {
        yield* this.hold(this.decodeReplies(packed));
        continue;
      }
      const retired = this.unanswered.shift();
      if (!retired) return;
      yield* this.hold(this.noResponse(retired.b, retired.answered, retired.time));
      yield { type: 'progress', start: retired.b.start, count: retired.count ?? retired.b.ports.length / 2 };
    }
  }

  /** Without --host-timeout: records as they come. With it: held until finish (see releaseHeld). */
  private *hold(records: Generator<PortRecord>): Generator<PortRecord> {
    if (!this.opts.hostTimeoutMs) return yield* records;
    for (const r of records) if (!this.timedOutHosts.has(r.ip)) this.held.push(r);
  }

  /** The held records of hosts that finished in time. */
  private *releaseHeld(): Generator<PortRecord> {
    for (const r of this.held) if (!this.timedOutHosts.has(r.ip)) yield r;
    this.held.length = 0;
  }

  /**
   * --host-timeout: hosts past their deadline are given up — probes of theirs still in flight are
   * dropped from the engine (no resend), later ones are never sent, and none of their ports is
   * reported. Hosts finish in any order, so a host whose probes all finished is only given up if
   * a probe of its comes after its deadline.
   */
  private expireHosts(now: number): void {
    const limit = this.opts.hostTimeoutMs!;
    const due: string[] = [];
    while (this.hostOrderAt < this.hostOrder.length && now - this.hostOrder[this.hostOrderAt]![1] > limit) {
      const [host] = this.hostOrder[this.hostOrderAt++]!;
      if (!this.timedOutHosts.has(host)) due.push(host);
    }
    if (this.hostOrderAt > 4096 && this.hostOrderAt * 2 > this.hostOrder.length) {
      this.hostOrder.splice(0, this.hostOrderAt);
      this.hostOrderAt = 0;
    }
    if (due.length === 0) return;
    // A host past its deadline is given up only if a probe of its is still unanswered in flight.
    const dueSet = new Set(due);
    const drops: Array<{ b: InFlight; entries: number[] }> = [];
    const late = new Set<string>();
    for (const b of this.inflight) {
      if (b.closing || !due.some((h) => b.hostSet?.has(h))) continue;
      const engine = this.engines.get(b.family)!.engine;
      const answered = engine.answered(b.slot);
      const width = b.family === 4 ? 4 : 16;
      for (let i = 0; i < b.ports.length / 2; i++) {
        if (answered[i >> 3]! & (1 << (i & 7))) continue;
        const h = addrText(b.addrs, i * width, b.family);
        if (dueSet.has(h)) late.add(h);
      }
      drops.push({ b, entries: [] });
    }
    if (late.size === 0) return;
    for (const h of late) this.timedOutHosts.add(h);
    this.counters.hostTimeouts = this.timedOutHosts.size;
    for (const { b, entries } of drops) {
      const width = b.family === 4 ? 4 : 16;
      for (let i = 0; i < b.ports.length / 2; i++) if (late.has(addrText(b.addrs, i * width, b.family))) entries.push(i);
      if (entries.length) this.engines.get(b.family)!.engine.abandon(b.slot, Uint32Array.from(entries));
    }
  }

  /** Marks the hosts of a batch seen (their deadline starts) and which of them are past it already. */
  private noteHosts(family: 4 | 6, addrs: Uint8Array, now: number): { hostSet: Set<string>; late?: Uint8Array } {
    const width = family === 4 ? 4 : 16;
    const hostSet = new Set<string>();
    let late: Uint8Array | undefined;
    const limit = this.opts.hostTimeoutMs!;
    for (let o = 0, i = 0; o < addrs.length; o += width, i++) {
      const h = addrText(addrs, o, family);
      hostSet.add(h);
      const first = this.hostFirst.get(h);
      if (first === undefined) {
        this.hostFirst.set(h, now);
        this.hostOrder.push([h, now]);
      } else if (this.timedOutHosts.has(h) || now - first > limit) {
        if (!this.timedOutHosts.has(h)) { this.timedOutHosts.add(h); this.counters.hostTimeouts = this.timedOutHosts.size; }
        (late ??= new Uint8Array(addrs.length / width))[i] = 1;
      }
    }
    return { hostSet, late };
  }

  get pending(): number {
    return this.inflight.length;
  }

  /**
   * The family's engine, created on its first batch: the route to the batch's first address that
   * is not one of this machine's own (a LAN scan includes the scanner's address) decides the
   * interface, the source and the template's next hop.
   */
  private async engineFor(family: 4 | 6, addrs: Uint8Array): Promise<RawEngine> {
    const have = this.engines.get(family);
    if (have) return have.engine;
    const width = family === 4 ? 4 : 16;
    const firstAddr = addrText(addrs, 0, family);
    let chosen = firstAddr;
    const candidates = new Set<string>();
    for (let o = 0; o < addrs.length && candidates.size < 64; o += width) candidates.add(addrText(addrs, o, family));
    if (candidates.size > 1) {
      const hops = await this.nextHops([...candidates], { iface: this.opts.iface, source: this.opts.sourceAddress });
      chosen = [...candidates].find((a) => { const h = hops.get(a); return h && !h.local && h.type === 'unicast'; }) ?? firstAddr;
    }
    const route = this.opts.boundary ? await this.opts.boundary.resolveRoute(chosen) : await resolveRawRoute(chosen, { iface: this.opts.iface, source: this.opts.sourceAddress });
    if (route.local) {
      // A frame injected on a packet socket enters the stack as if from outside, and the kernel
      // drops it as a martian when it claims to come from one of its own addresses.
      throw new UserInputError(
        `${this.flag} cannot probe ${firstAddr}: it is an address of this machine, which drops raw frames addressed to itself; scan it with -sT`,
      );
    }
    if (route.ipLink && this.opts.evasion?.spoofMac) {
      throw new UserInputError(`--spoof-mac: ${route.ifname} is a ${route.linkType} link, which carries IP packets without a MAC address`);
    }
    if (family === 6 && !this.module.ipv6) throw new UserInputError(`${this.flag} (${this.module.title}) cannot probe IPv6 targets such as ${firstAddr}`);
    const ctx: WireContext = { datadir: this.opts.datadir, payload: this.opts.evasion?.payload };
    const evasion = resolveEvasion(this.opts.evasion ?? {}, family, route.sourceBytes, this.flag);
    const config: RawEngineConfig = {
      ifname: route.ifname,
      srcMac: evasion.srcMac ?? route.srcMac,
      ...(family === 4 ? { src4: route.sourceBytes, dstMac4: route.nextHopMac } : { src6: route.sourceBytes, dstMac6: route.nextHopMac }),
      sourcePort: this.sourcePort,
      ttl: this.opts.ttl ?? 64,
      rate: this.paceNow ?? 0,
      ...(this.opts.minRate ? { minRate: this.opts.minRate } : {}),
      ...(this.opts.maxParallelism ? { congestionWindow: this.opts.maxParallelism } : {}),
      key: this.key,
      trace: (this.tracing ??= this.opts.packetTrace?.enabled() ?? false),
      ...this.module.wire(ctx),
      ...evasion.wire,
    };
    const onReplies = (packed: Buffer, barrier?: number) => (barrier === undefined ? this.onReplies(packed) : this.onBarrier(family, barrier));
    const engine = this.opts.boundary ? this.opts.boundary.openEngine(config, onReplies) : new (loadNative().RawEngine)(config, onReplies);
    engine.start();
    this.engines.set(family, {
      engine, route, hopByPrefix: new Map(), hopByAddr: new Map(),
      macOf: new Map(route.onLink ? [] : [[route.nextHop, route.nextHopMac]]),
      ...(route.onLink || route.ipLink ? {} : { gateway: route.nextHop }),
      barrierDone: 0,
    });
    return engine;
  }

  private nextHops(targets: string[], overrides: { iface?: string; source?: string }): Promise<Map<string, NextHop>> {
    return this.opts.boundary ? this.opts.boundary.nextHops(targets) : nextHopsOf(targets, overrides);
  }

  private onBarrier(family: 4 | 6, id: number): void {
    const fam = this.engines.get(family);
    if (fam && id > fam.barrierDone) fam.barrierDone = id;
  }

  /** This service round's barrier of each kind per family: batches closing together share one. */
  private roundBarriers = new Map<string, number>();
  private barrierFor(family: 4 | 6, ring: boolean): number {
    const k = `${family}${ring ? 'r' : 'f'}`;
    let id = this.roundBarriers.get(k);
    if (id === undefined) this.roundBarriers.set(k, (id = this.engines.get(family)!.engine.barrier(ring)));
    return id;
  }

  /**
   * Starts closing a batch whose probes are all answered (`ring` false: every answer is parsed
   * already) or whose last wait ran out (`ring` true: replies captured before now may still sit in
   * the capture ring).
   */
  private beginClose(b: InFlight, ring: boolean): void {
    if (ring) {
      b.closing = { phase: 'ring', barrier: this.barrierFor(b.family, true) };
      return;
    }
    const answered = this.engines.get(b.family)!.engine.retire(b.slot);
    b.closing = { phase: 'flush', barrier: this.barrierFor(b.family, false), answered };
  }

  /** Moves a closing batch on as its barriers are answered; true once it is done (reported). */
  private advanceClose(b: InFlight): boolean {
    const c = b.closing!;
    if (this.engines.get(b.family)!.barrierDone < c.barrier) return false;
    if (c.phase === 'ring') {
      this.beginClose(b, false);
      return false;
    }
    this.settle(b, c.answered!);
    return true;
  }

  /**
   * Replies stay packed (native's layout, off the JS heap) until the records are pulled: a
   * consumer that lags behind a flood of replies then costs a Buffer, not an object per reply.
   */
  private onReplies(packed: Buffer): void {
    const v = new ReplyView(packed);
    if (v.count > 0) {
      v.at(v.count - 1);
      const lag = Date.now() - v.timeMs;
      if (lag >= 0 && Number.isFinite(lag)) this.deliveryLagMs = 0.875 * this.deliveryLagMs + 0.125 * lag;
    }
    for (let i = 0; i < v.count; i++) {
      v.at(i);
      const rtt = v.rttMs;
      const tries = v.tries;
      const rst = v.isTcp && (v.tcpFlags & 0x04) !== 0;
      // --defeat-rst-ratelimit: a host's RST budget says nothing about the path; RSTs neither pace nor earn retries.
      if (rst && this.opts.defeatRstRateLimit) continue;
      // Karn's rule: a probe sent more than once gives no sample (the reply may answer either send).
      if (!v.isIcmp && rtt >= 0 && tries === 1) this.hostRtt.sample(v.ip, rtt);
      // A retransmission that got the answer: its first send was lost (nmap's drop), and the path
      // needs at least this many retries.
      if (tries > 0) this.retryAllowance.answer(tries);
      // A host with its own pace: its answers and drops are its own, not the group's.
      const paced = this.hostPacing && this.hostPacing.size > 0 && this.hostPacing.of(v.ip);
      if (paced) {
        this.laneAnswers++;
        if (tries > 1) this.hostPacing!.drop(v.ip);
      } else if (tries > 1) this.cc?.drop();
    }
    this.replyBuffers.push(packed);
  }

  private *decodeReplies(packed: Buffer): Generator<PortRecord> {
    const v = new ReplyView(packed);
    const proto = this.module.proto;
    for (let i = 0; i < v.count; i++) {
      v.at(i);
      const verdict = this.module.classify(v) ?? this.module.noAnswer;
      this.counters[verdict.state] = (this.counters[verdict.state] ?? 0) + 1;
      const rtt = v.rttMs;
      yield {
        type: 'port',
        ip: v.ip,
        port: v.port,
        proto,
        state: verdict.state,
        reason: verdict.reason,
        ttl: v.ttl,
        rtt: rtt >= 0 ? Math.round(rtt * 1000) / 1000 : null,
        time: Math.round(v.timeMs),
        ...(v.isTcp ? { window: v.window } : {}),
        // A SYN-ACK's options complete its fingerprint (stages/middlebox tells proxies by it).
        ...(v.isTcp && (v.tcpFlags & 0x12) === 0x12 ? { tcpOptions: v.tcpOptions.toString('hex') } : {}),
      };
    }
  }

  /**
   * Queues a probe batch (entries of the module's protocol only; others are skipped and counted by the caller). Returns
   * when the engine took it; meanwhile it keeps retiring and re-sending batches in flight.
   */
  async *add(batch: ProbeBatch): AsyncGenerator<PortRecord | ProgressRecord, void, undefined> {
    await this.queue(batch);
    yield* this.take();
  }

  private async queue(batch: ProbeBatch): Promise<void> {
    const width = batch.family === 4 ? 4 : 16;
    const mine = this.protoNumber;
    // Runs of consecutive entries of our protocol keep "index = start + i" true for each piece.
    for (let i = 0; i < batch.count; ) {
      if (batch.protos[i] !== mine) { i++; continue; }
      let j = i;
      while (j < batch.count && batch.protos[j] === mine) j++;
      await this.enqueue(batch.family, batch.start + i, batch.addrs.subarray(i * width, j * width), batch.ports.subarray(i * 2, j * 2));
      i = j;
    }
  }

  /**
   * Each probe's next-hop MAC. Through a gateway, that is the gateway's (one per family: targets
   * needing another gateway or interface are refused, they would need another source). On the
   * local link, it is the host's own, from the neighbour table (ARP/NDP run for hosts it lacks);
   * hosts that stay unresolved get no probe (`unresolved[i]` = 1), nor do broadcast addresses;
   * this machine's own addresses are skipped (`unresolved[i]` = 2). Routes are looked up once per
   * /24 (/64), and per address inside on-link prefixes; MACs are cached for the scan.
   * Returns undefined when every probe goes to the template's MAC (the common, cheap case).
   */
  private async nextHopMacs(family: 4 | 6, addrs: Uint8Array): Promise<{ macs?: Uint8Array; unresolved?: Uint8Array } | undefined> {
    const fam = this.engines.get(family)!;
    const { route } = fam;
    const width = family === 4 ? 4 : 16;
    const n = addrs.length / width;
    const prefix = family === 4 ? 3 : 8;
    const overrides = { iface: this.opts.iface, source: this.opts.sourceAddress };
    // Numbers for IPv4 (cheap per probe: a routed scan of millions of probes runs this loop), hex for IPv6.
    const keyAt = (o: number, len: number): number | string =>
      family === 4
        ? (len === 3 ? (addrs[o]! << 16) | (addrs[o + 1]! << 8) | addrs[o + 2]! : ((addrs[o]! << 24) | (addrs[o + 1]! << 16) | (addrs[o + 2]! << 8) | addrs[o + 3]!) >>> 0)
        : Buffer.from(addrs.subarray(o, o + len)).toString('hex');
    // A prefix whose sample address is on the link, or special (local, broadcast), is looked up per address.
    const perAddress = (h: NextHop) => h.onLink || h.local || h.type !== 'unicast';
    // 1. the route of every new /24 (/64), one `ip -batch` for all of them
    const newPrefixes = new Map<number | string, string>();
    for (let o = 0; o < addrs.length; o += width) {
      const k = keyAt(o, prefix);
      if (!fam.hopByPrefix.has(k) && !newPrefixes.has(k)) newPrefixes.set(k, addrText(addrs, o, family));
    }
    if (newPrefixes.size > 0) {
      const hops = await this.nextHops([...newPrefixes.values()], overrides);
      for (const [k, a] of newPrefixes) {
        const hop = hops.get(a);
        if (!hop) throw new UserInputError(`no route to ${a}`);
        if (!perAddress(hop)) this.checkGateway(family, a, hop);
        else fam.perAddressPrefixes = true;
        fam.hopByPrefix.set(k, hop);
      }
    }
    // 2. inside those prefixes, each address's own route (a smaller subnet may be routed)
    const newAddrs = new Map<number | string, string>();
    let anyPerAddress = false;
    for (let o = 0; fam.perAddressPrefixes && o < addrs.length; o += width) {
      if (!perAddress(fam.hopByPrefix.get(keyAt(o, prefix))!)) continue;
      anyPerAddress = true;
      const k = keyAt(o, width);
      if (!fam.hopByAddr.has(k) && !newAddrs.has(k)) newAddrs.set(k, addrText(addrs, o, family));
    }
    if (!anyPerAddress && !route.onLink) return undefined; // all through the template's gateway (checked)
    if (newAddrs.size > 0) {
      const hops = await this.nextHops([...newAddrs.values()], overrides);
      for (const [k, a] of newAddrs) {
        const hop = hops.get(a);
        if (!hop) throw new UserInputError(`no route to ${a}`);
        if (!hop.local && hop.type === 'unicast') this.checkGateway(family, a, hop);
        fam.hopByAddr.set(k, hop);
      }
    }
    const hopOf = (o: number) => fam.hopByAddr.get(keyAt(o, width)) ?? fam.hopByPrefix.get(keyAt(o, prefix))!;
    if (route.ipLink) {
      // A bare-IP link (tun, ppp, tunnels): no MACs; only this machine's own and special addresses stay behind.
      let unresolved: Uint8Array | undefined;
      for (let i = 0; anyPerAddress && i < n; i++) {
        const hop = hopOf(i * width);
        if (hop.local || hop.type !== 'unicast') (unresolved ??= new Uint8Array(n))[i] = hop.local ? 2 : 1;
      }
      return unresolved ? { unresolved } : undefined;
    }
    // 3. the MAC of every new next hop (on-link hosts and the gateway), from one neighbour table read
    const unknown = new Set<string>();
    for (let o = 0; o < addrs.length; o += width) {
      const hop = hopOf(o);
      if (!hop.local && hop.type === 'unicast' && !fam.macOf.has(hop.nextHop)) unknown.add(hop.nextHop);
    }
    if (unknown.size > 0) {
      const found = await resolveNeighbours(route.ifname, family, [...unknown]);
      for (const a of unknown) {
        fam.macOf.set(a, found.get(a) ?? null);
      }
    }
    if (fam.gateway !== undefined && fam.macOf.get(fam.gateway) === null) {
      throw new UserInputError(`cannot resolve the MAC address of ${fam.gateway} on ${route.ifname} (ARP/NDP gave no answer)`);
    }
    // 4. the columns: a MAC per probe, and which probes go nowhere
    const macs = new Uint8Array(n * 6);
    let unresolved: Uint8Array | undefined;
    for (let i = 0; i < n; i++) {
      const hop = hopOf(i * width);
      const mac = hop.local || hop.type !== 'unicast' ? undefined : fam.macOf.get(hop.nextHop);
      if (mac) {
        const m = i * 6; // six stores: cheaper per probe than TypedArray.set
        macs[m] = mac[0]!; macs[m + 1] = mac[1]!; macs[m + 2] = mac[2]!; macs[m + 3] = mac[3]!; macs[m + 4] = mac[4]!; macs[m + 5] = mac[5]!;
      } else (unresolved ??= new Uint8Array(n))[i] = hop.local ? 2 : 1;
    }
    return { macs, unresolved };
  }

  /** Refuses a next hop the family's one engine (one interface, one source, one gateway) cannot serve. */
  private checkGateway(family: 4 | 6, target: string, hop: NextHop): void {
    const fam = this.engines.get(family)!;
    const { route } = fam;
    if (hop.ifname !== route.ifname) {
      throw new UserInputError(
        `${this.flag} sends every IPv${family} probe from one interface (${route.ifname}), but ${target} is reached through ${hop.ifname}: scan it in a separate run, or use -sT`,
      );
    }
    if (hop.onLink || route.ipLink) return; // a bare-IP link has no next-hop address to agree on
    fam.gateway ??= hop.nextHop;
    if (hop.nextHop !== fam.gateway) {
      throw new UserInputError(
        `${this.flag} sends every routed IPv${family} probe to one gateway (${fam.gateway} on ${route.ifname}), but ${target} goes through ${hop.nextHop}: scan it in a separate run, or use -sT`,
      );
    }
  }

  private async enqueue(family: 4 | 6, start: number, addrs: Uint8Array, ports: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return this.lose(ports.length / 2);
    const started = this.engines.has(family);
    await this.engineFor(family, addrs);
    let plan: Awaited<ReturnType<RawSession['nextHopMacs']>>;
    try {
      plan = await this.nextHopMacs(family, addrs);
    } catch (err) {
      // Routes vanish with their link: a lookup failing mid-scan on a link that went down is that failure, not a bad target.
      const problem = started ? await this.linkProblem(family) : undefined;
      if (!problem) throw err;
      this.fail(problem);
      return this.lose(ports.length / 2);
    }
    if (this.opts.hostTimeoutMs) {
      // Probes of hosts already given up are not sent (they count for --resume like sent ones).
      const { late } = this.noteHosts(family, addrs, performance.now());
      if (late) {
        const unresolved = plan?.unresolved ?? new Uint8Array(late.length);
        for (let i = 0; i < late.length; i++) if (late[i]) unresolved[i] = 3;
        plan = { macs: plan?.macs, unresolved };
      }
    }
    if (!plan?.unresolved) return this.submit(family, start, addrs, ports, plan?.macs);
    // Probes to on-link hosts without a MAC are not sent: each run of sendable probes is a batch.
    const width = family === 4 ? 4 : 16;
    const { unresolved, macs } = plan;
    const n = ports.length / 2;
    for (let i = 0; i < n; ) {
      let j = i;
      if (unresolved[i]) {
        const kind = unresolved[i];
        while (j < n && unresolved[j] === kind) j++;
        if (kind === 1) this.noMac(family, start + i, addrs.subarray(i * width, j * width), ports.subarray(i * 2, j * 2));
        else if (kind === 2) this.ownAddress(family, start + i, addrs.subarray(i * width, j * width), j - i);
        else this.skipped(family, start + i, j - i);
      } else {
        while (j < n && !unresolved[j]) j++;
        await this.submit(family, start + i, addrs.subarray(i * width, j * width), ports.subarray(i * 2, j * 2), macs?.subarray(i * 6, j * 6));
      }
      i = j;
    }
  }

  /** Probes to on-link hosts that did not answer ARP/NDP: filtered/no-response, as if unanswered. */
  private noMac(family: 4 | 6, start: number, addrs: Uint8Array, ports: Uint8Array): void {
    const n = ports.length / 2;
    this.counters.unresolved = (this.counters.unresolved ?? 0) + n;
    this.unanswered.push({
      b: { slot: -1, family, start, addrs, ports, seq: 0, attempt: 0, roundAt: 0, roundSent: 0, answeredBefore: 0, pacedRounds: 0 },
      answered: Buffer.alloc((n + 7) >> 3),
      time: Date.now(),
    });
  }

  /**
   * Probes to this machine's own addresses (a scan of its LAN includes it): the kernel drops raw
   * frames addressed to itself, so they are skipped with a warning, not reported as filtered.
   */
  private ownAddress(family: 4 | 6, start: number, addrs: Uint8Array, n: number): void {
    this.counters.ownAddress = (this.counters.ownAddress ?? 0) + n;
    const width = family === 4 ? 4 : 16;
    for (let o = 0; o < addrs.length; o += width) {
      const a = addrText(addrs, o, family);
      if (this.warnedOwn.has(a)) continue;
      this.warnedOwn.add(a);
      this.opts.onWarning?.(`${this.flag} skips ${a}: it is an address of this machine, which drops raw frames addressed to itself; scan it with -sT`);
    }
    this.unanswered.push({ b: { slot: -1, family, start, addrs: addrs.subarray(0, 0), ports: new Uint8Array(0), seq: 0, attempt: 0, roundAt: 0, roundSent: 0, answeredBefore: 0, pacedRounds: 0 }, answered: Buffer.alloc(0), time: Date.now(), count: n });
  }

  /** Probes not sent because their host was given up (--host-timeout): no records, progress only. */
  private skipped(family: 4 | 6, start: number, n: number): void {
    this.counters.hostTimeoutSkipped = (this.counters.hostTimeoutSkipped ?? 0) + n;
    this.unanswered.push({ b: { slot: -1, family, start, addrs: new Uint8Array(0), ports: new Uint8Array(0), seq: 0, attempt: 0, roundAt: 0, roundSent: 0, answeredBefore: 0, pacedRounds: 0 }, answered: Buffer.alloc(0), time: Date.now(), count: n });
  }

  private async submit(family: 4 | 6, start: number, addrs: Uint8Array, ports: Uint8Array, macs?: Uint8Array): Promise<void> {
    const { engine } = this.engines.get(family)!;
    for (;;) {
      if (this.aborted) return this.failure !== undefined ? this.lose(ports.length / 2) : undefined;
      this.service();
      if (engine.queuedProbes() < this.queueCap) {
        // Probes of hosts with their own pace wait in those hosts' lanes, not in the batch's job.
        const lanes = this.hostPacing && this.hostPacing.size > 0 ? this.laneEntries(family, addrs) : undefined;
        const hold = lanes ? Uint32Array.from([...lanes.values()].flat()) : undefined;
        const r = engine.enqueue(family, start, addrs, ports, macs ?? null, hold);
        if (r) {
          const b: InFlight = { slot: r.slot, family, start, addrs, ports, seq: r.seq, attempt: 0, roundAt: performance.now(), roundSent: ports.length / 2, answeredBefore: 0, pacedRounds: 0, hosts: this.hostRtt.hostsOf(family, addrs),
            ...(this.hostPacing && fewHosts(family, addrs) ? { perHost: true } : {}),
            ...(this.opts.hostTimeoutMs ? { hostSet: hostSetOf(family, addrs) } : {}) };
          if (lanes) {
            b.laned = true;
            for (const [host, entries] of lanes) {
              const h = this.hostPacing!.of(host)!;
              engine.resend(r.slot, h.rate, Uint32Array.from(entries), h.lane);
            }
          }
          this.inflight.push(b);
          this.counters.probes += ports.length / 2;
          return;
        }
      }
      await sleep(2);
    }
  }

  /** --packet-trace on right now (the p/P keys switch it while the scan runs). */
  private tracing?: boolean;

  /** Prints what native traced since the last call, and follows the trace being switched. */
  private drainTrace(): void {
    const trace = this.opts.packetTrace;
    if (!trace) return;
    const on = trace.enabled();
    for (const [, { engine }] of this.engines) {
      if (on !== this.tracing) engine.setTrace(on);
      const got = engine.takeTrace();
      if (!got) continue;
      for (const f of tracedFrames(got.frames)) {
        const line = traceLine(f, trace.clock);
        if (line) trace.write(line);
      }
      if (got.dropped) trace.write(`TRACE: ${got.dropped} packets not shown (the trace fell behind the scan)`);
    }
    this.tracing = on;
  }

  /** Notes finished sends, re-sends batches whose wait ran out, and retires finished ones. */
  service(): void {
    this.drainTrace();
    const now = performance.now();
    const sentSeq = new Map<4 | 6, number>();
    for (const [f, e] of this.engines) sentSeq.set(f, e.engine.sentSeq());
    if (now - this.lastStats > 250) {
      this.lastStats = now;
      this.refreshCounters();
    }
    if (this.cc && now - this.lastCc >= 5) this.steer(now);
    if (this.opts.hostTimeoutMs) this.expireHosts(now);
    if (this.opts.maxParallelism && now - this.lastWindow >= 50) {
      // An unanswered probe holds its place in the window for as long as an attempt waits.
      this.lastWindow = now;
      for (const [, { engine }] of this.engines) engine.setWindow(this.opts.maxParallelism, this.rtt.timeoutMs);
    }
    const retries = this.retryAllowance.retries;
    this.roundBarriers.clear();
    for (let k = 0; k < this.inflight.length; k++) {
      const b = this.inflight[k]!;
      if (this.aborted) {
        // Interrupted: stop now. What was answered is already reported; the rest is not waited for.
        if (b.closing?.answered) this.settle(b, b.closing.answered);
        else this.retire(this.engines.get(b.family)!.engine, b);
        this.inflight.splice(k--, 1);
        continue;
      }
      if (b.closing) {
        if (this.advanceClose(b)) this.inflight.splice(k--, 1);
        continue;
      }
      if (b.sentAt === undefined) {
        const onWire = b.laned ? this.engines.get(b.family)!.engine.pendingJobs(b.slot) === 0 : b.seq <= sentSeq.get(b.family)!;
        if (onWire) b.sentAt = now;
        else continue;
      }
      const last = b.attempt >= retries;
      const timeout = this.hostRtt.timeoutOf(b.hosts);
      const wait = last ? Math.max(timeout, this.opts.waitMs ?? 0) : timeout;
      const engine = this.engines.get(b.family)!.engine;
      const answeredNow = engine.answeredCount(b.slot);
      // Every probe answered: nothing left to wait for (the scan's tail is then one RTT, not a timeout).
      const complete = answeredNow === b.ports.length / 2;
      if (complete) {
        this.beginClose(b, false);
        continue;
      }
      if (now - b.sentAt < wait && !this.aborted) continue;
      if (this.ratelimit && !this.aborted) {
        // A target that rate-limits ICMP errors: resend the unanswered probes slower, without using up a retry.
        const answered = engine.answeredCount(b.slot);
        const got = answered - b.answeredBefore;
        b.firstAt ??= b.roundAt;
        const pace = this.ratelimit.nextPace({
          sent: b.roundSent, answered: got, seconds: engine.roundSeconds(b.slot) + Math.max(0.002, 2 * this.rtt.srttMs / 1000),
          pace: b.pace, rounds: b.pacedRounds, totalAnswered: answered, totalSeconds: (now - b.firstAt) / 1000,
          emptyRounds: b.emptyRounds ?? 0,
        });
        if (pace !== undefined) {
          const again = engine.resend(b.slot, pace);
          if (again) {
            this.counters.retries += again.count;
            this.counters.rateLimitRounds = this.ratelimit.slowed;
            const emptyRounds = b.pacedRounds > 0 && got === 0 ? (b.emptyRounds ?? 0) + 1 : 0;
            Object.assign(b, { seq: again.seq, sentAt: undefined, roundAt: now, roundSent: again.count, answeredBefore: answered, pace, pacedRounds: b.pacedRounds + 1, emptyRounds });
            continue;
          }
        }
      }
      if (b.perHost) this.judgeHosts(engine, b);
      if (!last && !this.aborted && this.hostPacing && this.hostPacing.size > 0) {
        const answered = engine.answeredCount(b.slot);
        const again = this.resendByLane(engine, b);
        if (again) {
          this.counters.retries += again.count;
          b.attempt++;
          Object.assign(b, { seq: again.seq, sentAt: undefined, roundAt: now, roundSent: again.count, answeredBefore: answered });
          continue;
        }
      } else if (!last && !this.aborted) {
        const answered = engine.answeredCount(b.slot);
        const again = engine.resend(b.slot, b.pace);
        if (again) {
          this.counters.retries += again.count;
          b.attempt++;
          Object.assign(b, { seq: again.seq, sentAt: undefined, roundAt: now, roundSent: again.count, answeredBefore: answered });
          continue;
        }
      }
      this.beginClose(b, true);
    }
  }

  /** The entries of a batch that belong to hosts with their own pace, by host (undefined: none). */
  private laneEntries(family: 4 | 6, addrs: Uint8Array, only?: (i: number) => boolean): Map<string, number[]> | undefined {
    const width = family === 4 ? 4 : 16;
    let out: Map<string, number[]> | undefined;
    for (let o = 0, i = 0; o < addrs.length; o += width, i++) {
      if (only && !only(i)) continue;
      const h = addrText(addrs, o, family);
      if (!this.hostPacing!.of(h)) continue;
      out ??= new Map();
      let list = out.get(h);
      if (!list) out.set(h, (list = []));
      list.push(i);
    }
    return out;
  }

  /**
   * A round of a batch of few hosts ended: each host's probes in it and their answers. Hosts with
   * their own pace adjust it from their share; the others are compared with the rest of the round
   * (one far behind gets its own pace, see HostPacing).
   */
  private judgeHosts(engine: RawEngine, b: InFlight): void {
    const bits = engine.answered(b.slot);
    const before = b.roundBits;
    const width = b.family === 4 ? 4 : 16;
    const paced = new Map<string, { sent: number; answered: number }>();
    const others = new Map<string, { sent: number; answered: number }>();
    for (let i = 0, o = 0; i < b.ports.length / 2; i++, o += width) {
      if (before && before[i >> 3]! & (1 << (i & 7))) continue; // answered in an earlier round: not in this one
      const h = addrText(b.addrs, o, b.family);
      const m = this.hostPacing!.of(h) ? paced : others;
      let c = m.get(h);
      if (!c) m.set(h, (c = { sent: 0, answered: 0 }));
      c.sent++;
      if (bits[i >> 3]! & (1 << (i & 7))) c.answered++;
    }
    b.roundBits = bits;
    const ceiling = this.cc!.rate;
    for (const [h, c] of paced) {
      const rate = this.hostPacing!.laneRound(h, c.sent, c.answered, ceiling);
      if (rate !== undefined) engine.setLanePace(this.hostPacing!.of(h)!.lane, rate);
    }
    const seconds = engine.roundSeconds(b.slot) + 2 * this.rtt.srttMs / 1000;
    const singled = this.hostPacing!.judgeRound(others, seconds, ceiling);
    if (singled.length) this.counters.pacedHosts = this.hostPacing!.size;
  }

  /**
   * Asked by the group's congestion control before it cuts the pace: looks at the batches of few
   * hosts whose round is on the wire (for at least an RTT) and, host by host, at what was answered.
   * Hosts far behind the rest get their own pace (HostPacing.judgeRound); the cut goes ahead only
   * if the hosts left with the group's pace fall short too. Without such batches (a sweep of many
   * hosts), every shortfall is the path's.
   */
  private shortfallIsPathWide(): boolean {
    if (!this.hostPacing) return true;
    const now = performance.now();
    const perHost = new Map<string, { sent: number; answered: number }>();
    let looked = false;
    // Probes sent within the last RTT (and a little) may not have their answer yet.
    const recent = Math.ceil((this.cc!.rate * this.rtt.srttMs * 1.5) / 1000) + 16;
    for (const b of this.inflight) {
      // A batch being closed may have left its slot already (see beginClose).
      if (!b.perHost || b.closing) continue;
      const engine = this.engines.get(b.family)!.engine;
      const n = b.ports.length / 2;
      // The whole round on the wire for an RTT, or the entries the sender is past (it goes in order).
      const upto = b.sentAt !== undefined && now - b.sentAt >= this.rtt.srttMs ? n : Math.min(n, engine.sentUpTo(b.slot) - recent);
      if (upto <= 0) continue;
      const bits = engine.answered(b.slot);
      const width = b.family === 4 ? 4 : 16;
      for (let i = 0, o = 0; i < upto; i++, o += width) {
        if (b.roundBits && b.roundBits[i >> 3]! & (1 << (i & 7))) continue;
        const h = addrText(b.addrs, o, b.family);
        if (this.hostPacing.of(h)) continue;
        let c = perHost.get(h);
        if (!c) perHost.set(h, (c = { sent: 0, answered: 0 }));
        c.sent++;
        if (bits[i >> 3]! & (1 << (i & 7))) c.answered++;
        looked = true;
      }
    }
    if (!looked) return true;
    const singled = this.hostPacing.judgeRound(perHost, Math.max(0.001, 2 * this.rtt.srttMs / 1000 + 0.05), this.cc!.rate);
    if (singled.length === 0) return true;
    this.counters.pacedHosts = this.hostPacing.size;
    for (const h of singled) perHost.delete(h);
    let sent = 0, answered = 0;
    for (const c of perHost.values()) { sent += c.sent; answered += c.answered; }
    const base = this.cc!.baseline ?? 1;
    // The rest answer as the path does when not congested: the shortfall was the singled-out hosts'.
    return sent >= 96 && answered / sent < base - 0.02;
  }

  /** Re-sends a batch's unanswered probes: those of paced hosts through their lanes, the rest as one job. */
  private resendByLane(engine: RawEngine, b: InFlight): { seq: number; count: number } | null {
    const bits = engine.answered(b.slot);
    const unanswered = (i: number) => !(bits[i >> 3]! & (1 << (i & 7)));
    const lanes = this.laneEntries(b.family, b.addrs, unanswered);
    if (!lanes) return engine.resend(b.slot, b.pace);
    const inLane = new Set<number>();
    let count = 0, seq = 0;
    for (const [host, entries] of lanes) {
      const h = this.hostPacing!.of(host)!;
      const r = engine.resend(b.slot, h.rate, Uint32Array.from(entries), h.lane);
      for (const i of entries) inLane.add(i);
      if (r) { count += r.count; seq = Math.max(seq, r.seq); }
    }
    const rest: number[] = [];
    for (let i = 0; i < b.ports.length / 2; i++) if (unanswered(i) && !inLane.has(i)) rest.push(i);
    if (rest.length) {
      const r = engine.resend(b.slot, b.pace, Uint32Array.from(rest));
      if (r) { count += r.count; seq = Math.max(seq, r.seq); }
    }
    if (count === 0) return null;
    b.laned = true;
    return { seq, count };
  }

  /** Congestion control: the pace from what the path answered lately (see congestion.ts). */
  private steer(now: number): void {
    this.lastCc = now;
    // Native's counts (not the replies JS has seen: a busy event loop would look like a silent path).
    let sent = 0, answers = 0, backlog = false;
    for (const [, { engine }] of this.engines) {
      const s = engine.stats();
      // Hosts with their own pace are left out: their share is theirs, not the path's.
      sent += s.sent - s.laneSent;
      // --defeat-rst-ratelimit: a host's RST budget says nothing about the path.
      answers += s.replies - (this.opts.defeatRstRateLimit ? s.rstReplies : 0);
      if (engine.queuedProbes() > 0) backlog = true;
    }
    answers -= this.laneAnswers;
    const cc = this.cc!;
    const srtt = this.rtt.srttMs;
    if (this.opts.minParallelism && srtt > 0) cc.setFloor((this.opts.minParallelism * 1000) / Math.max(srtt, 0.05));
    cc.update(now, sent, answers, srtt, backlog, srtt + this.deliveryLagMs);
    if (cc.rate !== this.pushedRate) {
      this.pushedRate = cc.rate;
      for (const [, { engine }] of this.engines) engine.setRate(cc.rate);
    }
    this.counters.rate = Math.round(cc.rate);
    if (cc.congested) this.counters.congestionCuts = cc.congested;
    if (cc.drops) this.counters.drops = cc.drops;
  }

  private retire(engine: RawEngine, b: InFlight): void {
    this.settle(b, engine.retire(b.slot));
  }

  /** A retired batch: its unanswered probes (and its progress) are reported, unless the scan stopped. */
  private settle(b: InFlight, answered: Buffer): void {
    if (this.aborted) {
      // An interrupted scan reports what it found, not what it did not wait for; a failed one counts it lost.
      if (this.failure !== undefined) {
        const n = b.ports.length / 2;
        let got = 0;
        for (let i = 0; i < n; i++) if (answered[i >> 3]! & (1 << (i & 7))) got++;
        this.lose(n - got);
      }
      return;
    }
    this.unanswered.push({ b, answered, time: Date.now() });
  }

  private *noResponse(b: InFlight, answered: Buffer, time: number): Generator<PortRecord> {
    const width = b.family === 4 ? 4 : 16;
    const n = b.ports.length / 2;
    const proto = this.module.proto;
    const { state, reason } = this.opts.defeatIcmpRateLimit && this.module.icmpRateLimited
      ? { state: 'closed|filtered' as const, reason: this.module.noAnswer.reason }
      : this.module.noAnswer;
    for (let i = 0; i < n; i++) {
      if (answered[i >> 3]! & (1 << (i & 7))) continue;
      this.counters[state] = (this.counters[state] ?? 0) + 1;
      yield {
        type: 'port', ip: addrText(b.addrs, i * width, b.family), port: (b.ports[i * 2]! << 8) | b.ports[i * 2 + 1]!,
        proto, state, reason, ttl: null, rtt: null, time,
      };
    }
  }

  /**
   * The end of a host group: waits out every batch in flight (answers, retries, timeouts) with
   * the engines left running for the next group. Records held for --host-timeout are released:
   * every host of the group is finished or given up by now.
   */
  async *finishGroup(): AsyncGenerator<PortRecord | ProgressRecord> {
    while (this.inflight.length > 0 && !this.aborted) {
      this.service();
      yield* this.take();
      if (this.inflight.length > 0) await sleep(5);
    }
    yield* this.take();
    yield* this.releaseHeld();
  }

  /** Waits out the batches in flight (yielding records as they finish), then stops the engines. */
  async *finish(): AsyncGenerator<PortRecord | ProgressRecord> {
    if (this.aborted) await this.close(); // stop sending at once; replies captured so far still arrive
    while (this.inflight.length > 0) {
      this.service();
      yield* this.take();
      if (this.inflight.length > 0) await sleep(this.aborted ? 0 : 5);
    }
    await this.close();
    yield* this.take();
    yield* this.releaseHeld();
  }

  /** Copies the engines' figures into the live counters (sent, pps, invalid, …). */
  private refreshCounters(): void {
    let sent = 0, invalid = 0, duplicates = 0, sendRetries = 0, sendErrors = 0, pcapDropped = 0, ifDropped = 0, pps = 0;
    for (const [f, { engine }] of this.engines) {
      const s = engine.stats();
      sent += s.sent; invalid += s.invalid; duplicates += s.duplicates;
      sendRetries += s.sendRetries; sendErrors += s.sendErrors; pcapDropped += s.pcapDropped; ifDropped += s.ifDropped;
      if (s.sendSeconds > 0) pps = Math.max(pps, Math.round(s.sent / s.sendSeconds));
      // The capture ending (its interface went down or away) or the link refusing every send stops the scan, keeping its results.
      if (s.error) this.fail(`the capture on ${this.engines.get(f)!.route.ifname} stopped (${s.error})`);
      else if (s.sendErrno !== undefined && LINK_GONE_ERRNOS.has(s.sendErrno)) this.fail(`${this.engines.get(f)!.route.ifname} went down (send: ${s.sendError})`);
    }
    Object.assign(this.counters, { sent, invalid, duplicates });
    if (sendRetries) this.counters.sendRetries = sendRetries;
    if (sendErrors) this.counters.sendErrors = sendErrors;
    if (pcapDropped) this.counters.pcapDropped = pcapDropped;
    if (ifDropped) this.counters.ifDropped = ifDropped;
    if (pps) this.counters.pps = pps;
  }

  /** Stops the engines (idempotent); every reply captured so far is delivered first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [, { engine }] of this.engines) await engine.stop();
    this.drainTrace();
    this.refreshCounters();
    this.reportLosses();
  }

  /** Nothing silent: frames that never left and packets the capture lost are said on stderr. */
  private reportLosses(): void {
    const c = this.counters;
    if (c.sendErrors) {
      this.opts.onWarning?.(this.failure !== undefined
        ? `${this.flag}: ${c.sendErrors} frames could not be sent (the interface refused them): their probes are among those lost`
        : `${this.flag}: ${c.sendErrors} frames could not be sent (the interface refused them): their probes count as unanswered, so results may be missing`);
    }
    const lost = (c.pcapDropped ?? 0) + (c.ifDropped ?? 0);
    if (lost) {
      this.opts.onWarning?.(`${this.flag}: the capture dropped ${lost} packets (${c.pcapDropped ?? 0} in the kernel ring, ${c.ifDropped ?? 0} at the interface): answers among them were retried or lost; lower --max-rate if results look short`);
    }
  }
}
