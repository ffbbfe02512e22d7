/** The TCP connect scan (-sT): kernel sockets, bounded parallelism, retries, optional pacing. */
import net from 'node:net';
import { probesOf, type PacketTrace, type PortRecord, type PortState, type ProbeBatch } from '../records/index.js';
import type { Decided, ScanEngine } from './scan-engine.js';
import { TokenBucket } from './token-bucket.js';

/** The outcome of one connect() to a TCP port, in nmap's vocabulary. */
export interface ConnectOutcome {
  state: PortState;
  reason: string;
  rtt: number | null;
  /** True when the attempt said nothing about the port (timeout, or a local resource limit). */
  retryable: boolean;
  /** True when the failure was our own resources (fds, ephemeral ports), not the network's answer. */
  localShortage?: boolean;
  /** The connect error's code (ECONNREFUSED, …), when it failed with one. */
  code?: string;
}

/** What nmap's CONN trace line says of an outcome (strerror's words); undefined for a timeout. */
const CONN_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused', ECONNRESET: 'Connection reset by peer', EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable', EACCES: 'Permission denied', EPERM: 'Operation not permitted',
  ETIMEDOUT: 'Connection timed out',
};
function connWords(o: ConnectOutcome): string | undefined {
  if (o.code) return CONN_WORDS[o.code] ?? o.code;
  return o.state === 'open' ? 'Connected' : undefined;
}

/** Errors a host or router reports about the path: the port is filtered, with nmap's reason names. */
const UNREACHABLE_REASONS: Readonly<Record<string, string>> = {
  EHOSTUNREACH: 'host-unreach',
  ENETUNREACH: 'net-unreach',
  EACCES: 'admin-prohibited',
  EPERM: 'admin-prohibited',
};

/** Local shortages: retry later, they say nothing about the port. */
const LOCAL_SHORTAGE = new Set(['EMFILE', 'ENFILE', 'EADDRNOTAVAIL', 'ENOBUFS', 'EAGAIN']);

/**
 * One TCP connect attempt, closed with a RST as soon as it succeeds (so an open port costs the
 * target no TIME_WAIT and us no lingering socket). Never rejects.
 */
export function connectOnce(ip: string, port: number, timeoutMs: number, selfConnects = 0): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = new net.Socket();
    let settled = false;
    const finish = (outcome: ConnectOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      if (outcome.state === 'open') socket.resetAndDestroy();
      else socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ state: 'filtered', reason: 'no-response', rtt: null, retryable: true }),
      timeoutMs,
    );
    socket.once('connect', () => {
      // A connect to one of this machine's addresses on a port in the ephemeral range can be given
      // that very port as its source: TCP's simultaneous open then connects the socket to itself,
      // and nothing listens there. Try again from another source port.
      if (socket.localPort === port && socket.localAddress === socket.remoteAddress && selfConnects < 3) {
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on('error', () => {});
        socket.destroy();
        resolve(connectOnce(ip, port, timeoutMs, selfConnects + 1));
        return;
      }
      finish({ state: 'open', reason: 'syn-ack', rtt: performance.now() - started, retryable: false });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      classify(code, performance.now() - started, (o) => finish({ ...o, code }));
    });
    socket.connect({ host: ip, port, noDelay: true });
  });
}

/** A connect error in nmap's vocabulary. */
function classify(code: string, rtt: number, finish: (o: ConnectOutcome) => void): void {
  if (code === 'ECONNREFUSED') return finish({ state: 'closed', reason: 'conn-refused', rtt, retryable: false });
  // A reset after the handshake (a service that accepts, then closes with SO_LINGER 0): the
  // port answered SYN with SYN-ACK, so it is open, as nmap says. A RST to the SYN is ECONNREFUSED.
  if (code === 'ECONNRESET') return finish({ state: 'open', reason: 'syn-ack', rtt, retryable: false });
  const unreachable = UNREACHABLE_REASONS[code];
  if (unreachable) return finish({ state: 'filtered', reason: unreachable, rtt, retryable: false });
  if (code === 'ETIMEDOUT') return finish({ state: 'filtered', reason: 'no-response', rtt: null, retryable: true });
  if (LOCAL_SHORTAGE.has(code)) {
    return finish({ state: 'filtered', reason: 'no-response', rtt: null, retryable: true, localShortage: true });
  }
  finish({ state: 'filtered', reason: `error-${code.toLowerCase() || 'unknown'}`, rtt, retryable: false });
}

export interface ConnectScanOptions {
  /** Most connects in flight at once. */
  maxParallelism: number;
  /** How long one attempt waits for an answer, ms. */
  timeoutMs: number;
  /** Extra attempts for a probe that got no answer. */
  maxRetries: number;
  /** Most connects started per second. */
  maxRate?: number;
  signal?: AbortSignal;
  /** --packet-trace: nmap's CONN lines (the attempt, then its outcome). */
  packetTrace?: PacketTrace;
}

/** Per batch: probes still undecided. A fully fed batch with none left gets a progress record. */
interface BatchState {
  start: number;
  count: number;
  left: number;
  fed: boolean;
}

export class ConnectScanner implements ScanEngine {
  readonly counters = { sent: 0, open: 0, closed: 0, filtered: 0, retries: 0 };
  private readonly bucket: TokenBucket | undefined;
  private readonly done: Decided[] = [];
  private inFlight = 0;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: ConnectScanOptions) {
    this.bucket = opts.maxRate ? new TokenBucket(opts.maxRate) : undefined;
  }

  get aborted(): boolean {
    return this.opts.signal?.aborted === true;
  }

  async *add(batch: ProbeBatch): AsyncGenerator<Decided, void, undefined> {
    const state: BatchState = { start: batch.start, count: batch.count, left: batch.count, fed: false };
    for (const probe of probesOf(batch)) {
      if (this.aborted) return;
      if (probe.proto !== 'tcp') {
        state.left--;
        continue;
      }
      while (this.inFlight >= this.opts.maxParallelism) {
        await this.completion();
        yield* this.drain();
      }
      if (this.bucket) await this.bucket.take(this.opts.signal);
      if (this.aborted) return;
      this.inFlight++;
      void this.probePort(probe.ip, probe.port).then((rec) => this.settle(rec, state));
      yield* this.drain();
    }
    state.fed = true;
    this.finishBatch(state);
    yield* this.drain();
  }

  /** Nothing is kept between groups: the end of one is the end of its probes in flight. */
  finishGroup(): AsyncGenerator<Decided, void, undefined> {
    return this.finish();
  }

  async *finish(): AsyncGenerator<Decided, void, undefined> {
    while (this.inFlight > 0) {
      await this.completion();
      yield* this.drain();
    }
    yield* this.drain();
  }

  async close(): Promise<void> {
    // Sockets close as their attempts end; nothing else is held.
  }

  private *drain(): Generator<Decided> {
    while (this.done.length > 0) yield this.done.shift()!;
  }

  private completion(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private finishBatch(b: BatchState): void {
    if (b.fed && b.left === 0) this.done.push({ type: 'progress', start: b.start, count: b.count });
  }

  private settle(rec: PortRecord, batch: BatchState): void {
    this.counters[rec.state === 'open' ? 'open' : rec.state === 'closed' ? 'closed' : 'filtered']++;
    this.done.push(rec);
    batch.left--;
    this.finishBatch(batch);
    this.inFlight--;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async probePort(ip: string, port: number): Promise<PortRecord> {
    let attempt = 0;
    let shortageBackoff = 10;
    for (;;) {
      this.counters.sent++;
      const trace = this.opts.packetTrace?.enabled() ? this.opts.packetTrace : undefined;
      const where = `TCP localhost > ${ip}:${port}`;
      trace?.write(`CONN (${trace.clock(Date.now())}) ${where} => Operation now in progress`);
      const outcome = await connectOnce(ip, port, this.opts.timeoutMs);
      const words = trace && connWords(outcome);
      if (words) trace.write(`CONN (${trace.clock(Date.now())}) ${where} => ${words}`);
      if (outcome.localShortage && !this.aborted) {
        // Out of fds or ephemeral ports: not an answer from the target. Back off and try again.
        this.counters.sent--;
        await new Promise((r) => setTimeout(r, shortageBackoff));
        shortageBackoff = Math.min(shortageBackoff * 2, 1000);
        continue;
      }
      if (outcome.retryable && attempt < this.opts.maxRetries && !this.aborted) {
        attempt++;
        this.counters.retries++;
        continue;
      }
      return {
        type: 'port', ip, port, proto: 'tcp', state: outcome.state, reason: outcome.reason,
        ttl: null, rtt: outcome.rtt === null ? null : Math.round(outcome.rtt * 1000) / 1000, time: Date.now(),
      };
    }
  }
}
