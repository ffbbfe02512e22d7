import type { AnyRecord, EndTrailer } from '../records/index.js';
import { comparePorts, HostReports, isUp, oneLine, serviceFor, shownWithOpen, type HostReport } from './host-report.js';
import type { OutputFormat, ViewOptions } from './output-format.js';
import type { OutputSink } from './sink.js';
import { HostNames } from './host-names.js';

export const CSV_COLUMNS = [
  'ip', 'hostname', 'port', 'proto', 'state', 'reason', 'ttl', 'rtt_ms', 'time',
  'service', 'product', 'version', 'extrainfo', 'method', 'conf', 'tunnel',
  'confidence', 'proxied',
] as const;

/**
 * RFC 4180 field: quoted when it holds a comma, quote or line break; control characters become
 * \xHH so every row stays one line. A leading =, +, - or @ gets a ' so spreadsheets never run it.
 */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'number' ? String(v) : oneLine(v);
  if (typeof v === 'string' && /^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function rows(r: HostReport, view: ViewOptions, names: HostNames): string {
  const out: string[] = [];
  for (const p of [...r.ports].sort(comparePorts)) {
    if (view.openOnly && !shownWithOpen(p, view)) continue;
    const { name, svc } = serviceFor(r, p, view);
    out.push([
      r.ip, names.first(r.ip, r.host), p.port, p.proto, p.state, p.reason, p.ttl, p.rtt, new Date(p.time).toISOString(),
      name, svc?.product, svc?.version, svc?.extrainfo, svc ? svc.method : name ? 'table' : undefined, svc ? svc.conf : name ? 3 : undefined,
      svc?.tunnel,
      p.confidence, p.proxied === undefined ? undefined : String(p.proxied),
    ].map(csvField).join(','));
  }
  return out.length ? `${out.join('\r\n')}\r\n` : '';
}

/** CSV (-oC / --csv): one row per port with its service, for spreadsheets and COPY FROM. */
export function csvFormat(sink: OutputSink, view: ViewOptions): OutputFormat {
  const reports = new HostReports({ memoryRecords: view.reportMemoryRecords });
  let names = new HostNames(undefined);
  return {
    async begin(h) {
      names = new HostNames(h);
      await sink.write(`${CSV_COLUMNS.join(',')}\r\n`);
    },
    async record(rec: AnyRecord) {
      await reports.add(rec);
    },
    async end(_trailer: EndTrailer | undefined) {
      for await (const r of reports.sorted()) {
        // As in -oN/-oX/-oG: a host that is down has rows only with -v; with --open, only open ports.
        if (!isUp(r) && (view.verbose ?? 0) < 1) continue;
        await sink.write(rows(r, view, names));
      }
    },
  };
}
