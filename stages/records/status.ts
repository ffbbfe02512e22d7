/**
 * Periodic status records: how a stage emits them (StatusTicker + withStatus, which interleave a
 * snapshot of the stage's live counters into its output every N ms, also while the stage waits),
 * and how readers turn consecutive records into rates and an ETA (StatusTracker) — one place, so
 * the status line, the TUI and the web API agree.
 */
import type { AnyRecord, StatusRecord } from './types.js';

export type StatusSnapshot = Omit<StatusRecord, 'type' | 'time' | 'startTime'>;

/** Decides when a stage's next status record is due and builds it from a snapshot function. */
export class StatusTicker {
  private last: number;
  readonly startTime = Date.now();

  constructor(
    readonly everyMs: number,
    private readonly snapshot: () => StatusSnapshot,
  ) {
    if (!(everyMs > 0)) throw new RangeError(`status interval must be > 0 ms, got ${everyMs}`);
    this.last = this.startTime;
  }

  msUntilDue(now = Date.now()): number {
    return Math.max(0, this.last + this.everyMs - now);
  }

  due(now = Date.now()): boolean {
    return this.msUntilDue(now) === 0;
  }

  private tick: Promise<'tick'> | undefined;

  /**
   * Resolves when the next record is due. One timer per interval, shared by every wait: a stage
   * yielding thousands of records a second does not arm a timer per record.
   */
  due$(): Promise<'tick'> {
    this.tick ??= new Promise((resolve) => {
      setTimeout(() => {
        this.tick = undefined;
        resolve('tick');
      }, this.msUntilDue()).unref();
    });
    return this.tick;
  }

  /** The status record as of now (and the next one is due everyMs later). */
  take(): StatusRecord {
    const now = Date.now();
    this.last = now;
    const s = this.snapshot();
    return { type: 'status', ...s, counters: { ...s.counters }, time: now, startTime: this.startTime };
  }
}

/**
 * Passes `source` through, adding a status record whenever the ticker is due — including while
 * `source` is slow to produce its next value (a scan waiting out its timeouts still reports).
 * Without a ticker it is `source` itself.
 */
export async function* withStatus<T>(source: AsyncIterable<T>, ticker: StatusTicker | undefined): AsyncGenerator<T | StatusRecord, void, undefined> {
  if (!ticker) {
    yield* source;
    return;
  }
  const it = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  let finished = false;
  try {
    for (;;) {
      pending ??= it.next();
      const got = await Promise.race([pending, ticker.due$()]);
      if (got === 'tick') {
        // The shared timer may fire just after a take() by another wait: only take when due.
        if (ticker.due()) yield ticker.take();
        continue;
      }
      pending = undefined;
      if (got.done) {
        finished = true;
        return;
      }
      yield got.value;
      if (ticker.due()) yield ticker.take();
    }
  } finally {
    // Stopped early by our reader: let the source clean up (after its pending step, if any).
    if (!finished) {
      if (pending) void pending.then(() => it.return?.(), () => undefined);
      else await it.return?.();
    }
  }
}

export function isStatus(rec: AnyRecord): rec is StatusRecord {
  return rec.type === 'status';
}

/** What a reader shows of a stage's progress. */
export interface StatusSummary {
  stage: string;
  phase: string;
  scanType?: string;
  done: number;
  total: number | null;
  /** 0–100, null when the total is unknown. */
  percent: number | null;
  /** Probes (send) or probe packets (detect) per second since the previous record, and on average. */
  pps: number;
  avgPps: number;
  /** Answers seen (open + closed for a port scan; identified services for detect). */
  replies: number;
  open: number;
  retries: number;
  /** Frames lost (capture drops, send errors). */
  drops: number;
  elapsedMs: number;
  /** Estimated time left, null before any progress or without a total. */
  etaMs: number | null;
  time: number;
  counters: Record<string, number>;
}

/**
 * Probes sent so far. The SYN engine's live counters carry `probes` (handed to the engine) and
 * `retries` while its `sent` is only summed at the end; detect counts `probes` (service probes).
 */
const sentOf = (c: Record<string, number>) => Math.max(c.sent ?? 0, (c.probes ?? 0) + (c.retries ?? 0));

/** Turns a stream of status records (any stages) into summaries; keeps the previous record per stage. */
export class StatusTracker {
  private readonly previous = new Map<string, StatusRecord>();
  private readonly latestByStage = new Map<string, StatusSummary>();
  private current: StatusSummary | undefined;

  update(rec: StatusRecord): StatusSummary {
    const prev = this.previous.get(rec.stage);
    this.previous.set(rec.stage, rec);
    const c = rec.counters;
    const elapsedMs = Math.max(0, rec.time - rec.startTime);
    const dt = prev ? rec.time - prev.time : elapsedMs;
    const dSent = sentOf(c) - (prev ? sentOf(prev.counters) : 0);
    const pps = dt > 0 ? (dSent * 1000) / dt : 0;
    const avgPps = elapsedMs > 0 ? (sentOf(c) * 1000) / elapsedMs : 0;
    const total = rec.total;
    const percent = total !== null && total > 0 ? Math.min(100, (rec.done * 100) / total) : null;
    const etaMs = total !== null && rec.done > 0 && total >= rec.done ? (elapsedMs * (total - rec.done)) / rec.done : null;
    const replies = rec.stage === 'detect'
      ? (c.matched ?? 0) + (c.softmatched ?? 0) + (c.tcpwrapped ?? 0)
      : (c.open ?? 0) + (c.closed ?? 0);
    const summary: StatusSummary = {
      stage: rec.stage, phase: rec.phase, scanType: rec.scanType, done: rec.done, total, percent, pps, avgPps, replies,
      open: c.open ?? 0, retries: c.retries ?? 0, drops: (c.pcapDropped ?? 0) + (c.sendErrors ?? 0),
      elapsedMs, etaMs, time: rec.time, counters: c,
    };
    this.latestByStage.set(rec.stage, summary);
    this.current = summary;
    return summary;
  }

  /** The most recent summary of any stage (the phase running now). */
  latest(): StatusSummary | undefined {
    return this.current;
  }

  /** The latest summary of each stage seen, in the order they first reported. */
  stages(): StatusSummary[] {
    return [...this.latestByStage.values()];
  }
}
