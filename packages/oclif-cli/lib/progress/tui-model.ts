/** What the TUI shows, computed from the scan's records (kept apart from drawing, so it is testable). */
import { StatusTracker, type AnyRecord, type PortRecord, type ServiceRecord, type StatusRecord } from '../../../../stages/records/index.js';
import { nmapStatusLines } from './status-line.js';

export interface OpenPortRow {
  ip: string;
  port: number;
  proto: string;
  service: string;
  version: string;
}

const RATE_POINTS = 60;
const LOG_LINES = 4;

export class TuiModel {
  readonly tracker = new StatusTracker();
  /** Send rate (pps) per status record, oldest first. */
  readonly rates: number[] = [];
  readonly open = new Map<string, OpenPortRow>();
  readonly hostsUp = new Set<string>();
  readonly log: string[] = [];
  errors = 0;
  state: 'running' | 'stopping' | 'done' = 'running';
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly title: string,
    private readonly serviceName: (port: number, proto: string) => string | undefined,
  ) {}

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  observe(rec: AnyRecord): void {
    switch (rec.type) {
      case 'status': {
        const s = this.tracker.update(rec as StatusRecord);
        if (s.stage === 'send') {
          this.rates.push(s.pps);
          if (this.rates.length > RATE_POINTS) this.rates.shift();
        }
        break;
      }
      case 'port': {
        const p = rec as PortRecord;
        if (p.state === 'open' || p.state === 'closed') this.hostsUp.add(p.ip);
        if (p.state === 'open') {
          this.open.set(`${p.ip} ${p.port}/${p.proto}`, { ip: p.ip, port: p.port, proto: p.proto, service: this.serviceName(p.port, p.proto) ?? '', version: '' });
        }
        break;
      }
      case 'service': {
        const s = rec as ServiceRecord;
        const key = `${s.ip} ${s.port}/${s.proto}`;
        const row = this.open.get(key) ?? { ip: s.ip, port: s.port, proto: s.proto, service: '', version: '' };
        row.service = `${s.tunnel ? 'ssl/' : ''}${s.name}`;
        row.version = [s.product, s.version, s.extrainfo ? `(${s.extrainfo})` : undefined].filter(Boolean).join(' ');
        this.open.set(key, row);
        break;
      }
      case 'end':
        this.state = 'done';
        break;
      default:
        return;
    }
    this.changed();
  }

  say(text: string): void {
    for (const line of text.split('\n').filter(Boolean)) {
      this.log.push(line);
      if (/^prtip: (warning|error)/.test(line)) this.errors++;
    }
    while (this.log.length > LOG_LINES) this.log.shift();
    this.changed();
  }

  statusNow(debug = 0): void {
    const s = this.tracker.latest();
    this.say(s ? nmapStatusLines(s, Date.now(), debug).join('\n') : 'Stats: no status yet');
  }

  /** Services by count, most common first (detected names, else the port's usual service). */
  topServices(n: number): Array<[string, number]> {
    const counts = new Map<string, number>();
    for (const r of this.open.values()) {
      const name = r.service || 'unknown';
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
  }
}

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of the values, scaled to their maximum. */
export function sparkline(values: number[], width: number): string {
  const v = values.slice(-width);
  const max = Math.max(...v, 1);
  return v.map((x) => BARS[Math.min(BARS.length - 1, Math.floor((x / max) * (BARS.length - 1)))]).join('');
}

/** [█████░░░░░] for a percentage. */
export function bar(percent: number | null, width: number): string {
  const filled = percent === null ? 0 : Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}
