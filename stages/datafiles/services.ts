import { loadProtocolNames } from './protocols.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Proto } from '../records/index.js';
import { announceFallback, resolveDatadir } from './datadir.js';
import { UserInputError } from '../records/index.js';
import { builtinServicesText } from './builtin-services.js';

/** One line of nmap-services: `name port/proto open-frequency # comment`. */
export interface ServiceEntry {
  readonly name: string;
  readonly port: number;
  readonly proto: Proto;
  /** Nmap's open-frequency column (0..1); 0 when the line has none. */
  readonly freq: number;
}

/** The file name inside a data directory. */
export const SERVICES_FILE = 'nmap-services';

const PROTO_SLOT: Readonly<Partial<Record<Proto, number>>> = { tcp: 0, udp: 1, sctp: 2 };
const PORT_PROTO = /^(\d{1,5})\/(tcp|udp|sctp)$/i;
const FREQ = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A parsed services table: port/proto → name, name → ports, and top-N by open frequency. */
export class ServicesTable {
  /** Path of the file read, or "built-in" for the fallback table. */
  readonly source: string;
  /** Why the built-in table is in use (file missing or unreadable); undefined when the file loaded. */
  readonly fallbackReason: string | undefined;
  /** Entries in file order (later duplicates of a port/proto are skipped). */
  readonly entries: readonly ServiceEntry[];
  /** Lines that were not comments or blank but could not be parsed (or repeated a port/proto). */
  readonly skipped: number;
  /** 1-based numbers of the first few skipped lines, for a diagnostic. */
  readonly skippedLines: readonly number[];

  // Port/proto → name as one flat array indexed by proto slot × 65536 + port: O(1), no hashing,
  // because the format stage calls serviceName() for every port record.
  private readonly nameByPort: (string | undefined)[];
  private readonly byName = new Map<string, ServiceEntry[]>();
  private readonly topCache = new Map<Proto, readonly ServiceEntry[]>();

  /** The data directory the table came from (its nmap-protocols names the IP protocol scan's "ports"). */
  datadir?: string;

  constructor(source: string, entries: ServiceEntry[], skippedLines: number[], skipped: number, fallbackReason?: string) {
    this.source = source;
    this.fallbackReason = fallbackReason;
    this.entries = entries;
    this.skipped = skipped;
    this.skippedLines = skippedLines;
    this.nameByPort = new Array<string | undefined>(3 * 65536);
    for (const e of entries) {
      this.nameByPort[PROTO_SLOT[e.proto]! * 65536 + e.port] = e.name;
      const key = e.name.toLowerCase();
      const list = this.byName.get(key);
      if (list) list.push(e);
      else this.byName.set(key, [e]);
    }
  }

  /** The service name for a port ("http" for 80/tcp), or undefined when the table has none. */
  serviceName(port: number, proto: Proto): string | undefined {
    if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
    if (proto === 'ip') return loadProtocolNames(this.datadir).get(port); // -sO: nmap-protocols of the same directory
    const slot = PROTO_SLOT[proto];
    return slot === undefined ? undefined : this.nameByPort[slot * 65536 + port];
  }

  /** Every entry with this name (case-insensitive, as service names are matched on the command line). */
  lookup(name: string): readonly ServiceEntry[] {
    return this.byName.get(name.toLowerCase()) ?? [];
  }

  /** Distinct service names, lower-cased (for wildcard matching). */
  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** The n most frequently open ports of a protocol; ties keep file order (Nmap's --top-ports). */
  top(proto: Proto, n: number): readonly ServiceEntry[] {
    let sorted = this.topCache.get(proto);
    if (!sorted) {
      // Array.prototype.sort is stable, so equal frequencies stay in file order.
      sorted = this.entries.filter((e) => e.proto === proto).sort((a, b) => b.freq - a.freq);
      this.topCache.set(proto, sorted);
    }
    return sorted.slice(0, Math.max(0, n));
  }
}

/** Parses nmap-services text. Malformed lines are skipped and counted, never fatal. */
export function parseServices(text: string, source: string, fallbackReason?: string): ServicesTable {
  const entries: ServiceEntry[] = [];
  const skippedLines: number[] = [];
  let skipped = 0;
  const seen = new Set<number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i]!.indexOf('#');
    const body = (hash >= 0 ? lines[i]!.slice(0, hash) : lines[i]!).trim();
    if (body === '') continue;
    const entry = parseLine(body);
    const key = entry ? PROTO_SLOT[entry.proto]! * 65536 + entry.port : -1;
    if (!entry || seen.has(key)) {
      skipped++;
      if (skippedLines.length < 10) skippedLines.push(i + 1);
      continue;
    }
    seen.add(key);
    entries.push(entry);
  }
  return new ServicesTable(source, entries, skippedLines, skipped, fallbackReason);
}

function parseLine(body: string): ServiceEntry | undefined {
  const fields = body.split(/\s+/);
  if (fields.length < 2 || fields.length > 3) return undefined;
  const m = PORT_PROTO.exec(fields[1]!);
  if (!m) return undefined;
  const port = Number(m[1]);
  if (port > 65535) return undefined;
  let freq = 0;
  if (fields.length === 3) {
    if (!FREQ.test(fields[2]!)) return undefined;
    freq = Number(fields[2]);
    if (!(freq >= 0 && freq <= 1)) return undefined;
  }
  return { name: fields[0]!, port, proto: m[2]!.toLowerCase() as Proto, freq };
}

const cache = new Map<string, ServicesTable>();

/**
 * The services table of a data directory (see resolveDatadir), read once and cached.
 * When the file cannot be read, a small built-in table stands in so port naming and the
 * default port list still work without Nmap installed; `fallbackReason` says why.
 */
export function loadServicesTable(datadir?: string): ServicesTable {
  const path = join(resolveDatadir(datadir), SERVICES_FILE);
  let table = cache.get(path);
  if (table) return table;
  let text: string | undefined;
  let reason: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reason = `${path}: ${e.code ?? e.message}`;
    // A directory the user named must hold the file: a typo would otherwise give 100 ports for --top-ports 1000.
    if (datadir !== undefined && datadir !== '') {
      throw new UserInputError(`--datadir ${datadir}: cannot read ${SERVICES_FILE} (${e.code ?? e.message}); point --datadir at Nmap's data files, e.g. /usr/share/nmap`);
    }
    announceFallback(`${reason}: using prtip's built-in services table (about 100 TCP and 20 UDP ports; install nmap-common for Nmap's)`);
  }
  table = text !== undefined ? parseServices(text, path) : parseServices(builtinServicesText, 'built-in', reason);
  table.datadir = resolveDatadir(datadir);
  cache.set(path, table);
  return table;
}

/** The service name of a port ("http" for 80/tcp), or undefined; cached per data directory. */
export function serviceName(port: number, proto: Proto, datadir?: string): string | undefined {
  return loadServicesTable(datadir).serviceName(port, proto);
}

/** Forgets cached tables (tests that rewrite a data directory). */
export function clearServicesCache(): void {
  cache.clear();
}
