/**
 * Congestion control for a raw scan: the pace (probes per second) the sender keeps, chosen from
 * what the path answers. nmap's mechanics, expressed as a rate because the native sender is paced
 * by a token bucket and probes outnumber any window's worth of answers:
 *
 * - slow start: the rate doubles every interval in which the sender used all of it and the path
 *   kept answering, up to the ceiling (--max-rate) or the first sign of congestion (ssthresh);
 * - congestion avoidance: above ssthresh it grows by `caGrowth` (10 %, 20 % at -T4+) per interval;
 * - drop detection: in each interval (at least two smoothed RTTs), the share of probes answered is
 *   compared with the share the path answered while it was not congested. A path past its capacity
 *   (a shaper's queue overflowing, a rate-limited router) answers a falling share; then the rate
 *   falls to what the path delivered (answers per second ÷ the uncongested share), which is the
 *   capacity, and ssthresh remembers it. Random loss lowers the share at every rate alike, so it
 *   moves the baseline, not the rate: retries (raised by answered retransmissions, see
 *   RetryAllowance) recover it instead;
 * - a retransmission that gets an answer is nmap's drop signal: it ends slow start (the rate it
 *   ran at becomes ssthresh) — the scan then probes upward gently instead of doubling;
 * - --min-rate and --max-rate bound every choice.
 * Pure arithmetic on counts and times (no I/O), so a unit test drives it with a simulated path.
 */
export interface CongestionOptions {
  /** The first pace, probes/s. */
  initialRate: number;
  /** Floor and ceiling on every pace chosen (--min-rate / --max-rate). */
  minRate?: number;
  maxRate?: number;
  /** Growth per interval in congestion avoidance (0.1: +10 %). */
  caGrowth?: number;
  /** Shortest interval between decisions, ms. */
  minIntervalMs?: number;
  /**
   * Asked before a cut: false when the shortfall is one host's, not the path's (per-host pacing
   * then takes that host; the group's pace stays). Undefined: every shortfall is the path's.
   */
  confirmCut?: () => boolean;
}

/** Fewest answers an interval must be expected to bring before its share is trusted. */
const MIN_EXPECTED = 96;
/**
 * A share this much below the baseline is congestion at the least (2 %), or three standard
 * errors of the interval's share when random loss makes it noisy: a shaper's queue that
 * overflows by a few percent shows, random loss at any pace does not.
 */
const CONGESTED_MARGIN = 0.02;

export class CongestionControl {
  rate: number;
  ssthresh = Infinity;
  /** Intervals judged congested, and rate cuts made (for the trailer). */
  congested = 0;
  /** Answered retransmissions seen (nmap's drops). */
  drops = 0;
  private min: number;
  private readonly floor0: number;
  private readonly max: number;
  private readonly caGrowth: number;
  private readonly minIntervalMs: number;
  private readonly confirmCut?: () => boolean;
  /** Share of probes answered while the path was not congested (undefined: not known yet). */
  private base: number | undefined;
  private intervalAt: number | undefined;
  private lowIntervals = 0;
  private sentAt0 = 0;
  private answersAt0 = 0;
  /** Running totals of frames sent over the last moments ([ms, sent]): what was sent one RTT ago. */
  private readonly history: Array<[number, number]> = [];

  constructor(opts: CongestionOptions) {
    this.min = Math.max(opts.minRate ?? 0, 0.001);
    this.floor0 = this.min;
    this.max = opts.maxRate ?? Infinity;
    this.caGrowth = opts.caGrowth ?? 0.1;
    this.minIntervalMs = opts.minIntervalMs ?? 20;
    this.confirmCut = opts.confirmCut;
    this.rate = this.clamp(opts.initialRate);
  }

  get slowStart(): boolean {
    return this.rate < this.ssthresh;
  }

  /** The share of probes the path answers when it is not congested (for tests and the trailer). */
  get baseline(): number | undefined {
    return this.base;
  }

  private clamp(r: number): number {
    return Math.min(this.max, Math.max(this.min, r));
  }

  /**
   * Called as the scan runs with its running totals: frames sent and answers received so far, the
   * smoothed RTT (ms) and whether probes were waiting to be sent (the pace, not the input, was the
   * limit); `lagMs`: how long after its probe an answer shows in `answers` (the RTT, plus the time
   * the machine takes to count it when busy). Returns the new pace when it changed, else undefined.
   */
  update(now: number, sent: number, answers: number, srttMs: number, backlog: boolean, lagMs = srttMs): number | undefined {
    this.history.push([now, sent]);
    if (this.intervalAt === undefined) {
      this.intervalAt = now;
      this.sentAt0 = sent;
      this.answersAt0 = answers;
      return undefined;
    }
    const elapsed = now - this.intervalAt;
    const interval = Math.max(this.minIntervalMs, 2 * srttMs + 2);
    const iSent = sent - this.sentAt0;
    if (elapsed < interval) return undefined;
    // Too few probes for a fair share: wait (up to 8 intervals) for more.
    const expected = this.base === undefined ? iSent : iSent * this.base;
    if (expected < MIN_EXPECTED && elapsed < 8 * interval && iSent < 4 * MIN_EXPECTED) return undefined;
    const iAnswers = answers - this.answersAt0;
    // The answers of an interval are those of the probes sent one RTT earlier: a pace that just
    // grew would otherwise look like a falling share (more sent than could be answered yet).
    const lagged = this.sentAt(now - lagMs) - this.sentAt(this.intervalAt - lagMs);
    this.prune(this.intervalAt - lagMs);
    this.intervalAt = now;
    this.sentAt0 = sent;
    this.answersAt0 = answers;
    if (iSent <= 0) return undefined;
    const judged = lagged > 0 ? lagged : iSent;
    const share = Math.min(1, iAnswers / judged);
    const before = this.rate;
    const trusted = expected >= MIN_EXPECTED;
    const low = this.base !== undefined &&
      share < this.base - Math.max(CONGESTED_MARGIN, 3 * Math.sqrt((this.base * (1 - this.base)) / judged));
    if (this.base === undefined) {
      if (trusted) this.base = share;
    } else if (trusted && low && ++this.lowIntervals >= 2) {
      // Past capacity (two intervals in a row: one may be noise): pace at what the path delivered.
      this.lowIntervals = 0;
      if (this.confirmCut && !this.confirmCut()) return undefined; // one host's shortfall: not the group's
      this.congested++;
      const delivered = (iAnswers / elapsed) * 1000 / this.base;
      // At most halved per cut: an interval the machine starved (answers counted late, the sender
      // held up) under-reads the path, and one such reading must not sink the scan.
      this.rate = this.clamp(Math.min(this.rate, Math.max(delivered * 0.95, this.rate / 2)));
      this.ssthresh = this.rate;
      return this.rate !== before ? this.rate : undefined;
    } else if (trusted && low) {
      return undefined; // one low interval: hold the pace and look again
    } else if (trusted) {
      this.lowIntervals = 0;
      // Not congested: the baseline follows the path's share (random loss, filtered ports) — but
      // only at paces the path is known to carry (below ssthresh): above it, a share that slips a
      // little is the start of congestion, and learning it would move the threshold with it.
      if (this.rate <= this.ssthresh) this.base = 0.875 * this.base + 0.125 * share;
    }
    // Grow only when the pace was the limit (it sent about all the rate allowed) and probes waited.
    const used = (iSent / elapsed) * 1000 >= 0.7 * this.rate;
    if (!backlog || !used) return undefined;
    this.rate = this.clamp(this.slowStart ? Math.min(this.rate * 2, Math.max(this.ssthresh, this.rate)) : this.rate * (1 + this.caGrowth));
    return this.rate !== before ? this.rate : undefined;
  }

  /** Frames sent by time `t` (ms), from the history (linear between samples). */
  private sentAt(t: number): number {
    const h = this.history;
    if (h.length === 0) return 0;
    if (t <= h[0]![0]) return h[0]![1];
    for (let i = h.length - 1; i > 0; i--) {
      const [t0, s0] = h[i - 1]!, [t1, s1] = h[i]!;
      if (t >= t0) return t >= t1 ? s1 : s0 + ((s1 - s0) * (t - t0)) / Math.max(t1 - t0, 1e-9);
    }
    return h[0]![1];
  }

  /** Drops history older than `t` (keeping the sample just before it). */
  private prune(t: number): void {
    let k = 0;
    while (k + 1 < this.history.length && this.history[k + 1]![0] <= t) k++;
    if (k > 0) this.history.splice(0, k);
  }

  /** A floor that moves (--min-parallelism: so many probes per RTT); never below the fixed one. */
  setFloor(pps: number): void {
    this.min = Math.min(this.max, Math.max(this.floor0, pps));
    if (this.rate < this.min) this.rate = this.min;
  }

  /** An answered retransmission (nmap's drop): slow start ends at the present pace. */
  drop(): void {
    this.drops++;
    if (this.slowStart) this.ssthresh = this.rate;
  }
}

/**
 * How many retransmissions a probe gets: nmap's rule — one more than the highest attempt that
 * ever brought an answer (at least one) — or, when more, as many as the measured loss needs for a
 * probe to get through with probability 1 − 10⁻⁵ (the share of answered probes that needed a
 * retry estimates the loss per try). Never above --max-retries. A clean path costs one retry on
 * silent ports; a lossy one earns what its answers show it needs, up front rather than one round
 * late.
 */
export class RetryAllowance {
  private best = 0;
  private answered = 0;
  private retried = 0;

  constructor(private readonly maxRetries: number) {}

  /** An answer came to a probe sent `tries` times (1: the first send). */
  answer(tries: number): void {
    this.answered++;
    if (tries > 1) {
      this.retried++;
      if (tries - 1 > this.best) this.best = tries - 1;
    }
  }

  /** The loss per try the answers show (undefined: too few answers yet). */
  get loss(): number | undefined {
    return this.answered >= 20 ? this.retried / this.answered : undefined;
  }

  get retries(): number {
    let need = Math.max(1, this.best + 1);
    const p = this.loss;
    if (p !== undefined && p > 0) need = Math.max(need, Math.ceil(Math.log(1e-5) / Math.log(Math.min(p, 0.9))) - 1);
    return Math.min(this.maxRetries, need);
  }
}

/** Fewest probes of a host one round must hold before its share is judged. */
const HOST_MIN_SAMPLE = 16;
/**
 * A host answering this much less than the rest of its round has a bottleneck of its own: 10
 * points at the least, or four standard errors of its share (few probes, random loss).
 */
const HOST_BEHIND = 0.1;

/** One host with its own pace: its lane in native, pace (probes/s), ssthresh and drops. */
export interface HostPace {
  lane: number;
  rate: number;
  ssthresh: number;
  /** The share of probes the rest of the scan answered when this host was singled out. */
  base: number;
  drops: number;
}

export interface HostPacingOptions {
  /** Slowest pace a host may get (probes/s): --max-scan-delay's one probe per that long. */
  minRate: number;
  /** Growth per lane round past the host's ssthresh (as the group's caGrowth). */
  caGrowth?: number;
}

/**
 * Per-host congestion control beside the group's (nmap keeps a window per host and one for the
 * group; here, as for the group, a pace): a host whose answers fall far behind the rest of the
 * same round (a rate-limited host, a slow link behind one address) gets a pace of its own, and
 * its probes go through a native lane at that pace beside everyone else's — the others keep the
 * group's pace, and the slow host is no longer flooded. Its pace then follows its own rounds as
 * the group's does: slow start (doubling) below its ssthresh, +caGrowth above it; a round that
 * answers a falling share cuts it to what the host delivered and sets ssthresh there; an
 * answered retransmission (a drop) ends its slow start. Pure arithmetic on counts.
 */
export class HostPacing {
  private readonly hosts = new Map<string, HostPace>();
  private nextLane = 1;
  private readonly caGrowth: number;

  constructor(private readonly opts: HostPacingOptions) {
    this.caGrowth = opts.caGrowth ?? 0.1;
  }

  get size(): number {
    return this.hosts.size;
  }

  of(host: string): HostPace | undefined {
    return this.hosts.get(host);
  }

  /**
   * A round of probes to hosts without a pace of their own ended: per host, the probes it held and
   * how many were answered, and how long the round took on the wire (s). Hosts far behind the
   * rest get a pace: what they delivered. `ceiling`: the group's pace (no host paces above it).
   * Returns the hosts singled out.
   */
  judgeRound(perHost: Map<string, { sent: number; answered: number }>, seconds: number, ceiling: number): string[] {
    let sent = 0, answered = 0;
    for (const c of perHost.values()) { sent += c.sent; answered += c.answered; }
    const out: string[] = [];
    for (const [host, c] of perHost) {
      if (c.sent < HOST_MIN_SAMPLE || this.hosts.has(host)) continue;
      const restSent = sent - c.sent;
      if (restSent < HOST_MIN_SAMPLE) continue; // no other host in the round to compare with
      const rest = (answered - c.answered) / restSent;
      if (rest <= 0 || c.answered / c.sent >= rest - Math.max(HOST_BEHIND, 4 * Math.sqrt((rest * (1 - rest)) / c.sent))) continue;
      const delivered = Math.max(c.answered, 1) / Math.max(seconds, 0.001) / rest;
      const rate = this.clamp(Math.min(delivered, ceiling));
      this.hosts.set(host, { lane: this.nextLane++, rate, ssthresh: rate, base: rest, drops: 0 });
      out.push(host);
    }
    return out;
  }

  /** A round of a paced host's probes ended (sent through its lane at its pace). Returns its new pace when it changed. */
  laneRound(host: string, sent: number, answered: number, ceiling: number): number | undefined {
    const h = this.hosts.get(host);
    if (!h || sent < 8) return undefined;
    const before = h.rate;
    const share = answered / sent;
    if (share >= 0.8 * h.base) {
      h.rate = h.rate < h.ssthresh ? h.rate * 2 : h.rate * (1 + this.caGrowth);
    } else {
      // Past the host's capacity: it delivered its pace × the share it answered (over the share the path answers).
      h.rate = h.rate * (share / h.base) * 0.95;
      h.ssthresh = h.rate;
    }
    h.rate = this.clamp(Math.min(h.rate, ceiling));
    return h.rate !== before ? h.rate : undefined;
  }

  /** An answered retransmission to a paced host (its drop): its slow start ends where it is. */
  drop(host: string): void {
    const h = this.hosts.get(host);
    if (!h) return;
    h.drops++;
    if (h.rate < h.ssthresh) h.ssthresh = h.rate;
  }

  private clamp(r: number): number {
    return Math.max(this.opts.minRate, r);
  }
}
