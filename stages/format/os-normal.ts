/**
 * The OS section of nmap's normal output (printosscanoutput) from an os record:
 *
 *   Device type: general purpose            Running: Linux 5.X          OS CPE: cpe:/o:linux:linux_kernel:5
 *   OS details: Linux 5.0 - 5.4             (perfect matches)
 *   Aggressive OS guesses: Linux 5.3 - 5.4 (96%), …   (no perfect match: --osscan-guess, or an unfit print)
 *   No exact OS matches for host (…)  TCP/IP fingerprint: …
 *   Uptime guess (-v) · Network Distance · TCP Sequence Prediction (-v) · IP ID Sequence Generation (-v)
 *
 * The record's matches are the ones nmap lists (every perfect one, or up to 10 within 10 points of
 * the best), which is also every match the classification lines can draw on. A record from an
 * import (no OS-stage fields) gets the classification and the details/guesses line only.
 */
import type { OsMatch, OsRecord } from '../records/index.js';

export interface ClassEntry {
  vendor: string;
  osfamily: string;
  osgen?: string;
  devicetype: string;
  cpe: string[];
  score: number;
}

const scoreOf = (m: OsMatch) => m.score ?? m.accuracy / 100;
const pct = (m: OsMatch) => Math.floor(scoreOf(m) * 100 + 1e-9);

function classesOf(m: OsMatch): Array<Omit<ClassEntry, 'score'>> {
  if (m.classes) return m.classes;
  if (m.vendor && m.osfamily) return [{ vendor: m.vendor, osfamily: m.osfamily, osgen: m.osgen, devicetype: m.devicetype ?? '', cpe: m.cpe ?? [] }];
  return [];
}

/** The classes of an imported record (no OS-stage `classes`), from its matches. */
function classesFromMatches(matches: OsMatch[], perfectCount: number): { classes: ClassEntry[]; perfect: number } {
  const classes: ClassEntry[] = [];
  let perfect = 0;
  matches.forEach((m, i) => {
    for (const c of classesOf(m)) {
      if (classes.some((x) => x.vendor === c.vendor && x.osfamily === c.osfamily && x.devicetype === c.devicetype && x.osgen === c.osgen)) continue;
      if (perfect > 0 && i >= perfectCount) return;
      classes.push({ ...c, score: scoreOf(m) });
      if (i < perfectCount) perfect++;
    }
  });
  return { classes, perfect };
}

/** Device type / Running / OS CPE (nmap's printosclassificationoutput); none when a list would pass 8 entries. */
export function osClassificationLines(classes: ClassEntry[], perfectClasses: number, guess: boolean): string[] {
  const MAX = 8;
  const types: string[] = [];
  const cpes: string[] = [];
  const families: Array<{ name: string; gens: string; score: number }> = [];
  let overflow = false;
  const addNew = (arr: string[], v: string) => {
    if (arr.includes(v)) return;
    if (arr.length >= MAX) overflow = true;
    else arr.push(v);
  };
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i]!;
    if ((!guess && i >= perfectClasses) || c.score <= classes[0]!.score - 0.1 || (c.score < 1 && i > 9)) break;
    addNew(types, c.devicetype);
    for (const cpe of c.cpe) addNew(cpes, cpe);
    const name = c.vendor === c.osfamily ? c.osfamily : `${c.vendor} ${c.osfamily}`;
    const fam = families.find((f) => f.name === name);
    if (fam) {
      if (c.osgen && !fam.gens.includes(c.osgen)) fam.gens += (fam.gens ? '|' : '') + c.osgen;
      continue;
    }
    if (families.length >= MAX) {
      overflow = true;
      break;
    }
    families.push({ name, gens: c.osgen ?? '', score: c.score });
  }
  if (overflow || families.length === 0) return [];
  const running = families
    .map((f, i) => `${f.name}${f.gens ? ` ${f.gens}` : ''}${i >= perfectClasses ? ` (${Math.floor(f.score * 100 + 1e-9)}%)` : ''}`)
    .join(', ');
  const lines = [`Device type: ${types.join('|')}`, `Running${perfectClasses === 0 ? ' (JUST GUESSING)' : ''}: ${running}`];
  if (cpes.length) lines.push(`OS CPE: ${cpes.join(' ')}`);
  return lines;
}

/** nmap's words for the SP index. */
const difficultyText = (os: OsRecord) => os.tcpSequence?.difficulty ?? '';

/** The fingerprint one test per line (nmap's unwrapped print) from the OS:-wrapped text. */
export function unwrapFingerprint(wrapped: string): string {
  const flat = wrapped.split('\n').map((l) => (l.startsWith('OS:') ? l.slice(3) : l)).join('');
  return flat.replace(/\)(?=.)/g, ')\n');
}

/** ctime(3) layout, as nmap prints the last boot (local time). */
function ctimeLocal(seconds: number): string {
  const d = new Date(seconds * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** The OS section's lines for one host; `verbose` is -v's count (nmap's -d counts as -vv here). */
export function osNormalLines(os: OsRecord, verbose: number): string[] {
  const lines: string[] = [];
  const fromStage = os.outcome !== undefined;
  const perfect = os.perfect ?? os.matches.some((m) => scoreOf(m) >= 1);
  const perfectMatches = perfect ? os.matches.filter((m) => scoreOf(m) >= 1) : [];
  const outcome = os.outcome ?? (os.matches.length ? 'success' : 'no-matches');
  const unfit = os.unfitReason ?? null;
  const guess = !fromStage || os.guess === true || unfit !== null;
  const tooMany = outcome === 'too-many-matches' || perfectMatches.length > 8;
  if (os.unreliable && !tooMany) {
    lines.push('Warning: OSScan results may be unreliable because we could not find at least 1 open and 1 closed port');
  }
  if (outcome !== 'too-many-matches') {
    const c = os.classes ? { classes: os.classes, perfect: os.classesPerfect ?? 0 } : classesFromMatches(os.matches, perfectMatches.length);
    lines.push(...osClassificationLines(c.classes, c.perfect, guess));
  }
  const fp = (wrapped: boolean) => {
    if (os.fingerprint) lines.push('TCP/IP fingerprint:', wrapped ? os.fingerprint : unwrapFingerprint(os.fingerprint));
  };
  if (outcome === 'success' && !tooMany) {
    if (perfectMatches.length > 0) {
      lines.push(`OS details: ${perfectMatches.map((m) => m.name).join(', ')}`);
      if (verbose > 1) fp(true);
    } else {
      if (verbose > 1 && unfit) lines.push(`OS fingerprint not ideal because: ${unfit}`);
      if (guess && os.matches.length > 0) lines.push(`Aggressive OS guesses: ${os.matches.map((m) => `${m.name} (${pct(m)}%)`).join(', ')}`);
      if (fromStage && !unfit) {
        lines.push('No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).');
        fp(true);
      } else if (fromStage) {
        lines.push('No exact OS matches for host (test conditions non-ideal).');
        if (verbose > 1) fp(false);
      }
    }
  } else if (outcome === 'no-matches') {
    if (fromStage && os.noMatchReason) {
      if (verbose > 1 && unfit) lines.push(`OS fingerprint not ideal because: ${unfit}`);
      lines.push(`No OS matches for host (${os.noMatchReason}).`);
      fp(true);
    } else if (fromStage && !unfit) {
      lines.push('No OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).');
      fp(true);
    } else if (fromStage) {
      lines.push(`OS fingerprint not ideal because: ${unfit}`, 'No OS matches for host');
      if (verbose > 1) fp(false);
    }
  } else {
    lines.push('Too many fingerprints match this host to give specific OS details');
    if (verbose > 1) fp(false);
  }
  if (os.uptime && verbose) {
    lines.push(`Uptime guess: ${(os.uptime.seconds / 86400).toFixed(3)} days (since ${ctimeLocal(os.uptime.lastboot)})`);
  }
  if (os.distance) lines.push(`Network Distance: ${os.distance.hops} hop${os.distance.hops === 1 ? '' : 's'}`);
  if (os.tcpSequence && verbose) lines.push(`TCP Sequence Prediction: Difficulty=${os.tcpSequence.index} (${difficultyText(os)})`);
  if (os.ipIdSequence && verbose) lines.push(`IP ID Sequence Generation: ${os.ipIdSequence.class}`);
  return lines;
}
