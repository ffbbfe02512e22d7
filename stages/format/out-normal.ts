import type { AnyRecord, EndTrailer, PortRecord, ScanHeader, ServiceRecord } from '../records/index.js';
import {
  bestRtt, doneSummary, hasOpen, middleboxNote, plural, hostStatus, HostReports, isListed, isReportRecord, isUp, oneLine, portKey, serviceFor, splitPorts,
  versionText, type HiddenGroup, type HostReport,
} from './host-report.js';
import type { OutputFormat, ViewOptions } from './output-format.js';
import { osNormalLines } from './os-normal.js';
import type { OutputSink } from './sink.js';
import { normalScripts, ScriptResults } from './out-script.js';
import { HostNames } from './host-names.js';
import { normalTraceLines } from './out-trace.js';

/** nmap's latency: two significant digits in fixed notation ("0.000070s", "0.00011s"). */
function latency(ports: PortRecord[], hostRtt?: number): string | undefined {
  const best = bestRtt(ports) ?? hostRtt;
  return best === undefined ? undefined : `${(best / 1000).toPrecision(2)}s`;
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

/** nmap's -oN layout of a service fingerprint: 74 columns, continuation lines start with "SF:". */
export function wrapServiceFingerprint(fp: string): string[] {
  const lines = [fp.slice(0, 74)];
  for (let i = 74; i < fp.length; i += 71) lines.push(`SF:${fp.slice(i, i + 71)}`);
  return lines;
}

/** nmap's block under the port table for services that answered but were not identified. */
function unrecognizedBlock(fps: string[]): string[] {
  if (fps.length === 0) return [];
  const one = fps.length === 1;
  const lines = [
    `${fps.length} ${one ? 'service' : 'services'} unrecognized despite returning data. If you know the service/version, ` +
      `please submit the following ${one ? 'fingerprint' : 'fingerprints'} at https://nmap.org/cgi-bin/submit.cgi?new-service :`,
  ];
  for (const fp of fps) {
    if (!one) lines.push('==============NEXT SERVICE FINGERPRINT (SUBMIT INDIVIDUALLY)==============');
    lines.push(...wrapServiceFingerprint(fp));
  }
  return lines;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => rows.reduce((w, r) => Math.max(w, r[c]!.length), 0));
  return rows
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join(' ').trimEnd())
    .join('\n');
}

/** nmap's "Not shown: 997 closed tcp ports (conn-refused)" for the states that are not listed. */
function notShown(hidden: HiddenGroup[]): string | undefined {
  if (hidden.length === 0) return undefined;
  const parts = hidden.map((g) => {
    const reasons = [...g.reasons].map(([r, ports]) => (g.reasons.size > 1 ? `${ports.length} ${r}` : r)).join(', ');
    // -sO: nmap's "244 closed n/a protocols"
    if (g.proto === 'ip') return `${g.count} ${g.state} n/a ${g.count === 1 ? 'protocol' : 'protocols'} (${reasons})`;
    return `${g.count} ${g.proxied ? 'proxied ' : ''}${g.state} ${g.proto} ${g.count === 1 ? 'port' : 'ports'} (${reasons})`;
  });
  return `Not shown: ${parts.join(', ')}`;
}

/** nmap's "name (address)": the name typed on the command line, else the PTR name. */
function hostName(r: HostReport, names: HostNames): string {
  const name = names.first(r.ip, r.host);
  return name ? `${oneLine(name)} (${r.ip})` : r.ip;
}

function downBlock(r: HostReport, view: ViewOptions, names: HostNames): string {
  const why = view.reason ? `, received ${hostStatus(r).reason}` : '';
  return `prtip scan report for ${hostName(r, names)} [host down${why}]\n`;
}

function hostBlock(r: HostReport, view: ViewOptions, names: HostNames, scripts?: ScriptResults): string {
  const lines: string[] = [];
  lines.push(`prtip scan report for ${hostName(r, names)}`);
  const lat = latency(r.ports, r.host?.rtt);
  const why = view.reason ? `, received ${hostStatus(r).reason}` : '';
  lines.push(lat ? `Host is up${why} (${lat} latency).` : `Host is up${why}.`);

  const { shown, hidden } = splitPorts(r, view);
  if (shown.length === 0 && r.ports.length > 0 && !hidden.some((g) => g.proxied)) {
    lines.push(`All ${r.ports.length} scanned ports on ${hostName(r, names)} are in ignored states.`);
  }
  const summary = notShown(hidden);
  if (summary) lines.push(summary);
  else if (shown.length > 0) lines.push(''); // nmap leaves a blank line where no "Not shown" line is
  // Each listed port's service, looked up once (the table, the fingerprints and Service Info use it).
  const found = shown.map((p) => serviceFor(r, p, view));
  if (shown.length > 0) {
    const withVersion = found.some((f) => f.svc?.product !== undefined);
    // -sO lists protocol numbers: nmap's PROTOCOL column, the number alone
    const protocols = shown.every((p) => p.proto === 'ip');
    const head = [protocols ? 'PROTOCOL' : 'PORT', 'STATE', 'SERVICE'];
    if (view.reason) head.push('REASON');
    if (withVersion) head.push('VERSION');
    const rows = [head];
    for (const [i, p] of shown.entries()) {
      const { name, svc } = found[i]!;
      // nmap's normal output: ssl/http for a service found inside TLS, http? for a guess from the table.
      const shown = svc ? `${svc.tunnel === 'ssl' ? 'ssl/' : ''}${svc.name}${svc.method === 'table' ? '?' : ''}` : name;
      const row = [p.proto === 'ip' ? String(p.port) : `${p.port}/${p.proto}`, p.proxied ? `${p.state} (proxied?)` : p.state, oneLine(shown ?? 'unknown')];
      if (view.reason) row.push(p.ttl !== null ? `${p.reason} ttl ${p.ttl}` : p.reason);
      if (withVersion) row.push(oneLine(versionText(svc)));
      rows.push(row);
    }
    // each port's script results follow its row
    table(rows).split('\n').forEach((row, i) => {
      lines.push(row);
      if (i > 0 && scripts) lines.push(...normalScripts(scripts.port(r.ip, shown[i - 1]!.port, shown[i - 1]!.proto)));
    });
  }
  if (shown.length > 0) {
    const fps = found.map((f) => f.svc?.servicefp).filter((fp): fp is string => !!fp);
    lines.push(...unrecognizedBlock(fps.map(oneLine)));
  }
  if (r.host?.middlebox) lines.push(oneLine(middleboxNote(r.host.middlebox)));
  // nmap prints the OS section after the port table and before "Service Info".
  if (r.os) lines.push(...osNormalLines(r.os, view.verbose ?? 0).map((l) => l.split('\n').map(oneLine).join('\n')));
  if (shown.length > 0) {
    const info = serviceInfo(shown.map((p) => r.services.get(portKey(p.port, p.proto))));
    if (info) lines.push(info);
  }
  const hostScripts = scripts?.host(r.ip) ?? [];
  if (hostScripts.length > 0) lines.push('', 'Host script results:', ...normalScripts(hostScripts));
  if (r.trace) lines.push(...normalTraceLines(r.trace, oneLine));
  return `${lines.join('\n')}\n\n`;
}

/** "2026-11-28 23:01 UTC", as nmap's "Starting" line shows the time. */
function shortClock(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** ctime(3) layout in UTC, as nmap's file comments show it: "Sat Nov 28 23:01:58 2026". */
export function ctime(ms: number): string {
  const d = new Date(ms);
  const day = d.toUTCString().slice(0, 3);
  const mon = d.toUTCString().slice(8, 11);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** The first line of -oN and -oG files: "# prtip VERSION scan initiated DATE as: COMMAND". */
export function initiatedComment(h: ScanHeader | undefined): string {
  return `# prtip ${h?.version ?? '?'} scan initiated ${ctime(h?.startTime ?? Date.now())} as: ${oneLine((h?.args ?? []).join(' | '))}\n`;
}

export function elapsedSeconds(header: ScanHeader | undefined, trailer: EndTrailer | undefined): string {
  return header && trailer ? ((trailer.endTime - header.startTime) / 1000).toFixed(2) : '0.00';
}

/**
 * Nmap-style normal output (-oN): nmap's layout line for line — a report per host that is up
 * (with -v also "[host down]" lines), "Not shown" summaries, then the closing summary. The only
 * deliberate difference is the tool's name ("prtip scan report for").
 */
export function normalFormat(sink: OutputSink, view: ViewOptions): OutputFormat {
  const reports = new HostReports({ memoryRecords: view.reportMemoryRecords });
  const scripts = new ScriptResults();
  let header: ScanHeader | undefined;
  let names = new HostNames(undefined);
  const toFile = sink.path !== '-';
  return {
    async begin(h) {
      header = h;
      names = new HostNames(h);
      const version = h?.version ?? '?';
      const started = h?.startTime ?? Date.now();
      if (toFile) {
        await sink.write(initiatedComment(h));
      } else {
        await sink.write(`Starting prtip ${version} at ${shortClock(started)}\n`);
      }
    },
    record(rec: AnyRecord) {
      if (isReportRecord(rec)) return reports.add(rec);
      scripts.add(rec);
      return undefined;
    },
    async end(trailer: EndTrailer | undefined) {
      let up = 0;
      let seen = 0;
      let onlyProxied = 0;
      let listed = 0;
      if (scripts.pre.length > 0) await sink.write(`Pre-scan script results:\n${normalScripts(scripts.pre).join('\n')}\n`);
      // One host at a time, synchronously; a write waits only when the output's stream is full.
      for (const r of reports.sortedSync()) {
        seen++;
        let text: string | undefined;
        if (isListed(r)) {
          listed++;
          text = `prtip scan report for ${hostName(r, names)}\n`;
        } else if (!isUp(r)) {
          if ((view.verbose ?? 0) > 0) text = downBlock(r, view, names);
        } else {
          up++;
          if (view.openOnly && !hasOpen(r, view)) {
            if (hasOpen(r, { showProxied: true })) onlyProxied++;
          } else text = hostBlock(r, view, names, scripts);
        }
        if (text === undefined) continue;
        const full = sink.write(text);
        if (full) await full;
      }
      if (onlyProxied > 0) {
        await sink.write(`Not shown: ${plural(onlyProxied, 'host', 's')} whose every open port is marked proxied (a SYN proxy, tarpit or balancer answered; --show-proxied lists them)\n`);
      }
      if (scripts.post.length > 0) await sink.write(`Post-scan script results:\n${normalScripts(scripts.post).join('\n')}\n`);
      const total = header?.plan?.hosts ?? seen;
      if (!trailer || trailer.interrupted) await sink.write('Scan interrupted: results above are partial.\n');
      if (up === 0 && total === 1 && listed === 0) {
        await sink.write('Note: Host seems down. If it is really up, but blocking our ping probes, try -Pn\n');
      }
      const done = doneSummary(total, up, elapsedSeconds(header, trailer));
      const endTime = trailer?.endTime ?? Date.now();
      await sink.write(toFile ? `# prtip done at ${ctime(endTime)} -- ${done}\n` : `prtip done: ${done}\n`);
    },
  };
}
