/** Nmap's -p syntax, -F and --top-ports → the (port, proto) list probed on every host. */
import { PROTO_NUMBER, UserInputError, type PortLists, type Proto } from '../records/index.js';
import { loadProtocolNames, type ServicesTable } from '../datafiles/index.js';

/** The ports probed on each host: index i is (ports[i], protos[i]); tcp ascending, then udp, then sctp. */
export interface PortList {
  readonly ports: Uint16Array;
  /** IP protocol numbers (6, 17, 132). */
  readonly protos: Uint8Array;
  readonly count: number;
  /** Compact nmap-style text per protocol, for the header's plan. */
  readonly lists: PortLists;
}

export interface PortSelection {
  ports?: string;
  fast?: boolean;
  topPorts?: number;
  /** Protocols of the scan types (default tcp): unprefixed -p items and top-port lists are for each of them. */
  protocols?: readonly Proto[];
}

export const DEFAULT_TOP_PORTS = 1000;
export const FAST_TOP_PORTS = 100;

const PROTOS: readonly Proto[] = ['tcp', 'udp', 'sctp', 'ip'];
const PREFIX: Readonly<Record<string, Proto>> = { T: 'tcp', U: 'udp', S: 'sctp' };
const NUMERIC = /^(\d*)(-?)(\d*)$/;
const NAME = /^[A-Za-z0-9_.+/:*?-]+$/;

/**
 * Chooses the port list the way nmap does: -p, or -F (top 100), or --top-ports N, or by default
 * the top 1000 TCP ports. -p does not combine with -F/--top-ports, nor -F with --top-ports.
 * `services` is only called when the table is needed (names, [ranges], top lists).
 */
export function selectPorts(sel: PortSelection, services: () => ServicesTable): PortList {
  const given = [sel.ports !== undefined && '-p', sel.fast && '-F', sel.topPorts !== undefined && '--top-ports'].filter(
    (x): x is string => typeof x === 'string',
  );
  if (given.length > 1) {
    throw new UserInputError(`${given.join(' and ')} cannot be combined: choose the ports one way (-p LIST, -F, or --top-ports N)`);
  }
  const protocols = sel.protocols && sel.protocols.length > 0 ? sel.protocols : (['tcp'] as const);
  if (protocols.includes('ip')) return selectProtocols(sel, services, protocols);
  if (sel.ports !== undefined) return parsePortSpec(sel.ports, services, protocols);
  let n = DEFAULT_TOP_PORTS;
  if (sel.fast) n = FAST_TOP_PORTS;
  if (sel.topPorts !== undefined) {
    if (!Number.isSafeInteger(sel.topPorts) || sel.topPorts < 1) {
      throw new UserInputError(`--top-ports "${String(sel.topPorts)}": expected a whole number of ports, 1 or more`);
    }
    n = sel.topPorts;
  }
  return topPorts(services(), n, protocols);
}

/**
 * The IP protocol scan's "ports", IP protocol numbers as nmap takes them: -p numbers, ranges and
 * names from nmap-protocols (0-255); -F the protocols nmap-protocols names; default all 256.
 */
function selectProtocols(sel: PortSelection, services: () => ServicesTable, protocols: readonly Proto[]): PortList {
  if (protocols.length > 1) {
    throw new UserInputError('the IP protocol scan (-sO) runs alone: its -p list is of protocol numbers; run the port scans in another run');
  }
  if (sel.topPorts !== undefined) throw new UserInputError('--top-ports does not apply to -sO (nmap-protocols has no frequencies): use -p or -F');
  const set = new PortSet();
  const names = () => loadProtocolNames(services().datadir);
  if (sel.fast) {
    for (const n of names().keys()) set.add('ip', n);
    if (set.size === 0) throw new UserInputError('-F with -sO takes the protocols of nmap-protocols, which was not found: give -p 0-255');
    return set.toList();
  }
  const spec = sel.ports ?? '0-255';
  const bad = (token: string, why: string): never => {
    throw new UserInputError(`bad protocol spec "${token}" in -p "${spec}" (-sO): ${why}`);
  };
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') bad(item, 'empty item (two commas in a row, or a comma at an end)');
    const m = NUMERIC.exec(item);
    if (m && item !== '') {
      const [, a, dash, b] = m as unknown as [string, string, string, string];
      const lo = a === '' ? 0 : Number(a), hi = dash ? (b === '' ? 255 : Number(b)) : lo;
      if (lo > 255 || hi > 255) bad(item, 'IP protocol numbers are 0-255');
      if (lo > hi) bad(item, `range runs backwards (${lo} > ${hi}); write ${hi}-${lo}`);
      set.addRange('ip', lo, hi);
      continue;
    }
    const wanted = [...names()].filter(([, n]) => n.toLowerCase() === item.toLowerCase()).map(([k]) => k);
    if (wanted.length === 0) bad(item, 'expected a protocol number (0-255), a range, or a protocol name from nmap-protocols');
    for (const k of wanted) set.add('ip', k);
  }
  return set.toList();
}

/** The n most frequently open ports of each protocol (default TCP) in the services table. */
export function topPorts(table: ServicesTable, n: number, protocols: readonly Proto[] = ['tcp']): PortList {
  const set = new PortSet();
  for (const proto of protocols) {
    const before = set.size;
    for (const e of table.top(proto, n)) set.add(proto, e.port);
    if (set.size === before) throw new UserInputError(`no ${proto.toUpperCase()} ports with frequencies in ${table.source}: give ports with -p`);
  }
  return set.toList();
}

/** Parses an nmap -p spec. Throws UserInputError quoting the bad token and the whole spec. */
export function parsePortSpec(spec: string, services: () => ServicesTable, protocols: readonly Proto[] = ['tcp']): PortList {
  const bad = (token: string, why: string): never => {
    throw new UserInputError(`bad port spec "${token}" in -p "${spec}": ${why}`);
  };
  if (spec.trim() === '') bad(spec, 'empty port list; give ports like 22,80,1000-2000 or - for all');
  const set = new PortSet();
  // Unprefixed items are for every protocol the scan types probe (TCP by default), as in nmap.
  let current: readonly Proto[] = protocols;
  for (const raw of spec.split(',')) {
    let item = raw.trim();
    if (item === '') bad(item, 'empty item (two commas in a row, or a comma at an end)');
    const pm = /^([A-Za-z]):(.*)$/.exec(item);
    if (pm && /^[TUSPtusp]$/.test(pm[1]!)) {
      const letter = pm[1]!.toUpperCase();
      if (letter === 'P') bad(item, 'P: (IP protocol scan) is not supported; use T:, U: or S:');
      current = [PREFIX[letter]!];
      item = pm[2]!.trim();
      if (item === '') bad(raw.trim(), `nothing after the ${letter}: prefix; write e.g. ${letter}:53`);
    }
    if (item.startsWith('[') || item.endsWith(']')) {
      for (const proto of current) addBracketed(set, item, proto, services, bad);
    } else if (NUMERIC.test(item)) {
      const [lo, hi] = numericRange(item, bad);
      for (const proto of current) set.addRange(proto, lo, hi);
    } else if (NAME.test(item) && /[A-Za-z_*?]/.test(item)) {
      for (const proto of current) addNamed(set, item, proto, services(), bad);
    } else {
      bad(item, 'expected a port number, a range (1-1024, -1024, 60000-, -), a service name, [range] or a T:/U:/S: prefix');
    }
  }
  if (set.size === 0) bad(spec, 'selects no ports');
  return set.toList();
}

/** n, n-m, -m, n-, - ; open ends are 1 and 65535 (port 0 only when written). */
function numericRange(item: string, bad: (t: string, why: string) => never): [number, number] {
  const m = NUMERIC.exec(item)!;
  const [, a, dash, b] = m as unknown as [string, string, string, string];
  if (!dash && a === '') bad(item, 'expected a port number');
  for (const digits of [a, b]) {
    if (digits !== '' && (digits.length > 5 || Number(digits) > 65535)) bad(item, 'ports are 0-65535');
  }
  const lo = a === '' ? 1 : Number(a);
  const hi = dash ? (b === '' ? 65535 : Number(b)) : lo;
  if (lo > hi) bad(item, `range runs backwards (${lo} > ${hi}); write ${hi}-${lo}`);
  return [lo, hi];
}

/** [1-1024]: only ports nmap-services lists for this protocol within the range. */
function addBracketed(
  set: PortSet,
  item: string,
  proto: Proto,
  services: () => ServicesTable,
  bad: (t: string, why: string) => never,
): void {
  const inner = item.slice(1, -1);
  if (!item.startsWith('[') || !item.endsWith(']') || !NUMERIC.test(inner) || inner === '') {
    bad(item, 'a bracketed range looks like [1-1024], [-1024] or [1024-]');
  }
  const [lo, hi] = numericRange(inner, bad);
  for (const e of services().entries) if (e.proto === proto && e.port >= lo && e.port <= hi) set.add(proto, e.port);
}

/** A service name or wildcard (http, http*, ?ttp): every port of that name for the protocol in force. */
function addNamed(set: PortSet, item: string, proto: Proto, table: ServicesTable, bad: (t: string, why: string) => never): void {
  const wildcard = /[*?]/.test(item);
  const names = wildcard ? [...table.names()].filter((n) => globToRegExp(item).test(n)) : [item];
  let matched = 0;
  let anyProto = false;
  for (const name of names) {
    for (const e of table.lookup(name)) {
      anyProto = true;
      if (e.proto === proto) {
        set.add(proto, e.port);
        matched++;
      }
    }
  }
  if (matched > 0) return;
  if (anyProto) bad(item, `no ${proto} port has that service name in ${table.source}${proto === 'tcp' ? ' (use U: or S: for other protocols)' : ''}`);
  bad(item, wildcard ? `no service name matches in ${table.source}` : `unknown service name (not in ${table.source})`);
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** A set of (proto, port) as one bitmap per protocol: 24 KB whatever is selected. */
class PortSet {
  private readonly bits: Record<Proto, Uint8Array> = {
    tcp: new Uint8Array(65536),
    udp: new Uint8Array(65536),
    sctp: new Uint8Array(65536),
    ip: new Uint8Array(256),
  };
  size = 0;

  add(proto: Proto, port: number): void {
    const b = this.bits[proto];
    if (!b[port]) {
      b[port] = 1;
      this.size++;
    }
  }

  addRange(proto: Proto, lo: number, hi: number): void {
    for (let p = lo; p <= hi; p++) this.add(proto, p);
  }

  toList(): PortList {
    const ports = new Uint16Array(this.size);
    const protos = new Uint8Array(this.size);
    const lists: PortLists = { tcp: '', udp: '', sctp: '' };
    let n = 0;
    for (const proto of PROTOS) {
      const b = this.bits[proto];
      const runs: string[] = [];
      for (let p = 0; p < 65536; p++) {
        if (!b[p]) continue;
        let q = p;
        while (q + 1 < 65536 && b[q + 1]) q++;
        runs.push(q === p ? String(p) : `${p}-${q}`);
        for (let x = p; x <= q; x++) {
          ports[n] = x;
          protos[n] = PROTO_NUMBER[proto];
          n++;
        }
        p = q;
      }
      if (proto !== 'ip' || runs.length > 0) lists[proto] = runs.join(',');
    }
    return { ports, protos, count: n, lists };
  }
}
