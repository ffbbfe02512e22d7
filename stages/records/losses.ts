/**
 * Nothing silent: a scan that could not send what it meant to says so in its exit status. The
 * trailer's counters tell it — probes a stage gave up on because its link failed (lostProbes) and
 * frames the interface refused (sendErrors) — whichever stage they come from (send, discover, os).
 */
import type { EndTrailer } from './types.js';

/** The exit status of a scan that ran to its end but lost probes (its results are partial). */
export const EXIT_PROBES_LOST = 3;

export interface ProbeLosses {
  /** Probes left without an answer because the link failed. */
  lostProbes: number;
  /** Frames the interface refused to send. */
  sendErrors: number;
  /** "send: 1520 probes lost, 3 frames not sent", per stage that lost any. */
  summary: string;
}

/** What the trailer says was lost, or undefined when nothing was. */
export function probeLosses(trailer: EndTrailer | undefined): ProbeLosses | undefined {
  if (!trailer) return undefined;
  let lostProbes = 0, sendErrors = 0;
  const parts: string[] = [];
  for (const [stage, c] of Object.entries(trailer.counters ?? {})) {
    const lost = c.lostProbes ?? 0, errors = c.sendErrors ?? 0;
    if (!lost && !errors) continue;
    lostProbes += lost;
    sendErrors += errors;
    const what = [lost ? `${lost} probes lost` : '', errors ? `${errors} frames not sent` : ''].filter(Boolean).join(', ');
    parts.push(`${stage}: ${what}`);
  }
  return parts.length ? { lostProbes, sendErrors, summary: parts.join('; ') } : undefined;
}
