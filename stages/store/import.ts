/**
 * `prtip db import`: Nmap XML (-oX) and masscan JSON (-oJ / -oD) become prtip records and go
 * through the store stage, so old scans from other tools are queried beside new ones. The scan
 * id is derived from the file's bytes: importing the same file twice is refused, not doubled.
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
const PROTOS = new Set<Proto>(['tcp', 'udp', 'sctp']);

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
  const plan = { tcp: '', udp: '', sctp: '' };
  let sawRoot = false;

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
          hdr = header('nmap', id, start, a.args ?? 'nmap', a.version);
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
          const st = status?.state;
          const host: HostRecord = {
            type: 'host', ip, state: st === 'up' || st === 'down' ? st : 'unknown', reason: status?.reason ?? '', time: hostTime,
          };
          if (hostname) host.hostname = hostname;
          records.push(host);
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

/** masscan -oJ (a JSON array, possibly with its trailing-comma quirks) or -oD (one object per line). */
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
  const records: AnyRecord[] = [];
  let first = Infinity;
  let last = 0;
  const up = new Map<string, number>();
  for (const item of items) {
    const o = item as { ip?: unknown; timestamp?: unknown; ports?: unknown };
    if (typeof o !== 'object' || o === null || typeof o.ip !== 'string' || !Array.isArray(o.ports)) continue;
    const time = (Number(o.timestamp) || 0) * 1000;
    if (time) { first = Math.min(first, time); last = Math.max(last, time); }
    for (const raw of o.ports as Array<Record<string, unknown>>) {
      const port = Number(raw.port);
      const proto = String(raw.proto ?? 'tcp') as Proto;
      if (!Number.isInteger(port) || port < 0 || port > 65535 || !PROTOS.has(proto)) continue;
      if (raw.service && typeof raw.service === 'object') {
        const s = raw.service as { name?: unknown; banner?: unknown };
        records.push({
          type: 'service', ip: o.ip, port, proto, name: String(s.name ?? 'unknown'), method: 'probed', conf: 5,
          ...(s.banner !== undefined ? { banner: String(s.banner) } : {}),
        });
        continue;
      }
      const state = String(raw.status ?? 'open') as PortState;
      if (!PORT_STATES.has(state)) continue;
      records.push({
        type: 'port', ip: o.ip, port, proto, state, reason: String(raw.reason ?? ''),
        ttl: raw.ttl === undefined ? null : Number(raw.ttl), rtt: null, time,
      });
      if (state === 'open' || state === 'closed') up.set(o.ip, time);
    }
  }
  for (const [ip, time] of up) records.push({ type: 'host', ip, state: 'up', reason: 'port-response', time });
  const start = first === Infinity ? 0 : first;
  return {
    header: header('masscan', id, start, 'masscan'),
    records,
    trailer: { type: 'end', endTime: last || start, interrupted: false, counters: {} },
  };
}

/** Imports one file into the database; returns the new scan id and how many rows. */
export async function importFile(db: Database, file: string, format?: 'nmap-xml' | 'masscan-json'): Promise<{ scanId: string; source: string; records: number }> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new UserInputError(`cannot read "${file}": ${(err as Error).message}`);
  }
  const text = bytes.toString('utf8');
  const kind = format ?? (/^\s*(<\?xml|<!DOCTYPE nmaprun|<nmaprun)/.test(text) ? 'nmap-xml' : /^\s*[[{]/.test(text) ? 'masscan-json' : undefined);
  if (!kind) throw new UserInputError(`"${file}" is neither Nmap XML nor masscan JSON`);
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const id = `${kind === 'nmap-xml' ? 'nmap' : 'masscan'}-${digest}`;
  if (Number(await scalar(db.conn, 'SELECT count(*) FROM scans WHERE scan_id = $1', [id])) > 0) {
    throw new UserInputError(`"${file}" is already in the database as scan ${id}`);
  }
  const parsed = kind === 'nmap-xml' ? parseNmapXml(text, file, id) : parseMasscanJson(text, file, id);
  const stage = storeRecords({ path: '', db, source: kind });
  async function* all(): AsyncGenerator<AnyRecord> {
    yield parsed.header;
    yield* parsed.records;
    yield parsed.trailer;
  }
  for await (const _ of stage(all())) { /* drain */ }
  return { scanId: id, source: kind, records: parsed.records.length };
}
