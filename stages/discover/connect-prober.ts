/**
 * The unprivileged ping, as nmap's: a TCP connect() to ports 80 and 443. A connection that opens
 * (syn-ack) or is refused (conn-refused: the host answered with a RST) proves the host up;
 * timeouts and unreachables on every port leave it down.
 */
import net from 'node:net';
import type { HostProber, HostVerdict } from './prober.js';
import { addrText } from '../probes/index.js';

export interface ConnectProberOptions {
  ports: readonly number[];
  timeoutMs: number;
  maxParallel: number;
  signal?: AbortSignal;
}

const ERRNO_REASON: Record<string, string> = { EHOSTUNREACH: 'host-unreach', ENETUNREACH: 'net-unreach', EACCES: 'perm-denied' };

export class ConnectProber implements HostProber {
  private readonly out: HostVerdict[] = [];
  private readonly queue: string[] = [];
  private running = 0;
  private wake?: () => void;
  readonly counters: Record<string, number> = { probes: 0 };

  constructor(private readonly opts: ConnectProberOptions) {}

  get undecided(): number {
    return this.queue.length + this.running;
  }

  async probe(family: 4 | 6, addrs: Uint8Array): Promise<void> {
    const width = family === 4 ? 4 : 16;
    for (let o = 0; o < addrs.length; o += width) this.queue.push(addrText(addrs, o, family));
    this.pump();
  }

  private pump(): void {
    while (this.running < this.opts.maxParallel && this.queue.length > 0 && !this.opts.signal?.aborted) {
      const ip = this.queue.shift()!;
      this.running++;
      void this.ping(ip).then((v) => {
        this.running--;
        this.out.push(v);
        this.pump();
        this.wake?.();
      });
    }
  }

  private async ping(ip: string): Promise<HostVerdict> {
    const tries = this.opts.ports.map((port) => this.connect(ip, port));
    let why: string | undefined;
    // The first answer that proves the host up decides; otherwise all must fail.
    return new Promise((resolve) => {
      let left = tries.length;
      for (const t of tries) {
        void t.then((r) => {
          if (r.up) { left = -1; resolve({ ip, up: true, reason: r.reason, rtt: r.rtt }); return; }
          if (r.reason !== 'no-response') why ??= r.reason;
          if (--left === 0) resolve({ ip, up: false, reason: why ?? 'no-response' });
        });
      }
    });
  }

  private connect(ip: string, port: number): Promise<{ up: boolean; reason: string; rtt?: number }> {
    this.counters.probes!++;
    const t0 = performance.now();
    return new Promise((resolve) => {
      const s = net.connect({ host: ip, port });
      const done = (r: { up: boolean; reason: string; rtt?: number }) => { clearTimeout(timer); s.destroy(); resolve(r); };
      const timer = setTimeout(() => done({ up: false, reason: 'no-response' }), this.opts.timeoutMs);
      s.once('connect', () => done({ up: true, reason: 'syn-ack', rtt: performance.now() - t0 }));
      s.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED') done({ up: true, reason: 'conn-refused', rtt: performance.now() - t0 });
        else done({ up: false, reason: ERRNO_REASON[e.code ?? ''] ?? 'no-response' });
      });
    });
  }

  take(): HostVerdict[] {
    return this.out.splice(0, this.out.length);
  }

  async step(): Promise<void> {
    if (this.out.length > 0 || this.undecided === 0) return;
    await new Promise<void>((r) => { this.wake = r; setTimeout(r, 50); });
    this.wake = undefined;
  }

  async settle(): Promise<void> {
    while (this.undecided > 0 && !this.opts.signal?.aborted) await this.step();
  }

  async close(): Promise<void> {
    this.queue.length = 0;
  }
}
