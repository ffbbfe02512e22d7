/**
 * Pacing for targets that rate-limit their ICMP errors (Linux: port unreachables at about 1/s per
 * destination, and 1000/s with a burst of 50 for the whole host). Their silence is not an answer:
 * a UDP probe dropped by the limit looks like an open|filtered port. nmap notices drops (probes
 * answered only on a retry) and raises its per-host scan delay. The raw session does the same per
 * probe batch (a batch interleaves its hosts): after a round that left more than `minDrops`
 * probes unanswered (over `dropRatio` of the round) while others answered, the next round of the
 * unanswered probes is sent at 1.2× the answer rate the round measured (never faster than the
 * previous round), and such rounds do not use up the probes' retries (at most `maxRounds` of them;
 * once a batch is paced it stays so while its rounds bring answers).
 */
export interface RateLimitWatchOptions {
  /** Longest gap between two probes of a paced round, ms (nmap's --max-scan-delay; default 1 s). */
  maxDelayMs: number;
  dropRatio?: number;
  minDrops?: number;
  maxRounds?: number;
}

/** One round of a batch: what was sent, what came back, how long it took. */
export interface RoundResult {
  sent: number;
  answered: number;
  /** From the first send of the round to the last answer it could bring (last send + RTT), seconds. */
  seconds: number;
  /** Pace of this round, probes per second (undefined: the engine's full rate). */
  pace?: number;
  /** Paced rounds this batch had so far (0: the limit is not known yet). */
  rounds: number;
  /** Answers of the whole batch so far, and seconds since its first send (the long-run answer rate). */
  totalAnswered: number;
  totalSeconds: number;
  /** Paced rounds in a row that brought no answer. */
  emptyRounds: number;
}

export class IcmpRateLimitWatch {
  private readonly dropRatio: number;
  private readonly minDrops: number;
  private readonly maxRounds: number;
  private readonly minPace: number;
  /** Rounds that were slowed down (for the trailer). */
  slowed = 0;

  constructor(opts: RateLimitWatchOptions) {
    this.dropRatio = opts.dropRatio ?? 0.3;
    this.minDrops = opts.minDrops ?? 10;
    this.maxRounds = opts.maxRounds ?? 12;
    this.minPace = 1000 / Math.max(1, opts.maxDelayMs);
  }

  /**
   * The pace (probes/s) of the next, non-counting round, or undefined: no rate limit seen (or given
   * up on), retry as usual. The first slow-down needs answers beside the drops (a host that answers
   * nothing is silent, not limited); once limited, a round without answers falls back to the batch's
   * long-run answer rate, and a second such round in a row ends the pacing (the rest is silence).
   */
  nextPace(r: RoundResult): number | undefined {
    const drops = r.sent - r.answered;
    const limited = r.rounds > 0;
    if (r.rounds >= this.maxRounds || drops <= 0) return undefined;
    // Entering needs nmap's evidence (> minDrops drops, over dropRatio of the round); once limited,
    // the batch stays paced while rounds still bring answers, down to its last probes.
    if (!limited && (drops <= this.minDrops || drops / r.sent <= this.dropRatio)) return undefined;
    if (!limited && r.answered === 0) return undefined;
    if (limited && r.answered === 0 && r.emptyRounds >= 1) return undefined;
    const measured = r.answered > 0 ? r.answered / Math.max(r.seconds, 0.001) : r.totalAnswered / Math.max(r.totalSeconds, 0.001);
    const cap = r.pace ?? Infinity; // never faster than the last round: the pace only comes down
    this.slowed++;
    return Math.max(this.minPace, Math.min(cap, measured * 1.2));
  }
}
