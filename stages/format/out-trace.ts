/**
 * Traceroute in the reports, as nmap prints it (output.cc): -oN's "TRACEROUTE (using port 80/tcp)"
 * table with shared hops folded into "Hops 1-2 are the same as for …" and runs of timed-out hops
 * into "... 5"; -oX's <trace port proto><hop ttl ipaddr rtt host/></trace> (timed-out hops left
 * out); -oJ the record's fields. -oG has no traceroute, as nmap's.
 */
import type { TraceRecord } from '../records/index.js';
import { xmlElement } from './xml-text.js';

const rttText = (rtt: number | null | undefined) => (rtt === null || rtt === undefined ? '--' : rtt.toFixed(2));

/** The -oN block: a blank line, the header and the HOP RTT ADDRESS table (rows as nmap aligns them). */
export function normalTraceLines(t: TraceRecord, oneLine: (s: string) => string): string[] {
  if (t.hops.length === 0) return [];
  const rows: string[][] = [['HOP', 'RTT', 'ADDRESS']];
  let i = 0;
  if (t.sharedWith && t.sharedWith.ttl >= 1) {
    const n = t.sharedWith.ttl;
    rows.push(['-', n === 1 ? `Hop 1 is the same as for ${t.sharedWith.ip}` : `Hops 1-${n} are the same as for ${t.sharedWith.ip}`]);
    while (i < t.hops.length && t.hops[i]!.ttl <= n) i++;
  }
  while (i < t.hops.length) {
    const h = t.hops[i]!;
    if (!h.ip) {
      let end = h.ttl;
      while (i < t.hops.length && !t.hops[i]!.ip) end = t.hops[i++]!.ttl;
      rows.push([String(h.ttl), end === h.ttl ? '...' : `... ${end}`]);
      continue;
    }
    rows.push([String(h.ttl), h.rtt === null || h.rtt === undefined ? '--' : `${h.rtt.toFixed(2)} ms`, h.host ? `${oneLine(h.host)} (${h.ip})` : h.ip]);
    i++;
  }
  // nmap's table: columns as wide as their widest cell, one space between; a cell spanning
  // (the shared-hops note) does not widen its column.
  const widths = [0, 1].map((c) => Math.max(...rows.filter((r) => r.length === 3).map((r) => r[c]!.length)));
  const lines = rows.map((r) => (r.length === 3 ? `${r[0]!.padEnd(widths[0]!)} ${r[1]!.padEnd(widths[1]!)} ${r[2]}` : `${r[0]!.padEnd(widths[0]!)} ${r[1]}`).trimEnd());
  const head = t.port !== undefined && t.proto ? `TRACEROUTE (using port ${t.port}/${t.proto})` : 'TRACEROUTE';
  return ['', head, ...lines];
}

/** The -oX <trace> element (nmap.dtd: trace (hop*), port and proto optional). */
export function xmlTrace(t: TraceRecord): string {
  const hops = t.hops.filter((h) => h.ip).map((h) => xmlElement('hop', { ttl: h.ttl, ipaddr: h.ip, rtt: rttText(h.rtt), host: h.host }));
  return xmlElement('trace', { port: t.port, proto: t.proto }, `\n${hops.map((h) => `${h}\n`).join('')}`);
}
