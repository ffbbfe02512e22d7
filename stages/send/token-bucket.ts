/**
 * Paces events to at most `rate` per second. Tokens refill continuously; a burst of up to
 * `burst` events may go at once (so a high rate is not throttled by timer granularity).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly burst: number;

  constructor(private readonly rate: number, burst?: number) {
    if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`);
    this.burst = burst ?? Math.max(1, Math.min(rate / 20, 1000));
    this.tokens = Math.min(1, this.burst);
    this.last = performance.now();
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Resolves when one event may go; waits as long as the rate requires. */
  async take(signal?: AbortSignal): Promise<void> {
    this.refill();
    while (this.tokens < 1) {
      if (signal?.aborted) return;
      const waitMs = ((1 - this.tokens) / this.rate) * 1000;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(waitMs))));
      this.refill();
    }
    this.tokens -= 1;
  }
}
