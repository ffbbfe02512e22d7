import type { AnyRecord, EndTrailer, ScanHeader } from '../records/index.js';
import { doneSummary, hasOpen, HostReports, isListed, isUp, oneLine, serviceFor, splitPorts, versionText, type HostReport } from './host-report.js';
import { ctime, elapsedSeconds, initiatedComment } from './out-normal.js';
import type { OutputFormat, ViewOptions } from './output-format.js';
import type { OutputSink } from './sink.js';

/** A field inside a port entry: one line, and no "/" or "," (which separate fields and entries). */
const field = (s: string | undefined) => oneLine(s ?? '').replace(/\//g, '|').replace(/,/g, ';');

/**
 * nmap's grepable OS fields: `OS:` lists the perfect matches (`|` between them) — guesses are not
 * printed — then `Seq Index:` and `IP ID Seq:`. A record without the OS stage's `perfect` flag
 * (imported) shows its first match.
 */
function osFields(os: NonNullable<HostReport['os']>): string {
  let s = '';
  if (os.perfect === undefined) {
    if (os.matches[0]) s += `\tOS: ${field(os.matches[0].name)}`;
    return s;
  }
  const perfect = os.matches.filter((m) => m.accuracy >= 100);
  if (os.perfect && perfect.length > 0 && perfect.length <= 8) s += `\tOS: ${perfect.map((m) => field(m.name)).join('|')}`;
  if (os.tcpSequence) s += `\tSeq Index: ${os.tcpSequence.index}`;
  if (os.ipIdSequence) s += `\tIP ID Seq: ${os.ipIdSequence.class}`;
  return s;
}

function hostLines(r: HostReport, view: ViewOptions): string {
  const name = r.host?.hostname ? field(r.host.hostname).replace(/[()]/g, '') : '';
  const who = `Host: ${r.ip} (${name})`;
  if (isListed(r)) return `${who}\tStatus: Unknown\n`;
  const up = isUp(r);
  const lines = [`${who}\tStatus: ${up ? 'Up' : 'Down'}`];
  if (!up) return `${lines[0]}\n`;
  const { shown, hidden } = splitPorts(r, view);
  const listed = view.openOnly ? shown.filter((p) => p.state === 'open' || p.state === 'open|filtered') : shown;
  if (r.ports.length > 0) {
    // port/state/protocol/owner/service/rpc info/version/
    const entries = listed.map((p) => {
      const { name: svcName, svc } = serviceFor(r, p, view);
      // nmap writes a service found in TLS as "ssl|http" (the "/" of ssl/http is a field separator).
      const shown = svc?.tunnel === 'ssl' ? `ssl|${field(svcName)}` : field(svcName);
      // -sO: nmap's "Protocols: 1/open/icmp/" (protocol/state/name/)
      if (p.proto === 'ip') return `${p.port}/${p.state}/${field(svcName)}/`;
      return `${p.port}/${p.state}/${p.proto}//${shown}//${field(versionText(svc))}/`;
    });
    let line = `${who}\t${listed.length > 0 && listed.every((p) => p.proto === 'ip') ? 'Protocols' : 'Ports'}: ${entries.join(', ')}`;
    const ignored = hidden[0];
    if (ignored) {
      const count = hidden.filter((g) => g.state === ignored.state).reduce((n, g) => n + g.count, 0);
      line += `\tIgnored State: ${ignored.state} (${count})`;
    }
    if (r.os) line += osFields(r.os);
    lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}

/** Grepable output (-oG): nmap's one-line-per-host layout. Down hosts appear with -v. */
export function grepableFormat(sink: OutputSink, view: ViewOptions): OutputFormat {
  const reports = new HostReports({ memoryRecords: view.reportMemoryRecords });
  let header: ScanHeader | undefined;
  return {
    async begin(h) {
      header = h;
      await sink.write(initiatedComment(h));
    },
    async record(rec: AnyRecord) {
      await reports.add(rec);
    },
    async end(trailer: EndTrailer | undefined) {
      let up = 0;
      let seen = 0;
      for await (const r of reports.sorted()) {
        seen++;
        if (isUp(r)) up++;
        else if ((view.verbose ?? 0) < 1 && !isListed(r)) continue;
        if (view.openOnly && !hasOpen(r)) continue; // --open: hosts with an open port only, as nmap
        await sink.write(hostLines(r, view));
      }
      const total = header?.plan?.hosts ?? seen;
      const done = doneSummary(total, up, elapsedSeconds(header, trailer));
      const note = !trailer || trailer.interrupted ? ' (interrupted: partial results)' : '';
      await sink.write(`# prtip done at ${ctime(trailer?.endTime ?? Date.now())} -- ${done}${note}\n`);
    },
  };
}
