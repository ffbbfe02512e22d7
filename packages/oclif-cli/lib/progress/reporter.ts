/**
 * Shows a scan's progress from its status records: on a terminal, one line on stderr redrawn in
 * place; every --stats-every (or on Enter/?), nmap-style status lines. Other stderr writers call
 * clear() first so the line never garbles their text.
 */
import { StatusTracker, type AnyRecord, type StatusRecord, type StatusSummary } from '../../../../stages/records/index.js';
import type { Interaction } from './interaction.js';
import { liveLine, nmapStatusLines } from './status-line.js';

export interface ReporterOptions {
  out: NodeJS.WritableStream & { columns?: number };
  /** Draw the live line (stderr is a terminal). */
  live: boolean;
  /** Print nmap-style lines this often (ms), by the records' clock. */
  statsEveryMs?: number;
  interaction: Interaction;
}

export class ProgressReporter {
  readonly tracker = new StatusTracker();
  private drawn = false;
  private lastStats: number | undefined;
  private finished = false;

  constructor(private readonly opts: ReporterOptions) {}

  observe(rec: AnyRecord): void {
    if (rec.type === 'status') {
      const s = this.tracker.update(rec as StatusRecord);
      if (this.finished) return;
      const every = this.opts.statsEveryMs;
      if (every !== undefined && (this.lastStats === undefined ? s.elapsedMs >= every : s.time - this.lastStats >= every)) {
        this.lastStats = s.time;
        this.printLines(s);
      }
      if (this.opts.live) this.draw(s);
    } else if (rec.type === 'end') {
      this.finish();
    }
  }

  /** Erases the live line (it comes back with the next status record). */
  clear(): void {
    if (!this.drawn) return;
    this.opts.out.write('\r\x1b[K');
    this.drawn = false;
  }

  /** Writes text on stderr without garbling the live line. */
  say(text: string): void {
    this.clear();
    this.opts.out.write(text);
    const s = this.tracker.latest();
    if (s && this.opts.live && !this.finished) this.draw(s);
  }

  /** Enter or ?: the status lines now. */
  statusNow(): void {
    const s = this.tracker.latest();
    if (s) this.printLines(s);
    else this.say('Stats: no status yet\n');
  }

  finish(): void {
    this.clear();
    this.finished = true;
  }

  private printLines(s: StatusSummary): void {
    this.say(`${nmapStatusLines(s, Date.now(), this.opts.interaction.debug).join('\n')}\n`);
  }

  private draw(s: StatusSummary): void {
    const width = (this.opts.out.columns ?? 120) - 1;
    this.opts.out.write(`\r\x1b[K${liveLine(s, width)}`);
    this.drawn = true;
  }
}
