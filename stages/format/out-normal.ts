import type { AnyRecord, EndTrailer, HostRecord, PortRecord, ScanHeader, ServiceRecord } from '../records/index.js';
import { comparePorts, HostReports, isUp, portKey, type HostReport } from './host-report.js';
import type { OutputFormat, ViewOptions } from './output-format.js';
import type { OutputSink } from './sink.js';

/** Like nmap: a state with more than this many ports on a host is summarised, not listed. */
const COLLAPSE_OVER = 25;

const SHOWN_WITH_OPEN = new Set(['open', 'open|filtered']);

function plural(n: number, word: string, suffix = 'es'): string {
  return `${n} ${word}${n === 1 ? '' : suffix}`;
}

function latency(ports: PortRecord[]): string | undefined {
  let best = Infinity;
  for (const p of ports) if (p.rtt !== null && p.rtt < best) best = p.rtt;
  return best === Infinity ? undefined : `${(best / 1000).toPrecision(2)}s`;
}

function versionText(s: ServiceRecord | undefined): string {
  if (!s) return '';
  return [s.product, s.version, s.extrainfo ? `(${s.extrainfo})` : undefined].filter(Boolean).join(' ');
}

/** nmap's "Service Info: Host: …; OS: …; Device: …; CPE: …" line, from the services' h/ o/ d/ fields. */
function serviceInfo(services: Array<ServiceRecord | undefined>): string | undefined {
  const hosts = new Set<string>(), oses = new Set<string>(), devices = new Set<string>(), cpes = new Set<string>();
  for (const s of services) {
    if (!s) continue;
    if (s.hostname) hosts.add(s.hostname);
    if (s.ostype) oses.add(s.ostype);
    if (s.devicetype) devices.add(s.devicetype);
    for (const c of s.cpe ?? []) if (c.startsWith('cpe:/o:') || c.startsWith('cpe:/h:')) cpes.add(c);
  }
  const parts: string[] = [];
  const add = (label: string, set: Set<string>) => {
    if (set.size) parts.push(`${label}${set.size > 1 ? 's' : ''}: ${[...set].join(', ')}`);
  };
  add('Host', hosts);
  add('OS', oses);
  add('Device', devices);
  add('CPE', cpes);
  return parts.length ? `Service Info: ${parts.join('; ')}` : undefined;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join(' ').trimEnd())
    .join('\n');
}

/** nmap's "Not shown: 997 closed tcp ports (conn-refused)" for the states that are not listed. */
function notShown(hidden: PortRecord[]): string | undefined {
  if (hidden.length === 0) return undefined;
  const groups = new Map<string, { n: number; reasons: Map<string, number> }>();
  for (const p of hidden) {
    const key = `${p.state} ${p.proto}`;
    const g = groups.get(key) ?? { n: 0, reasons: new Map() };
    g.n++;
    g.reasons.set(p.reason, (g.reasons.get(p.reason) ?? 0) + 1);
    groups.set(key, g);
  }
  const parts = [...groups].map(([key, g]) => {
    const reasons = [...g.reasons].map(([r, n]) => (g.reasons.size > 1 ? `${n} ${r}` : r)).join(', ');
    return `${g.n} ${key} ${g.n === 1 ? 'port' : 'ports'} (${reasons})`;
  });
  return `Not shown: ${parts.join(', ')}`;
}

function hostBlock(r: HostReport, view: ViewOptions): string {
  const lines: string[] = [];
  const name = r.host?.hostname;
  lines.push(`prtip scan report for ${name ? `${name} (${r.ip})` : r.ip}`);
  const lat = latency(r.ports);
  lines.push(lat ? `Host is up (${lat} latency).` : 'Host is up.');

  const ports = [...r.ports].sort(comparePorts);
  const counts = new Map<string, number>();
  for (const p of ports) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
  const listed = (p: PortRecord): boolean =>
    view.openOnly ? SHOWN_WITH_OPEN.has(p.state) : p.state === 'open' || (counts.get(p.state) ?? 0) <= COLLAPSE_OVER;
  const shown = ports.filter(listed);
  const hidden = ports.filter((p) => !listed(p));

  if (shown.length === 0 && ports.length > 0) {
    lines.push(`All ${ports.length} scanned ports on ${r.ip} are in ignored states.`);
  }
  const summary = notShown(hidden);
  if (summary) lines.push(summary);
  if (shown.length > 0) {
    const withVersion = shown.some((p) => r.services.has(portKey(p.port, p.proto)));
    const head = ['PORT', 'STATE', 'SERVICE'];
    if (view.reason) head.push('REASON');
    if (withVersion) head.push('VERSION');
    const rows = [head];
    for (const p of shown) {
      const svc = r.services.get(portKey(p.port, p.proto));
      const name = svc ? `${svc.tunnel === 'ssl' ? 'ssl/' : ''}${svc.name}${svc.method === 'table' ? '?' : ''}` : undefined;
      const row = [`${p.port}/${p.proto}`, p.state, name ?? view.serviceName(p.port, p.proto) ?? 'unknown'];
      if (view.reason) row.push(p.ttl !== null ? `${p.reason} ttl ${p.ttl}` : p.reason);
      if (withVersion) row.push(versionText(svc));
      rows.push(row);
    }
    lines.push(table(rows));
    const info = serviceInfo(shown.map((p) => r.services.get(portKey(p.port, p.proto))));
    if (info) lines.push(info);
  }
  return `${lines.join('\n')}\n\n`;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** Nmap-style normal output (-oN): a report per host that is up, then a summary line. */
export function normalFormat(sink: OutputSink, view: ViewOptions): OutputFormat {
  const reports = new HostReports();
  let header: ScanHeader | undefined;
  const toFile = sink.path !== '-';
  return {
    async begin(h) {
      header = h;
      const version = h?.version ?? '?';
      const started = h?.startTime ?? Date.now();
      if (toFile) {
        await sink.write(`# prtip ${version} scan initiated ${clock(started)} as: ${(h?.args ?? []).join(' | ')}\n`);
      } else {
        await sink.write(`Starting prtip ${version} at ${clock(started)}\n`);
      }
    },
    async record(rec: AnyRecord) {
      if (rec.type === 'port') reports.addPort(rec as PortRecord);
      else if (rec.type === 'host') reports.addHost(rec as HostRecord);
      else if (rec.type === 'service') reports.addService(rec as ServiceRecord);
    },
    async end(trailer: EndTrailer | undefined) {
      let up = 0;
      let seen = 0;
      for (const r of reports.sorted()) {
        seen++;
        if (!isUp(r)) continue;
        up++;
        if (view.openOnly && !r.ports.some((p) => SHOWN_WITH_OPEN.has(p.state))) continue;
        await sink.write(hostBlock(r, view));
      }
      const total = header?.plan?.hosts ?? seen;
      const seconds = header && trailer ? ((trailer.endTime - header.startTime) / 1000).toFixed(2) : '?';
      if (!trailer || trailer.interrupted) await sink.write('Scan interrupted: results above are partial.\n');
      const done = `${plural(total, 'IP address')} (${plural(up, 'host', 's')} up) scanned in ${seconds} seconds`;
      const endTime = trailer?.endTime ?? Date.now();
      await sink.write(toFile ? `# prtip done at ${clock(endTime)} -- ${done}\n` : `prtip done: ${done}\n`);
    },
  };
}
