import type { AnyRecord, EndTrailer, ScanHeader } from '../records/index.js';
import { comparePorts, hasOpen, hostStatus, HostReports, isListed, isReportRecord, isUp, portKey, type HostReport } from './host-report.js';
import { jsonReplacer } from './out-jsonl.js';
import type { OutputFormat, ViewOptions } from './output-format.js';
import type { OutputSink } from './sink.js';
import { jsonScript, ScriptResults } from './out-script.js';
import { HostNames } from './host-names.js';

/** One host as JSON: every port (nothing collapsed: this is for machines), with its service. */
function hostObject(r: HostReport, view: ViewOptions, names: HostNames, scripts?: ScriptResults) {
  const st = hostStatus(r);
  const ports = [...r.ports].sort(comparePorts)
    .filter((p) => !view.openOnly || p.state === 'open' || p.state === 'open|filtered')
    .map((p) => {
      const svc = r.services.get(portKey(p.port, p.proto));
      const { type: _t, ip: _i, port: _p, proto: _pr, ...service } = svc ?? ({} as Record<string, unknown>);
      return {
        port: p.port, proto: p.proto, state: p.state, reason: p.reason, ttl: p.ttl, rtt: p.rtt, time: p.time,
        service: svc ? service : view.serviceName(p.port, p.proto) ? { name: view.serviceName(p.port, p.proto), method: 'table', conf: 3 } : null,
        ...(scripts ? { scripts: scripts.port(r.ip, p.port, p.proto).map(jsonScript) } : {}),
      };
    });
  return {
    ip: r.ip,
    hostname: r.host?.hostname ?? null,
    hostnames: names.of(r.ip, r.host),
    status: st.state,
    reason: st.reason,
    ports,
    os: r.os?.matches ?? [],
    // What the OS stage measured besides the matches (fingerprint, distance, sequences, …), when it ran.
    ...(r.os && osDetection(r.os) ? { osDetection: osDetection(r.os) } : {}),
    ...(scripts ? { hostscripts: scripts.host(r.ip).map(jsonScript) } : {}),
    ...(r.trace ? { trace: { port: r.trace.port ?? null, proto: r.trace.proto ?? null, hops: r.trace.hops, sharedWith: r.trace.sharedWith ?? null } } : {}),
  };
}

function osDetection(os: NonNullable<HostReport['os']>): Record<string, unknown> | undefined {
  const { type: _type, ip: _ip, matches: _matches, ...rest } = os;
  return Object.keys(rest).length ? rest : undefined;
}

/**
 * One JSON document (-oJ): { scan: header, hosts: [...], runstats: {...} }. Hosts are written
 * one by one into the array, so the document is never built whole in memory as a string.
 */
export function jsonFormat(sink: OutputSink, view: ViewOptions): OutputFormat {
  const reports = new HostReports({ memoryRecords: view.reportMemoryRecords });
  const scripts = new ScriptResults();
  let header: ScanHeader | undefined;
  const json = (v: unknown) => JSON.stringify(v, jsonReplacer);
  let names = new HostNames(undefined);
  return {
    async begin(h) {
      header = h;
      names = new HostNames(h);
      await sink.write(`{"scan":${json(h ?? null)},\n"hosts":[`);
    },
    async record(rec: AnyRecord) {
      if (isReportRecord(rec)) await reports.add(rec);
      else scripts.add(rec);
    },
    async end(trailer: EndTrailer | undefined) {
      let up = 0;
      let total = 0;
      let written = 0;
      for await (const r of reports.sorted()) {
        const isHostUp = isUp(r);
        if (isHostUp) up++;
        total++;
        if (!isHostUp && (view.verbose ?? 0) < 1 && !isListed(r)) continue;
        if (view.openOnly && !hasOpen(r)) continue;
        await sink.write(`${written++ > 0 ? ',' : ''}\n${json(hostObject(r, view, names, scripts))}`);
      }
      const runstats = {
        hosts: { up, down: total - up, total: Math.max(header?.plan?.hosts ?? 0, total) },
        elapsed: header && trailer ? (trailer.endTime - header.startTime) / 1000 : null,
        interrupted: !trailer || trailer.interrupted,
      };
      const prepost = scripts.pre.length + scripts.post.length > 0
        ? `\n"prescripts":${json(scripts.pre.map(jsonScript))},\n"postscripts":${json(scripts.post.map(jsonScript))},` : '';
      await sink.write(`\n],${prepost}\n"runstats":${json(runstats)},\n"trailer":${json(trailer ?? null)}}\n`);
    },
  };
}
