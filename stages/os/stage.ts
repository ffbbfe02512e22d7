/**
 * `prtip os` / -O: the OS-detection stage. Passes every record through; remembers each host's
 * state and port records; at the end of the stream OS-scans the up hosts (several at once, each
 * with its own 100 ms SEQ spacing; IPv6 hosts with nmap's IPv6 probes, exchange6.ts) and emits an os record per host before the trailer.
 */
import { DEFAULT_OS_PARALLEL } from './defaults.js';
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { loadNative } from '../../native/index.js';
import { loadOsDb } from '../datafiles/os-db.js';
import { macBytes, resolveNeighbours, resolveRawRoute, type RouteOverrides } from '../probes/routing.js';
import { extendTrailer, UserInputError, type AnyRecord, type EndTrailer, type PortRecord } from '../records/index.js';
import { osDetectHost, type OsHostPorts } from './exchange.js';
import { osDetectHost6, type Os6HostPorts } from './exchange6.js';
import { checkMaxOsTries, DEFAULT_MAX_OS_TRIES, hostQualifies } from './rounds.js';

export interface OsStageOptions {
  datadir?: string;
  /** --max-os-tries (default 5). */
  maxOsTries?: number;
  /** --osscan-limit. */
  limit?: boolean;
  /** --osscan-guess / --fuzzy. */
  guess?: boolean;
  scanDelayMs?: number;
  /** -T level (default 3). */
  timingLevel?: number;
  /** Hosts OS-scanned at once (default DEFAULT_OS_PARALLEL). */
  parallel?: number;
  route?: RouteOverrides;
  args?: string[];
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
}

/** Refuses -O where it cannot run: no raw-socket access. */
export function checkOsPrivileges(): void {
  let native;
  try {
    native = loadNative();
  } catch (err) {
    // Built without libpcap: say what -O needs, in one line.
    throw new UserInputError(`-O (OS detection) needs ${(err as Error).message.replace(/^prtip's native engine (is not built|cannot be loaded)/, "prtip's native engine, which $1")}`);
  }
  if (!native.hasRawAccess()) throw new UserInputError('-O (OS detection) sends raw packets: run prtip as root (or with CAP_NET_RAW)');
}

/** nmap's port choice from the scan's port records (lowest numbers first), with its fallbacks. */
export function choosePorts(ports: PortRecord[]): OsHostPorts {
  const tcp = ports.filter((p) => p.proto === 'tcp').sort((a, b) => a.port - b.port);
  const udp = ports.filter((p) => p.proto === 'udp').sort((a, b) => a.port - b.port);
  const first = (list: PortRecord[], state: string) => list.find((p) => p.state === state && p.port > 0)?.port;
  const open = first(tcp, 'open') ?? null;
  const closed = first(tcp, 'closed');
  const closedUdp = first(udp, 'closed');
  return {
    openTcpPort: open,
    closedTcpPort: closed ?? first(tcp, 'unfiltered') ?? randomInt(30000, 44781),
    closedTcpPortKnown: closed !== undefined,
    closedUdpPort: closedUdp ?? randomInt(30000, 44781),
    closedUdpPortKnown: closedUdp !== undefined,
    openCount: tcp.filter((p) => p.state === 'open').length,
    closedCount: tcp.filter((p) => p.state === 'closed').length,
  };
}

/**
 * nmap's IPv6 port choice (FPHost::choose_osscan_ports): the same order, but without a closed or
 * unfiltered TCP port the probes to a closed port are not sent (no random fallback).
 */
export function choosePorts6(ports: PortRecord[]): Os6HostPorts {
  const tcp = ports.filter((p) => p.proto === 'tcp').sort((a, b) => a.port - b.port);
  const udp = ports.filter((p) => p.proto === 'udp').sort((a, b) => a.port - b.port);
  const first = (list: PortRecord[], state: string) => list.find((p) => p.state === state && p.port > 0)?.port;
  const closed = first(tcp, 'closed');
  const closedUdp = first(udp, 'closed');
  return {
    openTcpPort: first(tcp, 'open') ?? null,
    closedTcpPort: closed ?? first(tcp, 'unfiltered') ?? null,
    closedTcpPortKnown: closed !== undefined,
    closedUdpPort: closedUdp ?? first(udp, 'unfiltered') ?? randomInt(30000, 44781),
    closedUdpPortKnown: closedUdp !== undefined,
  };
}

export function osRecords(options: OsStageOptions = {}) {
  const maxOsTries = options.maxOsTries ?? DEFAULT_MAX_OS_TRIES;
  const bad = checkMaxOsTries(maxOsTries);
  if (bad) throw new UserInputError(bad);
  return async function* os(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    checkOsPrivileges();
    const db = loadOsDb(options.datadir);
    const up = new Set<string>();
    const down = new Set<string>();
    const ports = new Map<string, PortRecord[]>();
    let udpScan = false;
    let trailer: EndTrailer | undefined;
    const counters = { hosts: 0, skipped: 0, failed: 0 };
    /** OS detection of the hosts seen so far (a host group, or all of them at the end); forgets them after. */
    async function* detectGroup(): AsyncGenerator<AnyRecord> {
      // Up: said so by a host record, or answering on some port.
      for (const [ip, list] of ports) if (!down.has(ip) && list.some((p) => p.state === 'open' || p.state === 'closed' || p.state === 'unfiltered')) up.add(ip);
      const queue: Array<[string, OsHostPorts]> = [];
      for (const ip of up) {
        const chosen = choosePorts(ports.get(ip) ?? []);
        if (!hostQualifies(chosen.openCount, chosen.closedCount, options.limit === true)) { counters.skipped++; continue; }
        queue.push([ip, chosen]);
      }
      const done: AnyRecord[] = [];
      let wake: (() => void) | undefined;
      let active = 0;
      const runOne = async (ip: string, chosen: OsHostPorts) => {
        try {
          const family = net.isIP(ip) === 6 ? 6 : 4;
          const route = await resolveRawRoute(ip, options.route ?? {});
          let dstMac = route.nextHopMac;
          if (route.onLink && !route.local && !route.ipLink) {
            const found = (await resolveNeighbours(route.ifname, family, [ip])).get(ip);
            if (!found) throw new Error(`no ${family === 6 ? 'neighbour advertisement' : 'ARP answer'} from ${ip}`);
            dstMac = found;
          }
          if (route.local) dstMac = macBytes('00:00:00:00:00:00');
          if (family === 6) {
            done.push(await osDetectHost6(ip, choosePorts6(ports.get(ip) ?? []), {
              maxOsTries, scanDelayMs: options.scanDelayMs ?? 0, route, dstMac, ...(options.signal ? { signal: options.signal } : {}),
            }));
            counters.hosts++;
            return;
          }
          done.push(await osDetectHost(ip, chosen, {
            db, maxOsTries, guess: options.guess === true, scanDelayMs: options.scanDelayMs ?? 0, timingLevel: options.timingLevel ?? 3,
            udpScan, route, dstMac, ...(options.signal ? { signal: options.signal } : {}),
          }));
          counters.hosts++;
        } catch (err) {
          counters.failed++;
          options.onWarning?.(`OS detection of ${ip} failed: ${(err as Error).message}`);
        }
      };
      const parallel = Math.max(1, options.parallel ?? DEFAULT_OS_PARALLEL);
      while (queue.length || active) {
        while (active < parallel && queue.length && !options.signal?.aborted) {
          const [ip, chosen] = queue.shift()!;
          active++;
          void runOne(ip, chosen).finally(() => { active--; const w = wake; wake = undefined; w?.(); });
        }
        if (options.signal?.aborted) queue.length = 0;
        if (active) await new Promise<void>((r) => (wake = r));
        yield* done.splice(0);
      }
      yield* done.splice(0);
      up.clear();
      down.clear();
      ports.clear();
    }
    for await (const rec of source) {
      if (rec.type === 'end') { trailer = rec as EndTrailer; break; }
      if (rec.type === 'hostgroup') {
        // --max-hostgroup: the group's hosts are OS-scanned before its end passes (as nmap's).
        yield* detectGroup();
        yield rec;
        continue;
      }
      if (rec.type === 'scan') udpScan = ((rec as { scanTypes?: string[] }).scanTypes ?? []).some((t) => t.startsWith('udp'));
      if (rec.type === 'host') ((rec as { state: string }).state === 'up' ? up : down).add((rec as { ip: string }).ip);
      if (rec.type === 'port') {
        const p = rec as PortRecord;
        if (!ports.has(p.ip)) ports.set(p.ip, []);
        ports.get(p.ip)!.push(p);
      }
      yield rec.type === 'scan' && options.args ? { ...rec, args: [...(rec as { args: string[] }).args, ...options.args] } as AnyRecord : rec;
    }
    yield* detectGroup();
    yield extendTrailer(trailer, 'os', counters, trailer === undefined || options.signal?.aborted === true);
  };
}
