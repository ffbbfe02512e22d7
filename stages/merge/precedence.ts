import type { HostRecord, OsRecord, PortRecord, ServiceRecord } from '../records/index.js';

/**
 * Which observation of one (ip, port, proto) wins when several sources report it — retries,
 * shards that overlap, a rescan, an imported scan. A reply beats silence, and a reply that shows
 * a listener beats one that does not:
 *
 *   open > closed > unfiltered > closed|filtered > open|filtered > filtered
 *
 * Ties go to the later observation (its `time`), then to the one read last.
 */
export const PORT_STATE_PRECEDENCE = ['open', 'closed', 'unfiltered', 'closed|filtered', 'open|filtered', 'filtered'] as const;

const RANK = new Map<string, number>(PORT_STATE_PRECEDENCE.map((s, i) => [s, i]));

export function stateRank(state: string): number {
  return RANK.get(state) ?? PORT_STATE_PRECEDENCE.length;
}

/** True when `b` should replace `a`. */
export function portWins(b: PortRecord, a: PortRecord): boolean {
  const rb = stateRank(b.state);
  const ra = stateRank(a.state);
  return rb < ra || (rb === ra && b.time >= a.time);
}

/** Hosts: up > unknown > down; ties to the later; a hostname is kept from whichever had one. */
export function mergeHost(a: HostRecord, b: HostRecord): HostRecord {
  const rank = (s: string) => (s === 'up' ? 0 : s === 'unknown' ? 1 : 2);
  const win = rank(b.state) < rank(a.state) || (rank(b.state) === rank(a.state) && b.time >= a.time) ? b : a;
  const hostname = win.hostname ?? a.hostname ?? b.hostname;
  return hostname ? { ...win, hostname } : win;
}

/** Services: a probed match beats a table guess; then higher confidence; then the later one read. */
export function serviceWins(b: ServiceRecord, a: ServiceRecord): boolean {
  const m = (s: ServiceRecord) => (s.method === 'probed' ? 1 : 0);
  return m(b) > m(a) || (m(b) === m(a) && b.conf >= a.conf);
}

/**
 * OS: the union of guesses, one per name at its best accuracy, best first. The OS stage's other
 * fields (fingerprint, distance, sequences, classes …) come from the record with the better best match.
 */
export function mergeOs(a: OsRecord, b: OsRecord): OsRecord {
  const byName = new Map(a.matches.map((m) => [m.name, m]));
  for (const m of b.matches) {
    const old = byName.get(m.name);
    if (!old || m.accuracy > old.accuracy) byName.set(m.name, m);
  }
  const top = (r: OsRecord) => Math.max(-1, ...r.matches.map((m) => m.accuracy));
  const base = top(b) > top(a) ? b : a;
  return { ...base, type: 'os', ip: a.ip, matches: [...byName.values()].sort((x, y) => y.accuracy - x.accuracy) };
}
