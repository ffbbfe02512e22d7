/** Text of the progress display: the live one-line status (terminal) and nmap-style status lines. */
import type { StatusSummary } from '../../../../stages/records/index.js';

/** h:mm:ss, as nmap prints elapsed and remaining times. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** 1234 → "1.2k": rates and counts in a line that must stay short. */
export function compact(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return String(Math.round(n));
}

/** nmap's name of a phase, as in "SYN Stealth Scan Timing: About 45.00% done". */
export function phaseTitle(s: Pick<StatusSummary, 'phase' | 'scanType'>): string {
  if (s.phase === 'port scan') return s.scanType === 'syn' ? 'SYN Stealth Scan' : s.scanType === 'connect' ? 'Connect Scan' : 'Port Scan';
  if (s.phase === 'service scan') return 'Service scan';
  return s.phase[0]!.toUpperCase() + s.phase.slice(1);
}

/** The live status line: phase, done/total %, pps now and on average, replies, open, retries, drops, elapsed, ETA. */
export function liveLine(s: StatusSummary, width = 120): string {
  const progress = s.total !== null ? `${compact(s.done)}/${compact(s.total)} ${s.percent!.toFixed(1)}%` : `${compact(s.done)} done`;
  const unit = s.stage === 'detect' ? 'probes/s' : 'pps';
  const parts = [
    `${phaseTitle(s).toLowerCase()} ${progress}`,
    `${compact(s.pps)} ${unit} (avg ${compact(s.avgPps)})`,
    `${compact(s.replies)} ${s.stage === 'detect' ? 'identified' : 'replies'}, ${compact(s.open)} open`,
    `${compact(s.retries)} retries, ${compact(s.drops)} drops`,
    `${clock(s.elapsedMs)} elapsed${s.etaMs !== null ? `, ETA ${clock(s.etaMs)}` : ''}`,
  ];
  const line = parts.join(' | ');
  return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
}

/** nmap's two status lines (what it prints every --stats-every, or on Enter). */
export function nmapStatusLines(s: StatusSummary, now = Date.now(), debug = 0): string[] {
  const what = s.stage === 'detect' ? `${s.done}/${s.total ?? '?'} services done` : `${s.done}/${s.total ?? '?'} probes done`;
  const lines = [`Stats: ${clock(s.elapsedMs)} elapsed; ${what}; ${s.replies} ${s.stage === 'detect' ? 'identified' : 'replies'}; ${s.open} open ports; ${Math.round(s.pps)} ${s.stage === 'detect' ? 'probes/s' : 'pps'}`];
  if (s.percent !== null) {
    const etc = s.etaMs !== null ? new Date(now + s.etaMs) : undefined;
    const hhmm = etc ? `${String(etc.getHours()).padStart(2, '0')}:${String(etc.getMinutes()).padStart(2, '0')}` : '?';
    lines.push(`${phaseTitle(s)} Timing: About ${s.percent.toFixed(2)}% done; ETC: ${hhmm} (${s.etaMs !== null ? clock(s.etaMs) : '?'} remaining)`);
  }
  if (debug > 0) lines.push(`${s.stage} counters: ${Object.entries(s.counters).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return lines;
}
