import { addrText } from './reply.js';

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

/** Most hosts a batch may hold for its wait to follow their own RTTs (more: the group's estimator decides). */
const FEW_HOSTS = 64;
/** Most hosts tracked; past it the table starts over (a /8 scan must not grow it without bound). */
const MAX_HOSTS = 1 << 20;

/**
 * RTT per host beside the group's, as nmap keeps them: every sample feeds both; a host without
 * samples of its own waits as long as the group's timeout says. A batch aimed at few hosts (a
 * host × many ports) waits for the slowest of them, so one distant host does not time out early
 * and one near host does not wait for the group's far ones.
 */
export class HostRtt {
  private readonly hosts = new Map<string, RttEstimator>();

  constructor(readonly group: RttEstimator, private readonly initialMs: number, private readonly minMs: number, private readonly maxMs: number) {}

  sample(host: string, rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    this.group.sample(rttMs);
    let h = this.hosts.get(host);
    if (!h) {
      if (this.hosts.size >= MAX_HOSTS) this.hosts.clear();
      h = new RttEstimator(this.initialMs, this.minMs, this.maxMs);
      this.hosts.set(host, h);
    }
    h.sample(rttMs);
  }

  /** A host's estimator (undefined: no sample yet). */
  of(host: string): RttEstimator | undefined {
    return this.hosts.get(host);
  }

  /** The distinct hosts of a batch's address column, or undefined when there are more than a few. */
  hostsOf(family: 4 | 6, addrs: Uint8Array): string[] | undefined {
    const width = family === 4 ? 4 : 16;
    const seen = new Set<string>();
    let prev = -1;
    for (let o = 0; o < addrs.length; o += width) {
      if (prev >= 0 && sameBytes(addrs, prev, o, width)) continue;
      prev = o;
      seen.add(addrText(addrs, o, family));
      if (seen.size > FEW_HOSTS) return undefined;
    }
    return [...seen];
  }

  /** How long a round of a batch waits: its hosts' longest timeout (a host without samples: the group's). */
  timeoutOf(hosts: string[] | undefined): number {
    const g = this.group.timeoutMs;
    if (!hosts) return g;
    let t = 0;
    for (const h of hosts) {
      const e = this.hosts.get(h);
      t = Math.max(t, e && e.samples > 0 ? e.timeoutMs : g);
    }
    return t || g;
  }
}

function sameBytes(a: Uint8Array, x: number, y: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[x + i] !== a[y + i]) return false;
  return true;
}
