/**
 * Adaptive probe timeout from measured round-trip times (RFC 6298 smoothing, as nmap does):
 * timeout = srtt + 4·rttvar, clamped to [min, max]; before the first sample, `initial`.
 */
export class RttEstimator {
  private srtt: number | undefined;
  private rttvar = 0;
  samples = 0;

  constructor(private readonly initialMs: number, private readonly minMs: number, private readonly maxMs: number) {}

  sample(rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    this.samples++;
    if (this.srtt === undefined) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rttMs);
    this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
  }

  /** The smoothed RTT, ms (0 before any sample). */
  get srttMs(): number {
    return this.srtt ?? 0;
  }

  get timeoutMs(): number {
    const t = this.srtt === undefined ? this.initialMs : this.srtt + 4 * this.rttvar;
    return Math.min(this.maxMs, Math.max(this.minMs, t));
  }
}
