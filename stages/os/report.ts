/**
 * The OS part of nmap's normal output for one host (printosscanoutput), as lines:
 *
 *   Device type: general purpose
 *   Running: Linux 5.X
 *   OS CPE: cpe:/o:linux:linux_kernel:5
 *   OS details: Linux 5.0 - 5.4                     (perfect matches)
 *   Aggressive OS guesses: Linux 5.3 - 5.4 (96%), …  (no perfect match: --osscan-guess or unfit)
 *   No exact OS matches for host (…)
 *   TCP/IP fingerprint: …
 *   Uptime guess: … (-v)  Network Distance: 1 hop  TCP Sequence Prediction: … (-v)  IP ID Sequence Generation: … (-v)
 *
 * Pure: the caller passes the match result, the reasons and the texts it has.
 */
import { classify, type OsClassification, type OsMatchResult } from './match.js';
import { ipIdClassText, type IpIdClass } from './ipid.js';

export interface OsReportInput {
  result: OsMatchResult;
  /** Why the fingerprint is unfit for submission (omitSubmissionReason), or null. */
  unfitReason: string | null;
  /** --osscan-guess / --fuzzy. */
  guess: boolean;
  verbose: number;
  debug: number;
  /** The host lacked one open or one closed TCP port (nmap's OS_PERF_UNREL). */
  unreliable: boolean;
  /** The merged fingerprint text: wrapped (for submission) and one test per line. */
  fingerprintWrapped: string;
  fingerprintPlain: string;
  /** Seconds since the last boot, from the TCP timestamps (null when unknown). */
  uptimeSeconds: number | null;
  /** Last boot as nmap's ctime text ("Tue Dec  1 09:22:26 2026"), when known. */
  lastbootText?: string;
  distance: number | null;
  seqResponses: number;
  seqIndex: number;
  ipIdClass: IpIdClass;
}

const floorPct = (a: number) => Math.floor(a * 100);

/** nmap's difficulty words for the SP index. */
export function seqDifficulty(index: number): string {
  return index < 3 ? 'Trivial joke' : index < 6 ? 'Easy' : index < 11 ? 'Medium' : index < 12 ? 'Formidable' : index < 16 ? 'Worthy challenge' : 'Good luck!';
}

/** Device type / Running / OS CPE lines (printosclassificationoutput); none when they would overflow 8 entries. */
export function classificationLines(c: OsClassification, guess: boolean): string[] {
  if (c.outcome !== 'success') return [];
  const MAX = 8;
  const types: string[] = [];
  const cpes: string[] = [];
  const families: Array<{ name: string; gens: string; accuracy: number }> = [];
  let overflow = false;
  const addNew = (arr: string[], v: string) => {
    if (arr.includes(v)) return;
    if (arr.length >= MAX) overflow = true;
    else arr.push(v);
  };
  for (let i = 0; i < c.classes.length; i++) {
    const { osClass, accuracy } = c.classes[i]!;
    if ((!guess && i >= c.perfect) || accuracy <= c.classes[0]!.accuracy - 0.1 || (accuracy < 1 && i > 9)) break;
    addNew(types, osClass.deviceType);
    for (const cpe of osClass.cpe) addNew(cpes, cpe);
    const name = osClass.vendor === osClass.family ? osClass.family : `${osClass.vendor} ${osClass.family}`;
    const fam = families.find((f) => f.name === name);
    if (fam) {
      if (osClass.generation && !fam.gens.includes(osClass.generation)) fam.gens += (fam.gens ? '|' : '') + osClass.generation;
      continue;
    }
    if (families.length >= MAX) {
      overflow = true;
      break;
    }
    families.push({ name, gens: osClass.generation ?? '', accuracy });
  }
  if (overflow || families.length === 0) return [];
  const running = families
    .map((f, i) => `${f.name}${f.gens ? ` ${f.gens}` : ''}${i >= c.perfect ? ` (${floorPct(f.accuracy)}%)` : ''}`)
    .join(', ');
  const lines = [`Device type: ${types.join('|')}`, `Running${c.perfect === 0 ? ' (JUST GUESSING)' : ''}: ${running}`];
  if (cpes.length) lines.push(`OS CPE: ${cpes.join(' ')}`);
  return lines;
}

/** The guesses nmap lists without a perfect match: up to 10 within 10 points of the best. */
export function guessList(result: OsMatchResult): Array<{ name: string; percent: number }> {
  const out: Array<{ name: string; percent: number }> = [];
  const best = result.matches[0]?.accuracy ?? 0;
  for (let i = 0; i < 10 && i < result.matches.length; i++) {
    const m = result.matches[i]!;
    if (i > 0 && !(m.accuracy > best - 0.1)) break;
    out.push({ name: m.reference.name, percent: floorPct(m.accuracy) });
  }
  return out;
}

export function osReportLines(r: OsReportInput): string[] {
  const lines: string[] = [];
  const { result } = r;
  const tooMany = result.outcome === 'too-many-matches' || (result.perfect > 8 && !r.debug);
  if (r.unreliable && !tooMany) {
    lines.push('Warning: OSScan results may be unreliable because we could not find at least 1 open and 1 closed port');
  }
  lines.push(...classificationLines(classify(result), r.guess || r.unfitReason !== null));
  const fp = (wrapped: boolean) => lines.push('TCP/IP fingerprint:', wrapped ? r.fingerprintWrapped : r.fingerprintPlain);
  if (result.outcome === 'success' && (result.perfect <= 8 || r.debug)) {
    if (result.perfect > 0) {
      lines.push(`OS details: ${result.matches.slice(0, result.perfect).map((m) => m.reference.name).join(', ')}`);
      if (r.debug || r.verbose > 1) fp(true);
    } else {
      if ((r.verbose > 1 || r.debug) && r.unfitReason) lines.push(`OS fingerprint not ideal because: ${r.unfitReason}`);
      if ((r.guess || r.unfitReason) && result.matches.length > 0) {
        lines.push(`Aggressive OS guesses: ${guessList(result).map((g) => `${g.name} (${g.percent}%)`).join(', ')}`);
      }
      if (!r.unfitReason) {
        lines.push('No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).');
        fp(true);
      } else {
        lines.push('No exact OS matches for host (test conditions non-ideal).');
        if (r.verbose > 1 || r.debug) fp(false);
      }
    }
  } else if (result.outcome === 'no-matches') {
    if (!r.unfitReason) {
      lines.push('No OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).');
      fp(true);
    } else {
      lines.push(`OS fingerprint not ideal because: ${r.unfitReason}`, 'No OS matches for host');
      if (r.debug || r.verbose > 1) fp(false);
    }
  } else {
    lines.push('Too many fingerprints match this host to give specific OS details');
    if (r.debug || r.verbose > 1) fp(false);
  }
  if (r.uptimeSeconds !== null && r.verbose) {
    const days = (r.uptimeSeconds / 86400).toFixed(3);
    lines.push(r.lastbootText ? `Uptime guess: ${days} days (since ${r.lastbootText})` : `Uptime guess: ${days} days`);
  }
  if (r.distance !== null) lines.push(`Network Distance: ${r.distance} hop${r.distance === 1 ? '' : 's'}`);
  if (r.seqResponses > 3 && r.verbose) lines.push(`TCP Sequence Prediction: Difficulty=${r.seqIndex} (${seqDifficulty(r.seqIndex)})`);
  if (r.seqResponses > 2 && r.verbose) lines.push(`IP ID Sequence Generation: ${ipIdClassText(r.ipIdClass)}`);
  return lines;
}
