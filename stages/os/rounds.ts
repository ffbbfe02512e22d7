/**
 * The OS stage's policy around rounds, as nmap 7.93 runs them (pure functions; the probe side
 * calls them between rounds):
 *
 * - Which hosts: a host needs an open TCP port for SEQ/ECN/T1–T4 and a closed one for T5–T7.
 *   Without one of each nmap still scans but warns "OSScan results may be unreliable…";
 *   `--osscan-limit` skips such hosts instead.
 * - Ports: the first open TCP port (not 0; with -sV not a tcpwrapped one); closed TCP: the
 *   first closed, else the first unfiltered, else a random one in 30000–44780 (only a closed one
 *   makes missing T5–T7 replies count as R=N); closed UDP the same way.
 * - Rounds: a round sends every probe, then the fingerprint is matched; a perfect match ends the
 *   host. Otherwise up to `--max-os-tries` rounds (default 5), but at most 2 when the fingerprint
 *   is unfit for submission; 1 s between rounds (2.5 s before the fourth).
 * - Result: the first round with a perfect match, else the round whose best accuracy is highest
 *   (the earliest on ties); the printed fingerprint merges every round's tests.
 */
import type { OsMatchResult } from './match.js';

export const DEFAULT_MAX_OS_TRIES = 5;
/** Rounds for a host whose fingerprint cannot be submitted anyway (nmap's STANDARD_OS2_TRIES). */
export const UNFIT_OS_TRIES = 2;

export interface SubmissionConditions {
  /** --scan-delay in ms. */
  scanDelayMs: number;
  /** Timing template 0–5 (-T). */
  timingLevel: number;
  openTcpPort: number | null;
  /** The closed TCP port, only when the port scan found it closed. */
  knownClosedTcpPort: number | null;
  /** Hops to the target (0 localhost, 1 on-link, else from U1), null when unknown. */
  distance: number | null;
  /** Highest timing ratio of the rounds so far. */
  maxTimingRatio: number;
  /** A closed UDP port is known (from a UDP scan, or U1 was answered). */
  closedUdpPortKnown: boolean;
  /** A UDP scan (-sU) ran. */
  udpScan: boolean;
  /** Some probes could not be sent. */
  incomplete: boolean;
}

/** nmap's OmitSubmissionFP: why the fingerprint is unfit for submission, or null. */
export function unfitReason(c: SubmissionConditions): string | null {
  if (c.scanDelayMs > 500) return `Scan delay (${c.scanDelayMs}) is greater than 500`;
  if (c.timingLevel > 4) return 'Timing level 5 (Insane) used';
  if (c.openTcpPort === null || c.openTcpPort <= 0) return 'Missing an open TCP port so results incomplete';
  if (c.knownClosedTcpPort === null || c.knownClosedTcpPort <= 0) return 'Missing a closed TCP port so results incomplete';
  if (c.distance !== null && c.distance < -1) return `Host distance (${c.distance} network hops) appears to be negative`;
  if (c.distance !== null && c.distance > 5) return `Host distance (${c.distance} network hops) is greater than five`;
  if (c.maxTimingRatio > 1.4) return `maxTimingRatio (${c.maxTimingRatio.toExponential(6).replace(/e([+-])(\d)$/, 'e$10$2')}) is greater than 1.4`;
  if (!c.closedUdpPortKnown && !c.udpScan) return "Didn't receive UDP response. Please try again with -sSU";
  if (c.incomplete) return 'Some probes failed to send so results incomplete';
  return null;
}

/** Rounds to run for a host: --max-os-tries, capped at 2 for an unfit fingerprint. */
export function roundsFor(maxOsTries: number, unfit: boolean): number {
  return unfit ? Math.min(maxOsTries, UNFIT_OS_TRIES) : maxOsTries;
}

/** Validates --max-os-tries (nmap: a positive number; 50 at most is a sane cap). */
export function checkMaxOsTries(n: number): string | null {
  if (!Number.isInteger(n) || n < 1 || n > 50) return `--max-os-tries must be a whole number from 1 to 50, got ${n}`;
  return null;
}

/** Whether a host is OS-scanned: with --osscan-limit only hosts with an open and a closed TCP port. */
export function hostQualifies(openTcp: number, closedTcp: number, osscanLimit: boolean): boolean {
  return !osscanLimit || (openTcp > 0 && closedTcp > 0);
}

/** The host lacks an open or a closed TCP port (nmap prints its "unreliable" warning). */
export function resultsUnreliable(openTcp: number, closedTcp: number): boolean {
  return openTcp === 0 || closedTcp === 0;
}

/** A round's match ends the host's rounds. */
export function roundIsFinal(m: OsMatchResult): boolean {
  return m.outcome === 'success' && m.perfect > 0;
}

/** nmap's findBestFPs: the round to report. */
export function bestRound(rounds: OsMatchResult[]): number {
  let best = 0;
  let bestAcc = 0;
  for (let i = 0; i < rounds.length; i++) {
    const m = rounds[i]!;
    if (m.outcome === 'success' && m.matches.length > 0 && m.matches[0]!.accuracy > bestAcc) {
      bestAcc = m.matches[0]!.accuracy;
      best = i;
      if (m.perfect) break;
    }
  }
  return best;
}

/** Pause before round `round` (0-based), in ms. */
export function pauseBeforeRound(round: number): number {
  if (round === 0) return 0;
  return round === 3 ? 2500 : 1000;
}
