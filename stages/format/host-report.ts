import type { AnyRecord, HandshakeCheck, HostRecord, MiddleboxNote, OsRecord, PortRecord, ServiceRecord, TraceRecord } from '../records/index.js';
import { ipKey, SortedSpill, type SpillOptions } from '../spill/index.js';
import type { ViewOptions } from './output-format.js';

/** Everything the report knows about one host, gathered from its records. */
export interface HostReport {
  ip: string;
  host?: HostRecord;
  ports: PortRecord[];
  services: Map<string, ServiceRecord>;
  os?: OsRecord;
  trace?: TraceRecord;
}

export const portKey = (port: number, proto: string): string => `${port}/${proto}`;

/** Sort key for addresses: IPv4 numerically, then IPv6 by their expanded text. */
export function compareIps(a: string, b: string): number {
  const fa = a.includes(':') ? 6 : 4;
  const fb = b.includes(':') ? 6 : 4;
  if (fa !== fb) return fa - fb;
  if (fa === 4) {
    const n = (ip: string) => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    return n(a) - n(b);
  }
  return expandV6(a) < expandV6(b) ? -1 : expandV6(a) > expandV6(b) ? 1 : 0;
}

function expandV6(ip: string): string {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const fill = ip.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((w) => w.padStart(4, '0')).join(':');
}

const PROTO_ORDER: Record<string, number> = { tcp: 0, udp: 1, sctp: 2, ip: 3 };

export function comparePorts(a: PortRecord, b: PortRecord): number {
  return (PROTO_ORDER[a.proto] ?? 9) - (PROTO_ORDER[b.proto] ?? 9) || a.port - b.port;
}

/**
 * The services of a host without any (most hosts of a sweep): one shared empty map, not one per
 * host. Only HostReports fills reports' maps, and it swaps this one for a new map first.
 */
const NO_SERVICES: Map<string, ServiceRecord> = new Map();

type ReportRecord = PortRecord | HostRecord | ServiceRecord | OsRecord | TraceRecord;
const REPORT_KINDS = new Set(['port', 'host', 'service', 'os', 'trace']);

/** A record HostReports takes (the others — scripts, status — go elsewhere). */
export function isReportRecord(rec: AnyRecord): boolean {
  return REPORT_KINDS.has(rec.type) && typeof (rec as { ip?: unknown }).ip === 'string';
}

/**
 * Collects records per host in bounded memory: they are sorted by address (spilling sorted runs
 * to disk past `memoryRecords`, stages/spill) and come back one host at a time, in address
 * order — so a /8 sweep or -p- over many hosts holds one host's report at a time, not the scan.
 */
export class HostReports {
  private readonly spill: SortedSpill<ReportRecord>;

  constructor(opts: SpillOptions = {}) {
    // Host, then its records in arrival order (stable sort): a later service record wins, as before.
    this.spill = new SortedSpill<ReportRecord>((r) => ipKey(r.ip), opts);
  }

  /** Takes a record of a kind reports use; a promise only while a sorted run is spilled (await it). */
  add(rec: AnyRecord): Promise<void> | undefined {
    if (!REPORT_KINDS.has(rec.type) || typeof (rec as { ip?: unknown }).ip !== 'string') return undefined;
    return this.spill.add(rec as ReportRecord);
  }

  /** Sorted runs on disk (for tests and counters). */
  get runs(): number {
    return this.spill.runs;
  }

  /** One report per host, in address order. */
  async *sorted(): AsyncGenerator<HostReport, void, undefined> {
    yield* this.sortedSync();
  }

  /** The same, synchronously (the spilled runs are read in blocks: no promise per record). */
  *sortedSync(): Generator<HostReport, void, undefined> {
    let cur: HostReport | undefined;
    for (const rec of this.spill.sortedSync()) {
      if (!cur || cur.ip !== rec.ip) {
        if (cur) yield cur;
        cur = { ip: rec.ip, ports: [], services: NO_SERVICES };
      }
      switch (rec.type) {
        case 'port': cur.ports.push(rec); break;
        case 'host': cur.host = rec; break;
        case 'service':
          if (cur.services === NO_SERVICES) cur.services = new Map();
          cur.services.set(portKey(rec.port, rec.proto), rec);
          break;
        case 'os': cur.os = rec; break;
        case 'trace': cur.trace = rec; break;
      }
    }
    if (cur) yield cur;
  }

  /** Removes spilled runs when the report is abandoned. */
  close(): void {
    this.spill.close();
  }
}

/** Up when a host record says so; without one, up when any port answered. */
export function isUp(r: HostReport): boolean {
  if (r.host) return r.host.state === 'up';
  return r.ports.some((p) => p.state === 'open' || p.state === 'closed' || p.state === 'unfiltered');
}

/** A host of a list scan (-sL): state unknown, reported as a name and address only, always shown. */
export const isListed = (r: HostReport): boolean => r.host?.state === 'unknown';

/** The host's status and why, as nmap reports it. */
export function hostStatus(r: HostReport): { state: 'up' | 'down' | 'unknown'; reason: string; ttl: number } {
  if (r.host) return { state: r.host.state, reason: r.host.reason, ttl: 0 };
  const answer = r.ports.find((p) => p.state === 'open' || p.state === 'closed' || p.state === 'unfiltered');
  if (answer) return { state: 'up', reason: answer.reason, ttl: answer.ttl ?? 0 };
  return { state: 'down', reason: 'no-response', ttl: 0 };
}

/** Like nmap: a state with more than this many ports on a host is summarised, not listed. */
export const COLLAPSE_OVER = 25;

export const SHOWN_WITH_OPEN = new Set(['open', 'open|filtered']);

/** What a middlebox check saw, after "a full handshake …". */
export const CHECK_TEXT: Readonly<Record<HandshakeCheck, string>> = {
  data: 'got data', silent: 'completed and no byte came', reset: 'was reset before any byte',
  closed: 'was closed before any byte', refused: 'was refused', timeout: 'never completed',
};

/** A host judged proxied: one line that says what was seen and what the marks mean. */
export function middleboxNote(n: MiddleboxNote): string {
  const fp = n.fingerprint ? `, all with ${n.fingerprint}` : '';
  return `Note: SYN-ACK on ${n.open} of ${n.open + n.closed} answered ports${fp} (${n.why}); ` +
    `${n.checked} checked with a full handshake, ${n.spoke} sent a byte: a SYN proxy, tarpit or ` +
    `answer-everything balancer answers for this host. Ports marked "proxied?" are probably not open ` +
    `(--open hides them unless --show-proxied).`;
}

/** Whether --open lists a port: open (or open|filtered), and not marked proxied unless --show-proxied. */
export function shownWithOpen(p: PortRecord, view: Pick<ViewOptions, 'showProxied'>): boolean {
  return SHOWN_WITH_OPEN.has(p.state) && (p.proxied !== true || view.showProxied === true);
}

/** Whether --open shows the host at all: it has a port --open lists. */
export const hasOpen = (r: HostReport, view: Pick<ViewOptions, 'showProxied'> = {}): boolean => r.ports.some((p) => shownWithOpen(p, view));

/** Ports of one state (and protocol) that the report summarises instead of listing. */
export interface HiddenGroup {
  state: string;
  proto: string;
  count: number;
  /** reason → ports with that reason, in port order */
  reasons: Map<string, number[]>;
  /** Open ports marked proxied (stages/middlebox), summarised apart from real ones. */
  proxied?: boolean;
}

/** Splits a host's ports into listed ones and nmap's "Not shown" groups (per state, then protocol). */
export function splitPorts(r: HostReport, view: Pick<ViewOptions, 'openOnly' | 'showProxied'>): { shown: PortRecord[]; hidden: HiddenGroup[] } {
  const ports = r.ports.length > 1 ? [...r.ports].sort(comparePorts) : r.ports;
  const counts = new Map<string, number>();
  let proxied = 0;
  for (const p of ports) {
    counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
    if (p.proxied) proxied++;
  }
  // Proxied open ports are listed like open ones, unless --open hides them or a tarpit's thousands
  // would bury the real ones: then they are one "Not shown" group (--show-proxied lists them).
  const collapseProxied = !view.showProxied && (view.openOnly || proxied > COLLAPSE_OVER);
  const listed = (p: PortRecord): boolean =>
    p.proxied && collapseProxied ? false
      : view.openOnly ? SHOWN_WITH_OPEN.has(p.state) : p.state === 'open' || (counts.get(p.state) ?? 0) <= COLLAPSE_OVER;
  const shown: PortRecord[] = [];
  const groups = new Map<string, HiddenGroup>();
  for (const p of ports) {
    if (listed(p)) {
      shown.push(p);
      continue;
    }
    const key = `${p.state} ${p.proto}${p.proxied ? ' proxied' : ''}`;
    let g = groups.get(key);
    if (!g) {
      g = { state: p.state, proto: p.proto, count: 0, reasons: new Map(), ...(p.proxied ? { proxied: true } : {}) };
      groups.set(key, g);
    }
    g.count++;
    const list = g.reasons.get(p.reason) ?? [];
    list.push(p.port);
    g.reasons.set(p.reason, list);
  }
  return { shown, hidden: [...groups.values()] };
}

/** 1,2,3,5,7,8 → "1-3,5,7-8" (ports must be sorted). */
export function portRanges(ports: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1] === ports[j]! + 1) j++;
    out.push(i === j ? `${ports[i]}` : `${ports[i]}-${ports[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** The service name a report shows for a port: the detected one, else the services table's. */
export function serviceFor(r: HostReport, p: PortRecord, view: ViewOptions): { name?: string; svc?: ServiceRecord } {
  const svc = r.services.get(portKey(p.port, p.proto));
  return { name: svc?.name ?? view.serviceName(p.port, p.proto), svc };
}

/** "product version (extrainfo)" as nmap's VERSION column shows it. */
export function versionText(s: ServiceRecord | undefined): string {
  if (!s) return '';
  return [s.product, s.version, s.extrainfo ? `(${s.extrainfo})` : undefined].filter(Boolean).join(' ');
}

/** Smallest reply time of a host, ms (nmap's "latency"). */
export function bestRtt(ports: PortRecord[]): number | undefined {
  let best = Infinity;
  for (const p of ports) if (p.rtt !== null && p.rtt < best) best = p.rtt;
  return best === Infinity ? undefined : best;
}

export function plural(n: number, word: string, suffix = 'es'): string {
  return `${n} ${word}${n === 1 ? '' : suffix}`;
}

/** nmap's closing summary: "1 IP address (1 host up) scanned in 0.05 seconds". */
export function doneSummary(total: number, up: number, seconds: string): string {
  return `${plural(total, 'IP address')} (${plural(up, 'host', 's')} up) scanned in ${seconds} seconds`;
}

/** Text made safe for one line of a text format: control characters become \xHH. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
