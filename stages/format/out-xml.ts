import { PRTIP_VERSION, type AnyRecord, type EndTrailer, type OsRecord, type PortRecord, type ScanHeader } from '../records/index.js';
import {
  CHECK_TEXT, doneSummary, hasOpen, shownWithOpen, hostStatus, HostReports, isListed, isReportRecord, isUp, portRanges, serviceFor, splitPorts, type HostReport,
} from './host-report.js';
import { ctime, elapsedSeconds } from './out-normal.js';
import type { OutputFormat, ViewOptions } from './output-format.js';
import type { OutputSink } from './sink.js';
import { xmlAttr, xmlElement, xmlText } from './xml-text.js';
import { ScriptResults, xmlScripts } from './out-script.js';
import { HostNames } from './host-names.js';
import { xmlTrace } from './out-trace.js';

/**
 * nmap.dtd has no attribute for a port's confidence and allows no extra ones, and the reason stays
 * the wire's (syn-ack): a port marked proxied carries a <script id="prtip-proxied"> (allowed under
 * <port>, shown by nmap readers) with the marks as <elem>s.
 */
function proxiedScript(p: PortRecord): string {
  if (p.proxied !== true) return '';
  const checked = p.check ? `a full handshake ${CHECK_TEXT[p.check]}` : 'not checked itself';
  const output = `SYN-ACK most likely from a SYN proxy, tarpit or answer-everything balancer (${checked}; confidence ${p.confidence ?? '?'}/10)`;
  const elems = [xmlElement('elem', { key: 'confidence' }, String(p.confidence ?? '')), ...(p.check ? [xmlElement('elem', { key: 'check' }, p.check)] : [])];
  return xmlElement('script', { id: 'prtip-proxied', output }, elems.join(''));
}

/** prtip scan type names → nmap.dtd's scan_types. */
const XML_SCAN_TYPE: Record<string, string> = {
  connect: 'connect', syn: 'syn', ack: 'ack', window: 'window', maimon: 'maimon', null: 'null', fin: 'fin',
  xmas: 'xmas', udp: 'udp', sctpinit: 'sctpinit', sctpcookieecho: 'sctpcookieecho', ipproto: 'ipproto',
  idle: '', // nmap writes no <scaninfo> for -sI: nmap.dtd has no idle type
};

/** nmap counts services in a port list ("1-3,80" → 4). */
function countPorts(list: string): number {
  if (!list) return 0;
  return list.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a! + 1);
  }, 0);
}

const epoch = (ms: number) => Math.floor(ms / 1000);

/** nmap's <times>: smoothed RTT, variance and timeout, in microseconds. */
function timesElement(ports: PortRecord[]): string | undefined {
  const rtts = ports.map((p) => p.rtt).filter((x): x is number => x !== null).map((ms) => ms * 1000);
  if (rtts.length === 0) return undefined;
  const mean = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  const dev = rtts.reduce((a, b) => a + Math.abs(b - mean), 0) / rtts.length;
  return xmlElement('times', {
    srtt: Math.round(mean), rttvar: Math.round(dev), to: Math.max(100000, Math.round(mean + 4 * dev)),
  });
}

/**
 * nmap's <os> (portused, osmatch with an osclass per Class, osfingerprint) and the host-level
 * uptime, distance, tcpsequence, ipidsequence and tcptssequence elements the OS stage measured.
 */
function osElements(os: OsRecord): string[] {
  const out: string[] = [];
  if (os.matches.length > 0 || os.portsUsed?.length || os.fingerprint) {
    const lines = ['<os>'];
    for (const u of os.portsUsed ?? []) lines.push(xmlElement('portused', { state: u.state, proto: u.proto, portid: u.port }));
    for (const m of os.matches) {
      const accuracy = Math.trunc(m.accuracy);
      const classes = m.classes ?? (m.vendor && m.osfamily
        ? [{ vendor: m.vendor, osfamily: m.osfamily, osgen: m.osgen, devicetype: m.devicetype ?? '', cpe: m.cpe ?? [] }]
        : []);
      const body = classes.map((c) => xmlElement('osclass', {
        type: c.devicetype || undefined, vendor: c.vendor, osfamily: c.osfamily, osgen: c.osgen, accuracy,
      }, c.cpe.length ? c.cpe.map((x) => `<cpe>${xmlText(x)}</cpe>`).join('') : undefined)).join('');
      lines.push(xmlElement('osmatch', { name: m.name, accuracy, line: m.line ?? 0 }, body || undefined));
    }
    if (os.fingerprint) lines.push(xmlElement('osfingerprint', { fingerprint: os.fingerprint }));
    lines.push('</os>');
    out.push(lines.join('\n'));
  }
  if (os.uptime) out.push(xmlElement('uptime', { seconds: Math.round(os.uptime.seconds), lastboot: ctime(os.uptime.lastboot * 1000) }));
  if (os.distance) out.push(xmlElement('distance', { value: os.distance.hops }));
  if (os.tcpSequence) {
    out.push(xmlElement('tcpsequence', { index: os.tcpSequence.index, difficulty: os.tcpSequence.difficulty, values: os.tcpSequence.values.join(',') }));
  }
  if (os.ipIdSequence) out.push(xmlElement('ipidsequence', { class: os.ipIdSequence.class, values: os.ipIdSequence.values.join(',') }));
  if (os.tcpTsSequence) out.push(xmlElement('tcptssequence', { class: os.tcpTsSequence.class, values: os.tcpTsSequence.values?.join(',') }));
  return out;
}

function hostElement(r: HostReport, view: ViewOptions, names: HostNames, scripts?: ScriptResults): string {
  const st = hostStatus(r);
  let first = Infinity;
  let last = -Infinity;
  // A listed host (-sL) was never scanned: no start and end times, as nmap.
  for (const t of isListed(r) ? [] : r.ports.map((p) => p.time).concat(r.host ? [r.host.time] : [])) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  const out: string[] = [];
  out.push(`<host${first !== Infinity ? ` starttime="${epoch(first)}" endtime="${epoch(last)}"` : ''}${r.host?.timedOut ? ' timedout="true"' : ''}>` +
    xmlElement('status', { state: st.state, reason: st.reason, reason_ttl: st.ttl }));
  out.push(xmlElement('address', { addr: r.ip, addrtype: r.ip.includes(':') ? 'ipv6' : 'ipv4' }));
  const known = names.of(r.ip, r.host);
  // A list scan's host without a name has no <hostnames> at all, as nmap -sL writes it.
  if (!isListed(r) || known.length > 0) out.push(`<hostnames>\n${known.map((n) => `${xmlElement('hostname', { name: n.name, type: n.type })}\n`).join('')}</hostnames>`);
  if (r.ports.length > 0) {
    const { shown, hidden } = splitPorts(r, { openOnly: false, showProxied: true });
    const lines: string[] = ['<ports>'];
    // nmap.dtd: one <extraports> per state, with <extrareasons> per reason (and protocol).
    const byState = new Map<string, typeof hidden>();
    for (const g of hidden) byState.set(g.state, [...(byState.get(g.state) ?? []), g]);
    for (const [state, groups] of byState) {
      const count = groups.reduce((n, g) => n + g.count, 0);
      lines.push(`<extraports state="${xmlAttr(state)}" count="${count}">`);
      for (const g of groups) {
        for (const [reason, ports] of g.reasons) {
          lines.push(xmlElement('extrareasons', { reason, count: ports.length, proto: g.proto, ports: portRanges(ports) }));
        }
      }
      lines.push('</extraports>');
    }
    const ports = view.openOnly ? shown.filter((p) => shownWithOpen(p, view)) : shown;
    for (const p of ports) {
      const { name, svc } = serviceFor(r, p, view);
      const state = xmlElement('state', { state: p.state, reason: p.reason, reason_ttl: p.ttl ?? 0 });
      let service = '';
      if (svc) {
        const cpes = (svc.cpe ?? []).map((c) => `<cpe>${xmlText(c)}</cpe>`).join('');
        const conf = Math.max(0, Math.min(10, Math.round(svc.conf)));
        // nmap's <service>: the name without "ssl/", the tunnel beside it; h/ o/ d/ of the match.
        service = xmlElement('service', {
          name: svc.name, product: svc.product, version: svc.version, extrainfo: svc.extrainfo,
          hostname: svc.hostname, ostype: svc.ostype, devicetype: svc.devicetype, tunnel: svc.tunnel,
          servicefp: svc.servicefp, method: svc.method === 'probed' ? 'probed' : 'table', conf,
        }, cpes || undefined);
      } else if (name) {
        // nmap rates a name from nmap-protocols (-sO) 8, one from nmap-services 3
        service = xmlElement('service', { name, method: 'table', conf: p.proto === 'ip' ? 8 : 3 });
      }
      const portScripts = proxiedScript(p) + (scripts ? xmlScripts(scripts.port(r.ip, p.port, p.proto)) : '');
      lines.push(`<port protocol="${p.proto}" portid="${p.port}">${state}${service}${portScripts}</port>`);
    }
    lines.push('</ports>');
    out.push(lines.join('\n'));
  }
  if (r.os) out.push(...osElements(r.os));
  const hostScripts = scripts?.host(r.ip) ?? [];
  if (hostScripts.length > 0) out.push(`<hostscript>${xmlScripts(hostScripts)}</hostscript>`);
  if (r.trace) out.push(xmlTrace(r.trace));
  const times = timesElement(r.ports);
  if (times) out.push(times);
  out.push('</host>');
  return `${out.join('\n')}\n`;
}

/**
 * Nmap XML (-oX), valid against the installed nmap.dtd, read by ndiff and Nmap-XML importers.
 * nmap.dtd allows only scanner="nmap", so prtip names itself in profile_name="prtip" and in a
 * comment; version is prtip's. Hosts that are down appear only with -v, as in nmap.
 */
export function xmlFormat(sink: OutputSink, view: ViewOptions): OutputFormat {
  const reports = new HostReports({ memoryRecords: view.reportMemoryRecords });
  const scripts = new ScriptResults();
  let header: ScanHeader | undefined;
  let names = new HostNames(undefined);
  return {
    async begin(h) {
      header = h;
      names = new HostNames(h);
      const start = h?.startTime ?? Date.now();
      const args = (h?.args ?? []).join(' | ');
      const lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE nmaprun>',
        '<?xml-stylesheet href="file:///usr/share/nmap/nmap.xsl" type="text/xsl"?>',
        `<!-- prtip ${PRTIP_VERSION} scan initiated ${ctime(start)} -->`,
        `${xmlElement('nmaprun', {
          scanner: 'nmap', args, start: epoch(start), startstr: ctime(start), version: h?.version ?? PRTIP_VERSION,
          profile_name: 'prtip', xmloutputversion: '1.05',
        }).slice(0, -2)}>`,
      ];
      const plan = h?.plan;
      const type = XML_SCAN_TYPE[h?.scanTypes?.[0] ?? 'connect'] ?? 'connect';
      // A list scan (-sL) scans no port: nmap writes no <scaninfo>.
      if (plan && h?.scanTypes?.[0] !== 'list') {
        for (const proto of ['tcp', 'udp', 'sctp', 'ip'] as const) {
          const list = plan.ports[proto];
          if (!list) continue;
          const sctpType = h?.scanTypes?.includes('sctpcookieecho') ? 'sctpcookieecho' : 'sctpinit';
          const protoType = proto === 'udp' ? 'udp' : proto === 'sctp' ? sctpType : proto === 'ip' ? 'ipproto' : type;
          if (protoType === '') continue;
          lines.push(xmlElement('scaninfo', { type: protoType, protocol: proto, numservices: countPorts(list), services: list }));
        }
      }
      lines.push(xmlElement('verbose', { level: view.verbose ?? 0 }), xmlElement('debugging', { level: 0 }));
      await sink.write(`${lines.join('\n')}\n`);
    },
    async record(rec: AnyRecord) {
      if (isReportRecord(rec)) await reports.add(rec);
      else scripts.add(rec);
    },
    async end(trailer: EndTrailer | undefined) {
      let up = 0;
      let down = 0;
      if (scripts.pre.length > 0) await sink.write(`<prescript>${xmlScripts(scripts.pre)}</prescript>\n`);
      for await (const r of reports.sorted()) {
        if (isUp(r)) up++;
        else {
          down++;
          if ((view.verbose ?? 0) < 1 && !isListed(r)) continue;
        }
        // --open: as nmap, a host without an open port is not reported (it still counts as up).
        if (view.openOnly && !hasOpen(r, view)) continue;
        await sink.write(hostElement(r, view, names, scripts));
      }
      if (scripts.post.length > 0) await sink.write(`<postscript>${xmlScripts(scripts.post)}</postscript>\n`);
      const total = Math.max(header?.plan?.hosts ?? 0, up + down);
      const end = trailer?.endTime ?? Date.now();
      const elapsed = elapsedSeconds(header, trailer);
      const interrupted = !trailer || trailer.interrupted;
      const summary = `prtip done at ${ctime(end)}; ${doneSummary(total, up, elapsed)}`;
      await sink.write(
        `<runstats>${xmlElement('finished', {
          time: epoch(end), timestr: ctime(end), summary, elapsed,
          exit: interrupted ? 'error' : 'success', errormsg: interrupted ? 'scan interrupted: results are partial' : undefined,
        })}${xmlElement('hosts', { up, down: total - up, total })}\n</runstats>\n</nmaprun>\n`,
      );
    },
  };
}
