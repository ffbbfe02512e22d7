/**
 * The SYN scan (-sS): raw SYNs from the native engine, replies classified by the target's packets
 * only (SYN-ACK → open, RST → closed, ICMP unreachable → filtered, silence after the retries →
 * filtered/no-response). Per-probe state is one bit per probe of the batches in flight (kept by the
 * engine, which also drops duplicate replies); JS decides when a batch is re-sent and when it is done.
 *
 * The kernel answers each SYN-ACK with a RST of its own (it knows no such connection); that RST goes
 * out and never reaches the receiver, which only captures inbound packets, so it cannot affect results.
 */
import { randomInt } from 'node:crypto';
import { loadNative, REPLY_KIND, REPLY_RECORD_SIZE, type SynEngine } from '../../native/index.js';
import { formatIPv6, PROTO_NUMBER, UserInputError, type PortRecord, type ProbeBatch, type ProgressRecord } from '../records/index.js';
import { addressBytes as addressBytesOf, nextHopOf, resolveRawRoute, type RawRoute } from './routing.js';
import { RttEstimator } from './rtt.js';
import type { ScanEngine } from './scan-engine.js';

export interface SynScanOptions {
  /** Fixed source port (-g); default: random per scan, above the kernel's ephemeral range. */
  sourcePort?: number;
  iface?: string;
  sourceAddress?: string;
  /** Packets per second (retries included); undefined: as fast as the path takes them. */
  maxRate?: number;
  maxRetries: number;
  initialTimeoutMs: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
  /** Cooldown after a probe's last attempt before it counts as unanswered (--wait), ms. */
  waitMs?: number;
  ttl?: number;
  signal?: AbortSignal;
}

export interface SynCounters {
  /** Probes handed to the engine. */
  probes: number;
  /** SYNs on the wire (first tries and retries). */
  sent: number;
  /** Probes re-sent because they had no answer yet. */
  retries: number;
  open: number;
  closed: number;
  filtered: number;
  invalid: number;
  duplicates: number;
  [k: string]: number;
}

interface InFlight {
  slot: number;
  family: 4 | 6;
  start: number;
  addrs: Uint8Array;
  ports: Uint8Array;
  seq: number;
  attempt: number;
  sentAt?: number;
}

const ICMP4_REASONS: Record<number, string> = {
  0: 'net-unreach', 1: 'host-unreach', 2: 'proto-unreach', 3: 'port-unreach', 9: 'net-prohibited',
  10: 'host-prohibited', 13: 'admin-prohibited',
};
const ICMP6_REASONS: Record<number, string> = {
  0: 'net-unreach', 1: 'admin-prohibited', 2: 'beyond-scope', 3: 'host-unreach', 4: 'port-unreach', 5: 'admin-prohibited', 6: 'reject-route',
};

function addrText(b: Uint8Array, off: number, family: 4 | 6): string {
  return family === 4 ? `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}` : formatIPv6(b.subarray(off, off + 16));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One SYN scan session: feed it probe batches with `add`, pull finished port records with
 * `take`, and `finish` when the input ended. One native engine per address family, created
 * on the first batch of that family (its route decides interface, source and next hop).
 */
export class SynScanner implements ScanEngine {
  readonly counters: SynCounters = { probes: 0, sent: 0, retries: 0, open: 0, closed: 0, filtered: 0, invalid: 0, duplicates: 0 };
  private readonly engines = new Map<4 | 6, { engine: SynEngine; route: RawRoute }>();
  private readonly inflight: InFlight[] = [];
  private readonly replyBuffers: Buffer[] = [];
  private closed = false;
  private readonly checkedPrefixes = new Set<string>();
  /** Retired batches whose unanswered probes are still to be reported (decoded lazily). */
  private readonly unanswered: Array<{ b: InFlight; answered: Buffer; time: number }> = [];
  private readonly rtt: RttEstimator;
  private readonly sourcePort: number;
  private readonly key = new Uint8Array(16);
  /** Limit on probes queued in native but not yet sent (backpressure towards the input). */
  private readonly queueLimit: number;

  constructor(private readonly opts: SynScanOptions) {
    this.rtt = new RttEstimator(opts.initialTimeoutMs, opts.minTimeoutMs, opts.maxTimeoutMs);
    // Above Linux's default ephemeral range (32768–60999) so no kernel socket shares our port.
    this.sourcePort = opts.sourcePort ?? randomInt(61000, 65536);
    crypto.getRandomValues(this.key);
    this.queueLimit = opts.maxRate ? Math.max(16384, Math.ceil(opts.maxRate * 0.25)) : 131072;
  }

  get aborted(): boolean {
    return this.opts.signal?.aborted === true;
  }

  /**
   * Finished records so far: replies in arrival order, and probes that ran out of attempts. After
   * a retired run's last record comes a progress record for its positions (what --resume skips).
   */
  *take(): Generator<PortRecord | ProgressRecord> {
    for (;;) {
      const packed = this.replyBuffers.shift();
      if (packed) {
        yield* this.decodeReplies(packed);
        continue;
      }
      const retired = this.unanswered.shift();
      if (!retired) return;
      yield* this.noResponse(retired.b, retired.answered, retired.time);
      yield { type: 'progress', start: retired.b.start, count: retired.b.ports.length / 2 };
    }
  }

  get pending(): number {
    return this.inflight.length;
  }

  private async engineFor(family: 4 | 6, firstAddr: string): Promise<SynEngine> {
    const have = this.engines.get(family);
    if (have) return have.engine;
    const route = await resolveRawRoute(firstAddr, { iface: this.opts.iface, source: this.opts.sourceAddress });
    if (route.local) {
      // A frame injected on a packet socket enters the stack as if from outside, and the kernel
      // drops it as a martian when it claims to come from one of its own addresses.
      throw new UserInputError(
        `-sS cannot probe ${firstAddr}: it is an address of this machine, which drops raw frames addressed to itself; scan it with -sT`,
      );
    }
    const native = loadNative();
    const engine = new native.SynEngine(
      {
        ifname: route.ifname,
        srcMac: route.srcMac,
        ...(family === 4 ? { src4: route.sourceBytes, dstMac4: route.nextHopMac } : { src6: route.sourceBytes, dstMac6: route.nextHopMac }),
        sourcePort: this.sourcePort,
        ttl: this.opts.ttl ?? 64,
        window: 1024,
        rate: this.opts.maxRate ?? 0,
        key: this.key,
      },
      (packed) => this.onReplies(packed),
    );
    engine.start();
    this.engines.set(family, { engine, route });
    return engine;
  }

  /**
   * Replies stay packed (56 bytes each, off the JS heap) until the records are pulled: a consumer
   * that lags behind a flood of replies then costs a Buffer, not an object per reply.
   */
  private onReplies(packed: Buffer): void {
    for (let off = 0; off + REPLY_RECORD_SIZE <= packed.byteLength; off += REPLY_RECORD_SIZE) {
      const rtt = packed.readFloatLE(off + 16);
      if (packed[off + 45] !== REPLY_KIND.icmp && rtt >= 0) this.rtt.sample(rtt);
    }
    this.replyBuffers.push(packed);
  }

  private *decodeReplies(packed: Buffer): Generator<PortRecord> {
    const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    for (let off = 0; off + REPLY_RECORD_SIZE <= packed.byteLength; off += REPLY_RECORD_SIZE) {
      const rtt = dv.getFloat32(off + 16, true);
      const family = packed[off + 44] as 4 | 6;
      const kind = packed[off + 45]!;
      const code = packed[off + 48]!;
      let state: PortRecord['state'];
      let reason: string;
      if (kind === REPLY_KIND.synAck) { state = 'open'; reason = 'syn-ack'; }
      else if (kind === REPLY_KIND.rst) { state = 'closed'; reason = 'reset'; }
      else { state = 'filtered'; reason = (family === 4 ? ICMP4_REASONS[code] : ICMP6_REASONS[code]) ?? 'unreach'; }
      this.counters[state === 'open' ? 'open' : state === 'closed' ? 'closed' : 'filtered']++;
      yield {
        type: 'port',
        ip: addrText(packed, off + 24, family),
        port: dv.getUint16(off + 40, true),
        proto: 'tcp',
        state,
        reason,
        ttl: packed[off + 46]!,
        rtt: rtt >= 0 ? Math.round(rtt * 1000) / 1000 : null,
        time: Math.round(dv.getFloat64(off + 8, true)),
        ...(kind === REPLY_KIND.icmp ? {} : { window: dv.getUint16(off + 42, true) }),
      };
    }
  }

  /**
   * Queues a probe batch (TCP entries only; others are skipped and counted by the caller). Returns
   * when the engine took it; meanwhile it keeps retiring and re-sending batches in flight.
   */
  async *add(batch: ProbeBatch): AsyncGenerator<PortRecord | ProgressRecord, void, undefined> {
    await this.queue(batch);
    yield* this.take();
  }

  private async queue(batch: ProbeBatch): Promise<void> {
    const width = batch.family === 4 ? 4 : 16;
    const tcp = PROTO_NUMBER.tcp;
    // Runs of consecutive TCP entries keep "index = start + i" true for each piece.
    for (let i = 0; i < batch.count; ) {
      if (batch.protos[i] !== tcp) { i++; continue; }
      let j = i;
      while (j < batch.count && batch.protos[j] === tcp) j++;
      await this.enqueue(batch.family, batch.start + i, batch.addrs.subarray(i * width, j * width), batch.ports.subarray(i * 2, j * 2));
      i = j;
    }
  }

  /**
   * Every probe of a family leaves for one next hop. When that next hop is an on-link target,
   * another on-link host would get frames addressed to the wrong MAC: such a scan is refused.
   * Other addresses are checked once per /24 (/64): their route must lead through that same host.
   */
  private async checkNextHop(family: 4 | 6, addrs: Uint8Array): Promise<void> {
    const { route } = this.engines.get(family)!;
    if (!route.onLink) return;
    const width = family === 4 ? 4 : 16;
    const hop = addressBytesOf(route.nextHop);
    const prefix = family === 4 ? 3 : 8;
    for (let o = 0; o < addrs.length; o += width) {
      let same = true;
      for (let k = 0; k < width && same; k++) same = addrs[o + k] === hop[k];
      if (same) continue;
      const key = `${family}:${Buffer.from(addrs.subarray(o, o + prefix)).toString('hex')}`;
      if (this.checkedPrefixes.has(key)) continue;
      const other = addrText(addrs, o, family);
      const r = await nextHopOf(other, { iface: this.opts.iface, source: this.opts.sourceAddress });
      if (r.onLink || r.nextHop !== route.nextHop || r.ifname !== route.ifname) {
        throw new UserInputError(
          `-sS sends every IPv${family} probe to one next hop (${route.nextHop} on ${route.ifname}), but ${other} ` +
            `${r.onLink ? 'is another host on the local link' : `goes through ${r.nextHop}`}: scan it in a separate run, or use -sT`,
        );
      }
      this.checkedPrefixes.add(key);
    }
  }

  private async enqueue(family: 4 | 6, start: number, addrs: Uint8Array, ports: Uint8Array): Promise<void> {
    const engine = await this.engineFor(family, addrText(addrs, 0, family));
    await this.checkNextHop(family, addrs);
    for (;;) {
      if (this.aborted) return;
      this.service();
      if (engine.queuedProbes() < this.queueLimit) {
        const r = engine.enqueue(family, start, addrs, ports);
        if (r) {
          this.inflight.push({ slot: r.slot, family, start, addrs, ports, seq: r.seq, attempt: 0 });
          this.counters.probes += ports.length / 2;
          return;
        }
      }
      await sleep(2);
    }
  }

  /** Notes finished sends, re-sends batches whose wait ran out, and retires finished ones. */
  service(): void {
    const now = performance.now();
    const sentSeq = new Map<4 | 6, number>();
    for (const [f, e] of this.engines) sentSeq.set(f, e.engine.sentSeq());
    const timeout = this.rtt.timeoutMs;
    for (let k = 0; k < this.inflight.length; k++) {
      const b = this.inflight[k]!;
      if (this.aborted) {
        // Interrupted: stop now. What was answered is already reported; the rest is not waited for.
        this.retire(this.engines.get(b.family)!.engine, b);
        this.inflight.splice(k--, 1);
        continue;
      }
      if (b.sentAt === undefined) {
        if (b.seq <= sentSeq.get(b.family)!) b.sentAt = now;
        else continue;
      }
      const last = b.attempt >= this.opts.maxRetries;
      const wait = last ? Math.max(timeout, this.opts.waitMs ?? 0) : timeout;
      if (now - b.sentAt < wait && !this.aborted) continue;
      const engine = this.engines.get(b.family)!.engine;
      if (!last && !this.aborted) {
        const again = engine.resend(b.slot);
        if (again) {
          this.counters.retries += again.count;
          b.attempt++;
          b.seq = again.seq;
          b.sentAt = undefined;
          continue;
        }
      }
      this.retire(engine, b);
      this.inflight.splice(k--, 1);
    }
  }

  private retire(engine: SynEngine, b: InFlight): void {
    const answered = engine.retire(b.slot);
    if (this.aborted) return; // an interrupted scan reports what it found, not what it did not wait for
    this.unanswered.push({ b, answered, time: Date.now() });
  }

  private *noResponse(b: InFlight, answered: Buffer, time: number): Generator<PortRecord> {
    const width = b.family === 4 ? 4 : 16;
    const n = b.ports.length / 2;
    for (let i = 0; i < n; i++) {
      if (answered[i >> 3]! & (1 << (i & 7))) continue;
      this.counters.filtered++;
      yield {
        type: 'port', ip: addrText(b.addrs, i * width, b.family), port: (b.ports[i * 2]! << 8) | b.ports[i * 2 + 1]!,
        proto: 'tcp', state: 'filtered', reason: 'no-response', ttl: null, rtt: null, time,
      };
    }
  }

  /** Waits out the batches in flight (yielding records as they finish), then stops the engines. */
  async *finish(): AsyncGenerator<PortRecord | ProgressRecord> {
    if (this.aborted) await this.close(); // stop sending at once; replies captured so far still arrive
    while (this.inflight.length > 0) {
      this.service();
      yield* this.take();
      if (this.inflight.length > 0) await sleep(this.aborted ? 0 : 5);
    }
    await this.close();
    yield* this.take();
  }

  /** Stops the engines (idempotent); every reply captured so far is delivered first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [, { engine }] of this.engines) {
      await engine.stop();
      const s = engine.stats();
      this.counters.invalid += s.invalid;
      this.counters.duplicates += s.duplicates;
      this.counters.sent += s.sent;
      if (s.sendRetries) this.counters.sendRetries = (this.counters.sendRetries ?? 0) + s.sendRetries;
      if (s.sendSeconds > 0) this.counters.pps = Math.max(this.counters.pps ?? 0, Math.round(s.sent / s.sendSeconds));
      if (s.sendErrors) this.counters.sendErrors = (this.counters.sendErrors ?? 0) + s.sendErrors;
      if (s.pcapDropped) this.counters.pcapDropped = (this.counters.pcapDropped ?? 0) + s.pcapDropped;
      if (s.error) throw new Error(`SYN engine: ${s.error}`);
    }
  }
}
