/**
 * The privileged ping: nmap's probes (-PE/-PP/-PM one ICMP engine, -PS, -PA, -PU, -PY, -PO one
 * engine each) through raw sessions, the same machinery as the port scan. A host is up at the first
 * answer that proves it (the module's verdict 'open'); down once every probe sent to it ran out
 * of retries (reason: an ICMP error a router sent, else no-response).
 */
import type { PortRecord, ProbeBatch, ProgressRecord } from '../records/index.js';
import { addrText, icmpPing, ICMP_ECHO, ICMP_MASK, ICMP_TIMESTAMP, RawSession, tcpAckPing, tcpSynPing, udpPing, sctpInitPing, ipProtoPing, type ProbeModule, type RawSessionOptions } from '../probes/index.js';
import type { HostProber, HostVerdict } from './prober.js';
import type { PingProbes } from './ping-spec.js';

/** The raw session's send and timing options the ping takes as they are. */
export type PingSessionOptions = Pick<RawSessionOptions, 'maxRetries' | 'initialTimeoutMs' | 'minTimeoutMs' | 'maxTimeoutMs' | 'maxRate' | 'sourcePort' | 'iface' | 'sourceAddress' | 'ttl' | 'datadir'>;

export interface RawProberOptions extends PingSessionOptions {
  probes: PingProbes;
  ignoreRst: boolean;
  signal?: AbortSignal;
  onWarning?: (m: string) => void;
}

interface Lane {
  session: RawSession;
  /** What each host gets from this engine: (port column, IP protocol) pairs, per family. */
  entries: (family: 4 | 6) => Array<[number, number]>;
  next: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RawProber implements HostProber {
  private readonly lanes: Lane[] = [];
  /** Probes still out per undecided host, and the best reason seen for a down verdict. */
  private readonly pending = new Map<string, { left: number; why?: string }>();
  private readonly out: HostVerdict[] = [];
  readonly counters: Record<string, number> = { probes: 0 };

  constructor(opts: RawProberOptions) {
    const p = opts.probes;
    const lane = (module: ProbeModule, entries: Lane['entries']) => {
      this.lanes.push({
        entries, next: 0,
        session: new RawSession({
          module, sourcePort: opts.sourcePort, iface: opts.iface, sourceAddress: opts.sourceAddress, maxRate: opts.maxRate,
          maxRetries: opts.maxRetries, initialTimeoutMs: opts.initialTimeoutMs, minTimeoutMs: opts.minTimeoutMs,
          maxTimeoutMs: opts.maxTimeoutMs, ttl: opts.ttl, datadir: opts.datadir, signal: opts.signal, onWarning: opts.onWarning,
        }),
      });
    };
    if (p.echo || p.timestamp || p.mask) {
      lane(icmpPing, (family) => {
        const types: Array<[number, number]> = [];
        if (p.echo) types.push([ICMP_ECHO, 1]);
        if (family === 4 && p.timestamp) types.push([ICMP_TIMESTAMP, 1]); // ICMPv6 has neither
        if (family === 4 && p.mask) types.push([ICMP_MASK, 1]);
        return types;
      });
    }
    if (p.syn.length) lane(tcpSynPing(opts.ignoreRst), () => p.syn.map((port) => [port, 6]));
    if (p.ack.length) lane(tcpAckPing(opts.ignoreRst), () => p.ack.map((port) => [port, 6]));
    if (p.udp.length) lane(udpPing, () => p.udp.map((port) => [port, 17]));
    if (p.sctp.length) lane(sctpInitPing, () => p.sctp.map((port) => [port, 132]));
    // -PO: the protocol number in the port column; the batch's protocol column says "ip" (0), as -sO's.
    if (p.ipProto.length) lane(ipProtoPing, () => p.ipProto.map((proto) => [proto, 0]));
  }

  get undecided(): number {
    return this.pending.size;
  }

  /** True when this prober sends something to hosts of the family (IPv6 with only -PP/-PM: nothing). */
  probesFor(family: 4 | 6): boolean {
    return this.lanes.some((l) => l.entries(family).length > 0);
  }

  async probe(family: 4 | 6, addrs: Uint8Array): Promise<void> {
    const width = family === 4 ? 4 : 16;
    const n = addrs.length / width;
    const batches: Array<[Lane, ProbeBatch]> = [];
    const perHost = new Array<number>(n).fill(0);
    for (const lane of this.lanes) {
      const kinds = lane.entries(family);
      if (kinds.length === 0) continue;
      const count = n * kinds.length;
      const b: ProbeBatch = {
        type: 'probes', family, start: lane.next, count,
        addrs: new Uint8Array(count * width), ports: new Uint8Array(count * 2), protos: new Uint8Array(count),
      };
      lane.next += count;
      // Kind-major order: each host's probes of one kind are a whole group apart, as nmap spreads them.
      let e = 0;
      for (const [port, proto] of kinds) {
        for (let h = 0; h < n; h++, e++) {
          b.addrs.set(addrs.subarray(h * width, h * width + width), e * width);
          b.ports[e * 2] = port >> 8;
          b.ports[e * 2 + 1] = port & 0xff;
          b.protos[e] = proto;
          perHost[h]!++;
        }
      }
      batches.push([lane, b]);
    }
    for (let h = 0; h < n; h++) {
      const ip = addrText(addrs, h * width, family);
      if (perHost[h] === 0) this.out.push({ ip, up: false, reason: 'no-response' });
      else this.pending.set(ip, { left: perHost[h]! });
    }
    for (const [lane, b] of batches) {
      this.counters.probes! += b.count;
      for await (const r of lane.session.add(b)) this.note(r);
    }
  }

  private note(r: PortRecord | ProgressRecord): void {
    if (r.type !== 'port') return;
    const p = this.pending.get(r.ip);
    if (!p) return; // decided already (an earlier answer, or another engine's)
    if (r.state === 'open') {
      this.pending.delete(r.ip);
      this.out.push({ ip: r.ip, up: true, reason: r.reason, ...(r.rtt !== null ? { rtt: r.rtt } : {}) });
      return;
    }
    if (r.reason !== 'no-response') p.why ??= r.reason;
    if (--p.left === 0) {
      this.pending.delete(r.ip);
      this.out.push({ ip: r.ip, up: false, reason: p.why ?? 'no-response' });
    }
  }

  private poll(): void {
    for (const lane of this.lanes) {
      lane.session.service();
      for (const r of lane.session.take()) this.note(r);
    }
  }

  take(): HostVerdict[] {
    this.poll();
    return this.out.splice(0, this.out.length);
  }

  /** Waits for one step of progress (some verdicts, or a few ms). */
  async step(): Promise<void> {
    this.poll();
    if (this.out.length === 0) await sleep(3);
  }

  async settle(): Promise<void> {
    while (this.pending.size > 0 && !this.lanes.some((l) => l.session.aborted)) {
      this.poll();
      if (this.pending.size > 0) await sleep(3);
    }
  }

  async close(): Promise<void> {
    for (const lane of this.lanes) {
      for await (const r of lane.session.finish()) this.note(r);
      Object.entries(lane.session.counters).forEach(([k, v]) => { if (k === 'sent' || k === 'retries') this.counters[k] = (this.counters[k] ?? 0) + v; });
    }
  }
}
