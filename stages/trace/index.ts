/**
 * stages/trace: --traceroute. Passes every record through; remembers the port records; at the end
 * of the stream (or of each host group) traces each up host, IPv4 or IPv6, with its trace probe (choose.ts: nmap's ping-probe
 * choice from the scan's answers) through the tracer (tracer.ts), names the hops with the
 * resolver when asked (-R), and emits one trace record per host before the trailer. A directly
 * connected host gets nmap's one-hop trace without a packet.
 */
import net from 'node:net';
import { loadNative, type WireSpec } from '../../native/index.js';
import { probeModule } from '../probes/index.js';
import { resolveRawRoute, type RouteOverrides } from '../probes/routing.js';
import { extendTrailer, UserInputError, type AnyRecord, type EndTrailer, type HostRecord, type PortRecord, type ScanHeader, type TraceRecord } from '../records/index.js';
import { Resolver, type ResolverOptions } from '../dns/index.js';
import { chooseTraceProbe, type TraceProbe } from './choose.js';
import { distanceFromTtl, traceTargets, type TraceTarget } from './tracer.js';

export { chooseTraceProbe, probeScore } from './choose.js';
export { distanceFromTtl, MAX_TTL } from './tracer.js';

export interface TraceOptions {
  /** Name the hops (and nothing else): -R. */
  reverseDns?: boolean;
  dns?: ResolverOptions;
  datadir?: string;
  /** --max-retries: resends of a probe (at most 2, as nmap). */
  maxRetries?: number;
  route?: RouteOverrides;
  args?: string[];
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
}

export function checkTracePrivileges(): void {
  if (!loadNative().hasRawAccess()) throw new UserInputError('--traceroute sends raw packets: run prtip as root (or with CAP_NET_RAW)');
}

type ProbeWire = Omit<WireSpec, 'srcMac' | 'sourcePort' | 'ttl'>;

/** The wire of the scan's probes for this protocol (a connect scan is traced with SYNs). */
function wireFor(scanTypes: string[], probe: TraceProbe, datadir: string | undefined): ProbeWire | undefined {
  const raw = scanTypes.map((t) => probeModule(t)).find((m) => m && m.proto === probe.proto);
  const module = raw ?? (probe.proto === 'tcp' ? probeModule('syn') : probe.proto === 'udp' ? probeModule('udp') : undefined);
  if (!module) return undefined;
  const w = module.wire({ datadir, ports: [probe.port] });
  // nmap's trace probe carries the port's first payload only.
  const first = w.portPayloads?.find(([p]) => p === probe.port)?.[1][0];
  const { portPayloads: _all, ...rest } = w;
  return { ...rest, ...(first ? { portPayloads: [[probe.port, [first]]] } : {}) };
}

export function traceRecords(opts: TraceOptions = {}) {
  return async function* trace(source: AsyncIterable<AnyRecord>): AsyncGenerator<AnyRecord, void, undefined> {
    checkTracePrivileges();
    const ports = new Map<string, PortRecord[]>();
    const down = new Set<string>();
    let scanTypes: string[] = [];
    let trailer: EndTrailer | undefined;
    const counters = { hosts: 0, probes: 0, skipped: 0, failed: 0 };
    /** Traces the hosts seen so far (a host group, or all of them at the end); forgets them after. */
    async function* traceGroup(): AsyncGenerator<AnyRecord> {
      const synProbe = scanTypes.includes('syn') || scanTypes.includes('connect') || scanTypes.length === 0;
      const out: TraceRecord[] = [];
      // Payloads per UDP port (nmap scores a port with several lower: which one was answered?).
      const payloadCounts = new Map<number, number>();
      const udpPayloads = (port: number) => {
        if (!payloadCounts.has(port)) {
          const w = probeModule('udp')?.wire({ datadir: opts.datadir, ports: [port] });
          payloadCounts.set(port, w?.portPayloads?.find(([p]) => p === port)?.[1].length ?? 0);
        }
        return payloadCounts.get(port)!;
      };
      const groups = new Map<string, { route: Awaited<ReturnType<typeof resolveRawRoute>>; targets: TraceTarget[]; probes: Map<string, TraceProbe> }>();
      // In address order, as nmap's host group: the first host of a shared path gets its whole trace.
      const v4key = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
      const hostsInOrder = [...ports].sort(([a], [b]) => (net.isIP(a) === 4 && net.isIP(b) === 4 ? v4key(a) - v4key(b) : a < b ? -1 : 1));
      for (const [ip, list] of hostsInOrder) {
        if (down.has(ip) || opts.signal?.aborted) continue;
        const probe = chooseTraceProbe(list, synProbe, udpPayloads);
        const wire = probe && wireFor(scanTypes, probe, opts.datadir);
        if (!probe || !wire) { counters.skipped++; continue; }
        try {
          const route = await resolveRawRoute(ip, opts.route ?? {});
          // This machine's own addresses get no trace, as nmap skips loopback targets.
          if (route.local) { counters.skipped++; continue; }
          if (route.onLink) {
            // nmap's trace of a directly connected host: one hop, the host, with the scan's RTT; no packet.
            out.push({ type: 'trace', ip, hops: [{ ttl: 1, ip, rtt: probe.rtt === null ? null : Math.round(probe.rtt * 100) / 100 }] });
            counters.hosts++;
            continue;
          }
          const key = `${route.ifname} ${route.source}`;
          let g = groups.get(key);
          if (!g) groups.set(key, (g = { route, targets: [], probes: new Map() }));
          const ttl = list.find((p) => p.port === probe.port && p.proto === probe.proto)?.ttl;
          g.targets.push({ ip, port: probe.port, wire, dstMac: route.nextHopMac, ...(distanceFromTtl(ttl) ? { distanceGuess: distanceFromTtl(ttl) } : {}) });
          g.probes.set(ip, probe);
        } catch (err) {
          counters.failed++;
          opts.onWarning?.(`traceroute to ${ip} failed: ${(err as Error).message}`);
        }
      }
      for (const g of groups.values()) {
        try {
          const results = await traceTargets(g.targets, {
            ifname: g.route.ifname, srcMac: g.route.srcMac, src4: g.route.sourceBytes,
            ...(opts.maxRetries !== undefined ? { maxResends: opts.maxRetries } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
          });
          for (const r of results) {
            const probe = g.probes.get(r.ip)!;
            out.push({ type: 'trace', ip: r.ip, port: probe.port, proto: probe.proto, hops: r.hops, ...(r.sharedWith ? { sharedWith: r.sharedWith } : {}) });
            counters.probes += r.probesSent;
            counters.hosts++;
          }
        } catch (err) {
          counters.failed += g.targets.length;
          opts.onWarning?.(`traceroute on ${g.route.ifname} failed: ${(err as Error).message}`);
        }
      }
      if (opts.reverseDns && out.length > 0 && !opts.signal?.aborted) {
        const resolver = new Resolver(opts.dns);
        try {
          const names = await resolver.reverse(out.flatMap((t) => t.hops.flatMap((h) => (h.ip ? [h.ip] : []))));
          for (const t of out) for (const h of t.hops) if (h.ip && names.has(h.ip)) h.host = names.get(h.ip);
        } finally {
          resolver.close();
        }
      }
      yield* out;
      ports.clear();
      down.clear();
    }
    for await (const rec of source) {
      if (rec.type === 'end') { trailer = rec as EndTrailer; break; }
      if (rec.type === 'hostgroup') {
        // --max-hostgroup: the group's hosts are traced before its end passes (as nmap's).
        yield* traceGroup();
        yield rec;
        continue;
      }
      if (rec.type === 'scan') {
        scanTypes = (rec as ScanHeader).scanTypes ?? [];
        if (opts.args) { yield { ...(rec as ScanHeader), args: [...(rec as ScanHeader).args, ...opts.args] }; continue; }
      }
      if (rec.type === 'host' && (rec as HostRecord).state === 'down') down.add((rec as HostRecord).ip);
      if (rec.type === 'port') {
        const p = rec as PortRecord;
        let list = ports.get(p.ip);
        if (!list) ports.set(p.ip, (list = []));
        list.push(p);
      }
      yield rec;
    }
    yield* traceGroup();
    yield extendTrailer(trailer, 'trace', counters, trailer === undefined || opts.signal?.aborted === true);
  };
}
