/**
 * `prtip db import`: other tools' files become prtip records and go through the store stage, so
 * old scans are queried beside new ones. What a file is comes from its content (see
 * detectImportFormat): Nmap XML (-oX, also prtip's own), masscan's -oX, -oJ, -oD and -oL as
 * masscan writes them, prtip's -oJ and -oD. The scan id is derived from the file's bytes:
 * importing the same file twice is refused, not doubled; a file that yields no row is an error
 * unless the caller allows it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import {
  SCHEMA_VERSION, UserInputError, type AnyRecord, type EndTrailer, type HostRecord, type OsMatch, type PortRecord,
  type PortState, type Proto, type ScanHeader, type ServiceRecord,
} from '../records/index.js';
import { scalar, type Database } from './db.js';
import { storeRecords } from './index.js';

const PORT_STATES = new Set<PortState>(['open', 'closed', 'filtered', 'unfiltered', 'open|filtered', 'closed|filtered']);
const PROTOS = new Set<Proto>(['tcp', 'udp', 'sctp', 'ip']);

interface Imported {
  header: ScanHeader;
  records: AnyRecord[];
  trailer: EndTrailer;
}

function header(source: string, id: string, startTime: number, args: string, version?: string): ScanHeader {
  return {
    type: 'scan', schema: SCHEMA_VERSION, tool: source as 'prtip', version: version ?? '', scanId: id, args: [args], startTime,
  };
}

// ---- a small XML reader: elements, attributes, text; enough for Nmap's XML (no DTD processing) ----

interface XmlEvent {
  kind: 'open' | 'close' | 'text';
  name: string;
  attrs: Record<string, string>;
  selfClosing?: boolean;
  text?: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return safeCodePoint(parseInt(e.slice(2), 16)) ?? m;
    if (e.startsWith('#')) return safeCodePoint(parseInt(e.slice(1), 10)) ?? m;
    return ENTITIES[e] ?? m;
  });
}

function safeCodePoint(n: number): string | undefined {
  return Number.isInteger(n) && n >= 0 && n <= 0x10ffff ? String.fromCodePoint(n) : undefined;
}

const TOKEN = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/gy;
const ATTR = /([^\s=>/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

export function* xmlEvents(text: string, source: string): Generator<XmlEvent> {
  TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (TOKEN.lastIndex < text.length && (m = TOKEN.exec(text)) !== null) {
    if (m[7] !== undefined) {
      throw new UserInputError(`${source}: not well-formed XML near byte ${m.index}: "${text.slice(m.index, m.index + 40)}"`);
    }
    if (m[1] !== undefined) yield { kind: 'text', name: '', attrs: {}, text: m[1] };
    else if (m[6] !== undefined) yield { kind: 'text', name: '', attrs: {}, text: decodeEntities(m[6]) };
    else if (m[3] !== undefined) {
      const attrs: Record<string, string> = {};
      for (const a of m[4]!.matchAll(ATTR)) attrs[a[1]!] = decodeEntities(a[2] ?? a[3] ?? '');
      if (m[2] === '/') yield { kind: 'close', name: m[3], attrs };
      else {
        yield { kind: 'open', name: m[3], attrs, selfClosing: m[5] === '/' };
        if (m[5] === '/') yield { kind: 'close', name: m[3], attrs: {} };
      }
    }
  }
  if (TOKEN.lastIndex < text.length && TOKEN.lastIndex !== 0) {
    throw new UserInputError(`${source}: not well-formed XML at byte ${TOKEN.lastIndex}`);
  }
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Expands nmap port lists ("1-3,80") from <extrareasons ports=…>. */
function expandPorts(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map((x) => Number(x));
    if (!Number.isInteger(a) || a! < 0 || a! > 65535) continue;
    const end = b === undefined ? a! : Math.min(65535, b);
    for (let p = a!; p <= end; p++) out.push(p);
  }
  return out;
}

/** Nmap XML → records. Hosts' extraports with a ports list become port records too. */
export function parseNmapXml(text: string, source: string, id: string): Imported {
  let hdr: ScanHeader | undefined;
  const records: AnyRecord[] = [];
  let endTime: number | undefined;
  let exitError = false;
  // host state
  let inHost = false;
  let hostTime = 0;
  let status: { state: string; reason: string } | undefined;
  let addrs: string[] = [];
  let hostname: string | undefined;
  let ports: PortRecord[] = [];
  let services: ServiceRecord[] = [];
  let matches: OsMatch[] = [];
  let currentPort: PortRecord | undefined;
  let currentService: ServiceRecord | undefined;
  let currentMatch: OsMatch | undefined;
  let cpeTarget: string[] | undefined;
  let cpeText = '';
  let extraState: string | undefined;
  const plan: Record<Proto, string> = { tcp: '', udp: '', sctp: '', ip: '' };
  let sawRoot = false;
  const hostsByIp = new Map<string, HostRecord>();

  for (const ev of xmlEvents(text, source)) {
    if (ev.kind === 'text') {
      if (cpeTarget) cpeText += ev.text;
      continue;
    }
    const a = ev.attrs;
    if (ev.kind === 'open') {
      switch (ev.name) {
        case 'nmaprun': {
          sawRoot = true;
          const start = (num(a.start) ?? 0) * 1000;
          const tool = a.scanner === 'masscan' ? 'masscan' : a.profile_name === 'prtip' ? 'prtip' : 'nmap';
          hdr = header(tool, id, start, a.args ?? tool, a.version);
          break;
        }
        case 'scaninfo':
          if (a.protocol && PROTOS.has(a.protocol as Proto)) plan[a.protocol as Proto] = a.services ?? '';
          break;
        case 'host':
          inHost = true;
          hostTime = (num(a.endtime) ?? num(a.starttime) ?? 0) * 1000 || (hdr?.startTime ?? 0);
          status = undefined; addrs = []; hostname = undefined; ports = []; services = []; matches = [];
          break;
        case 'status':
          if (inHost) status = { state: a.state ?? 'unknown', reason: a.reason ?? '' };
          break;
        case 'address':
          if (inHost && a.addr && (a.addrtype ?? 'ipv4') !== 'mac') addrs.push(a.addr);
          break;
        case 'hostname':
          if (inHost && a.name && !hostname) hostname = a.name;
          break;
        case 'extraports':
          extraState = a.state;
          break;
        case 'extrareasons':
          if (inHost && extraState && a.ports && PORT_STATES.has(extraState as PortState)) {
            const proto = (a.proto ?? 'tcp') as Proto;
            if (PROTOS.has(proto)) {
              for (const p of expandPorts(a.ports)) {
                ports.push({ type: 'port', ip: '', port: p, proto, state: extraState as PortState, reason: a.reason ?? '', ttl: null, rtt: null, time: hostTime });
              }
            }
          }
          break;
        case 'port': {
          const p = num(a.portid);
          const proto = a.protocol as Proto;
          currentPort = p !== undefined && Number.isInteger(p) && p >= 0 && p <= 65535 && PROTOS.has(proto)
            ? { type: 'port', ip: '', port: p, proto, state: 'filtered', reason: '', ttl: null, rtt: null, time: hostTime }
            : undefined;
          break;
        }
        case 'state':
          if (currentPort && PORT_STATES.has(a.state as PortState)) {
            currentPort.state = a.state as PortState;
            currentPort.reason = a.reason ?? '';
            currentPort.ttl = num(a.reason_ttl) ?? null;
          }
          break;
        case 'service':
          if (currentPort) {
            currentService = {
              type: 'service', ip: '', port: currentPort.port, proto: currentPort.proto, name: a.name ?? 'unknown',
              product: a.product, version: a.version, extrainfo: a.extrainfo,
              method: a.method === 'probed' ? 'probed' : 'table', conf: num(a.conf) ?? 0,
            };
            if (a.tunnel === 'ssl') currentService.tunnel = 'ssl';
            if (a.hostname) currentService.hostname = a.hostname;
            if (a.ostype) currentService.ostype = a.ostype;
            if (a.devicetype) currentService.devicetype = a.devicetype;
            if (a.banner !== undefined) currentService.banner = a.banner; // masscan -oX --banners
          }
          break;
        case 'osmatch':
          currentMatch = { name: a.name ?? '', accuracy: num(a.accuracy) ?? 0 };
          break;
        case 'osclass':
          if (currentMatch && !currentMatch.vendor) {
            currentMatch.vendor = a.vendor; currentMatch.osfamily = a.osfamily; currentMatch.osgen = a.osgen; currentMatch.devicetype = a.type;
          }
          break;
        case 'cpe':
          cpeTarget = currentService ? (currentService.cpe ??= []) : currentMatch ? (currentMatch.cpe ??= []) : undefined;
          cpeText = '';
          break;
        case 'finished':
          endTime = (num(a.time) ?? 0) * 1000;
          exitError = a.exit === 'error';
          break;
        default:
          break;
      }
    } else {
      switch (ev.name) {
        case 'cpe':
          if (cpeTarget) cpeTarget.push(cpeText.trim());
          cpeTarget = undefined;
          break;
        case 'service':
          if (currentService) services.push(currentService);
          currentService = undefined;
          break;
        case 'port':
          if (currentPort) ports.push(currentPort);
          currentPort = undefined;
          break;
        case 'extraports':
          extraState = undefined;
          break;
        case 'osmatch':
          if (currentMatch) matches.push(currentMatch);
          currentMatch = undefined;
          break;
        case 'host': {
          inHost = false;
          const ip = addrs[0];
          if (!ip) break;
          // masscan's -oX has no <status>: a host that answered on a port is up.
          const answered = ports.find((p) => p.state === 'open' || p.state === 'closed' || p.state === 'unfiltered');
          const st = status?.state ?? (answered ? 'up' : undefined);
          const reason = status?.reason ?? answered?.reason ?? '';
          // masscan writes one <host> per port: one host record per address (up wins).
          const seen = hostsByIp.get(ip);
          if (seen) {
            if (seen.state !== 'up' && st === 'up') Object.assign(seen, { state: 'up', reason });
            if (hostname && !seen.hostname) seen.hostname = hostname;
          } else {
            const host: HostRecord = {
              type: 'host', ip, state: st === 'up' || st === 'down' ? st : 'unknown', reason, time: hostTime,
            };
            if (hostname) host.hostname = hostname;
            hostsByIp.set(ip, host);
            records.push(host);
          }
          for (const p of ports) records.push({ ...p, ip });
          for (const s of services) records.push({ ...s, ip });
          if (matches.length) records.push({ type: 'os', ip, matches });
          break;
        }
        default:
          break;
      }
    }
  }
  if (!sawRoot || !hdr) throw new UserInputError(`${source}: not Nmap XML (no <nmaprun> element)`);
  hdr.plan = undefined;
  if (plan.tcp || plan.udp || plan.sctp) {
    hdr.plan = {
      hosts: records.filter((r) => r.type === 'host').length, portsPerHost: 0, probes: 0, shardProbes: 0, ports: plan, seed: 0,
      shard: { index: 1, count: 1 },
    };
  }
  const trailer: EndTrailer = { type: 'end', endTime: endTime ?? hdr.startTime, interrupted: exitError || endTime === undefined, counters: {} };
  return { header: hdr, records, trailer };
}


function timeOf(v: unknown): number {
  return (Number(v) || 0) * 1000;
}

/** Collects port and banner records from masscan's JSON forms, and derives its host records. */
class MasscanRecords {
  readonly records: AnyRecord[] = [];
  private first = Infinity;
  private last = 0;
  private readonly up = new Map<string, { time: number; reason: string }>();

  private stamp(time: number): void {
    if (!time) return;
    this.first = Math.min(this.first, time);
    this.last = Math.max(this.last, time);
  }

  port(ip: string, raw: Record<string, unknown>, time: number): void {
    const port = Number(raw.port);
    const proto = String(raw.proto ?? 'tcp') as Proto;
    if (!Number.isInteger(port) || port < 0 || port > 65535 || !PROTOS.has(proto)) return;
    this.stamp(time);
    const state = String(raw.status ?? 'open') as PortState;
    if (!PORT_STATES.has(state)) return;
    const reason = String(raw.reason ?? '');
    this.records.push({ type: 'port', ip, port, proto, state, reason, ttl: raw.ttl === undefined ? null : Number(raw.ttl), rtt: null, time });
    if ((state === 'open' || state === 'closed') && !this.up.has(ip)) this.up.set(ip, { time, reason });
  }

  banner(ip: string, port: number, proto: string, name: unknown, banner: unknown, time: number): void {
    if (!Number.isInteger(port) || port < 0 || port > 65535 || !PROTOS.has(proto as Proto)) return;
    this.stamp(time);
    this.records.push({
      type: 'service', ip, port, proto: proto as Proto, name: String(name ?? 'unknown'), method: 'probed', conf: 5,
      ...(banner !== undefined ? { banner: String(banner) } : {}),
    });
  }

  finish(id: string): Imported {
    for (const [ip, h] of this.up) this.records.push({ type: 'host', ip, state: 'up', reason: h.reason || 'port-response', time: h.time });
    const start = this.first === Infinity ? 0 : this.first;
    return {
      header: header('masscan', id, start, 'masscan'),
      records: this.records,
      trailer: { type: 'end', endTime: this.last || start, interrupted: false, counters: {} },
    };
  }
}

/** One masscan JSON object: -oJ's {ip, timestamp, ports: [...]}, or -oD's flat {ip, port, proto, rec_type, data}. */
function masscanItem(m: MasscanRecords, item: unknown): void {
  if (typeof item !== 'object' || item === null) return;
  const o = item as Record<string, unknown>;
  if (typeof o.ip !== 'string') return;
  const time = timeOf(o.timestamp);
  if (Array.isArray(o.ports)) {
    for (const raw of o.ports as Array<Record<string, unknown>>) {
      if (raw.service && typeof raw.service === 'object') {
        const s = raw.service as { name?: unknown; banner?: unknown };
        m.banner(o.ip, Number(raw.port), String(raw.proto ?? 'tcp'), s.name, s.banner, time);
      } else m.port(o.ip, raw, time);
    }
    return;
  }
  const data = (typeof o.data === 'object' && o.data !== null ? o.data : {}) as Record<string, unknown>;
  if (o.rec_type === 'status') m.port(o.ip, { port: o.port, proto: o.proto, ...data }, time);
  else if (o.rec_type === 'banner') m.banner(o.ip, Number(o.port), String(o.proto ?? 'tcp'), data.service_name, data.banner, time);
}

/** masscan -oJ (a JSON array, with its trailing-comma quirks) or -oD (one object per line). */
export function parseMasscanJson(text: string, source: string, id: string): Imported {
  let items: unknown[];
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('[')) {
      const lenient = trimmed.replace(/\{\s*finished\s*:\s*1\s*\}\s*,?/g, '').replace(/,\s*\]\s*$/, ']');
      items = JSON.parse(lenient) as unknown[];
    } else {
      items = trimmed.split('\n').filter((l) => l.trim() && l.trim() !== ',').map((l) => JSON.parse(l.replace(/,\s*$/, '')) as unknown);
    }
  } catch (err) {
    throw new UserInputError(`${source}: not masscan JSON: ${(err as Error).message}`);
  }
  const m = new MasscanRecords();
  for (const item of items) masscanItem(m, item);
  return m.finish(id);
}

/** masscan -oL: "open tcp 22 198.18.0.2 1796117846" lines, "banner tcp 22 IP TIME service text" lines, # comments. */
export function parseMasscanList(text: string, source: string, id: string): Imported {
  const m = new MasscanRecords();
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(' ');
    if (f[0] === 'banner' && f.length >= 6) {
      m.banner(f[3]!, Number(f[2]), f[1]!, f[5], f.slice(6).join(' ') || undefined, timeOf(f[4]));
      continue;
    }
    if (f.length < 5 || !PORT_STATES.has(f[0] as PortState)) {
      throw new UserInputError(`${source}:${k + 1}: not a masscan -oL line: "${line.slice(0, 60)}"`);
    }
    m.port(f[3]!, { status: f[0], proto: f[1], port: f[2] }, timeOf(f[4]));
  }
  return m.finish(id);
}

/** The fields of a prtip record, checked enough that a hand-edited file cannot store nonsense. */
function prtipRecord(o: Record<string, unknown>): AnyRecord | undefined {
  const ip = o.ip;
  if (typeof ip !== 'string') return undefined;
  if (o.type === 'port') {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 || !PROTOS.has(o.proto as Proto) || !PORT_STATES.has(o.state as PortState)) return undefined;
    return {
      type: 'port', ip, port, proto: o.proto as Proto, state: o.state as PortState, reason: String(o.reason ?? ''),
      ttl: typeof o.ttl === 'number' ? o.ttl : null, rtt: typeof o.rtt === 'number' ? o.rtt : null, time: Number(o.time) || 0,
    };
  }
  if (o.type === 'host' || o.type === 'service' || o.type === 'os') return o as AnyRecord;
  return undefined;
}

function prtipHeader(h: unknown, id: string, source: string): ScanHeader {
  const o = (typeof h === 'object' && h !== null ? h : {}) as Partial<ScanHeader>;
  const hdr = header('prtip', id, Number(o.startTime) || 0, Array.isArray(o.args) ? o.args.join(' | ') : source, o.version);
  if (o.plan && typeof o.plan === 'object') hdr.plan = o.plan;
  return hdr;
}

function prtipTrailer(t: unknown, start: number): EndTrailer {
  const o = (typeof t === 'object' && t !== null ? t : {}) as Partial<EndTrailer>;
  return { type: 'end', endTime: Number(o.endTime) || start, interrupted: o.interrupted !== false, counters: {} };
}

/** prtip -oD: one record per line, with the records' own fields. */
export function parsePrtipJsonLines(text: string, source: string, id: string): Imported {
  let hdr: unknown;
  let end: unknown;
  const records: AnyRecord[] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!.trim();
    if (line === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new UserInputError(`${source}:${k + 1}: not JSON: ${(err as Error).message}`);
    }
    if (o.type === 'scan') hdr = o;
    else if (o.type === 'end') end = o;
    else {
      const r = prtipRecord(o);
      if (r) records.push(r);
    }
  }
  const h = prtipHeader(hdr, id, source);
  return { header: h, records, trailer: prtipTrailer(end, h.startTime) };
}

/** prtip -oJ: { scan, hosts: [{ ip, hostname, status, reason, ports: [{…, service}], os }], runstats, trailer }. */
export function parsePrtipJson(text: string, source: string, id: string): Imported {
  let doc: { scan?: unknown; hosts?: unknown; trailer?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (err) {
    throw new UserInputError(`${source}: not JSON: ${(err as Error).message}`);
  }
  const h = prtipHeader(doc.scan, id, source);
  const records: AnyRecord[] = [];
  for (const raw of Array.isArray(doc.hosts) ? doc.hosts as Array<Record<string, unknown>> : []) {
    const ip = raw.ip;
    if (typeof ip !== 'string') continue;
    const ports = Array.isArray(raw.ports) ? raw.ports as Array<Record<string, unknown>> : [];
    const time = ports.reduce((m, p) => Math.max(m, Number(p.time) || 0), 0) || h.startTime;
    const st = raw.status === 'up' || raw.status === 'down' ? raw.status : 'unknown';
    records.push({ type: 'host', ip, state: st, reason: String(raw.reason ?? ''), ...(typeof raw.hostname === 'string' ? { hostname: raw.hostname } : {}), time });
    for (const p of ports) {
      const rec = prtipRecord({ ...p, type: 'port', ip });
      if (!rec) continue;
      records.push(rec);
      if (p.service && typeof p.service === 'object') {
        const s = p.service as Record<string, unknown>;
        if (typeof s.name === 'string') {
          records.push({ ...s, type: 'service', ip, port: (rec as PortRecord).port, proto: (rec as PortRecord).proto, name: s.name, method: s.method === 'probed' ? 'probed' : 'table', conf: Number(s.conf) || 0 } as ServiceRecord);
        }
      }
    }
    if (Array.isArray(raw.os) && raw.os.length > 0) records.push({ type: 'os', ip, matches: raw.os as OsMatch[] });
  }
  return { header: h, records, trailer: prtipTrailer(doc.trailer, h.startTime) };
}

export const IMPORT_FORMATS = ['nmap-xml', 'masscan-xml', 'masscan-json', 'masscan-ndjson', 'masscan-list', 'prtip-json', 'prtip-jsonl'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/**
 * What a file is, from its first bytes: an <nmaprun> document (nmap's, prtip's, or masscan's
 * when scanner="masscan"), a JSON array (masscan -oJ), JSON lines (prtip -oD when the first
 * object is a prtip record, else masscan -oD), one JSON object with "hosts" (prtip -oJ), or
 * masscan's list format (-oL).
 */
export function detectImportFormat(text: string): ImportFormat | undefined {
  const head = text.slice(0, 4096).replace(/^\ufeff/, '');
  const lead = head.trimStart();
  if (/^(<\?xml|<!DOCTYPE nmaprun|<!--|<nmaprun)/.test(lead)) {
    const root = /<nmaprun\b[^>]*>/.exec(head)?.[0];
    if (!root) return /<nmaprun\b/.test(text) ? 'nmap-xml' : undefined;
    return /\bscanner="masscan"/.test(root) ? 'masscan-xml' : 'nmap-xml';
  }
  if (lead.startsWith('[')) return 'masscan-json';
  if (lead.startsWith('{')) {
    const firstLine = lead.split('\n', 1)[0]!.trim();
    try {
      const o = JSON.parse(firstLine) as Record<string, unknown>;
      return o.type === 'scan' || (typeof o.type === 'string' && o.tool === 'prtip') ? 'prtip-jsonl' : 'masscan-ndjson';
    } catch {
      // Not one object per line: prtip's -oJ document starts with {"scan":
      return /^\{\s*"scan"\s*:/.test(lead) ? 'prtip-json' : undefined;
    }
  }
  if (lead.startsWith('#masscan') || /^(open|closed) (tcp|udp|sctp) \d+ \S+ \d+/.test(lead)) return 'masscan-list';
  return undefined;
}

const PARSERS: Record<ImportFormat, (text: string, source: string, id: string) => Imported> = {
  'nmap-xml': parseNmapXml,
  'masscan-xml': parseNmapXml,
  'masscan-json': parseMasscanJson,
  'masscan-ndjson': parseMasscanJson,
  'masscan-list': parseMasscanList,
  'prtip-json': parsePrtipJson,
  'prtip-jsonl': parsePrtipJsonLines,
};

export interface ImportOptions {
  /** Skip detection: the file is this format. */
  format?: ImportFormat;
  /** Store a file that yields no host, port, service or OS row (else it is an error). */
  allowEmpty?: boolean;
}

/** Imports one file into the database; returns the new scan id, the detected format, rows and open ports. */
export async function importFile(db: Database, file: string, options: ImportOptions | ImportFormat = {}): Promise<{ scanId: string; source: string; records: number; open: number }> {
  const opts: ImportOptions = typeof options === 'string' ? { format: options } : options;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new UserInputError(`cannot read "${file}": ${(err as Error).message}`);
  }
  const text = bytes.toString('utf8');
  const kind = opts.format ?? detectImportFormat(text);
  if (!kind) {
    throw new UserInputError(`"${file}" is not a format prtip imports (Nmap or prtip -oX, masscan -oX/-oJ/-oD/-oL, prtip -oJ/-oD)`);
  }
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const id = `${kind.split('-')[0]}-${digest}`;
  if (Number(await scalar(db.conn, 'SELECT count(*) FROM scans WHERE scan_id = $1', [id])) > 0) {
    throw new UserInputError(`"${file}" is already in the database as scan ${id}`);
  }
  const parsed = PARSERS[kind](text, file, id);
  if (parsed.records.length === 0 && !opts.allowEmpty) {
    throw new UserInputError(`"${file}" (${kind}) holds no hosts or ports: nothing imported (--allow-empty stores it as an empty scan)`);
  }
  const stage = storeRecords({ path: '', db, source: kind });
  async function* all(): AsyncGenerator<AnyRecord> {
    yield parsed.header;
    yield* parsed.records;
    yield parsed.trailer;
  }
  for await (const _ of stage(all())) { /* drain */ }
  const open = parsed.records.filter((r) => r.type === 'port' && (r as PortRecord).state === 'open').length;
  return { scanId: id, source: kind, records: parsed.records.length, open };
}
