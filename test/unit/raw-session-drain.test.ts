// "Done" waits for the receiver (issue 13): a batch's progress record — what --resume skips — must
// come after every reply captured before its deadline, whether that reply is still in the capture
// ring (not parsed yet) or already parsed but still on its way to JavaScript. The raw session is
// driven here against a fake engine at the native boundary that holds such replies back until the
// session asks for a drain barrier (and delivers them at stop() otherwise, as native would).
import t from 'tap';
import type { RawEngine, RawEngineConfig, RawEngineStats } from '../../native/index.js';
import { RawSession } from '../../stages/probes/raw-session.js';
import { probeModule } from '../../stages/probes/index.js';
import { replyLayout } from '../../stages/probes/reply.js';
import type { NextHop, RawRoute } from '../../stages/probes/routing.js';
import type { AnyRecord, ProbeBatch } from '../../stages/records/index.js';

const TARGET = [198, 18, 0, 2];

/** One packed reply as native lays it out: a SYN-ACK from TARGET:port answering entry `index` of `slot`. */
function synAck(slot: number, index: number, port: number): Buffer {
  const l = replyLayout();
  const b = Buffer.alloc(l.size);
  const at = (f: keyof typeof l.fields) => l.fields[f][0];
  b.writeDoubleLE(index, at('index'));
  b.writeDoubleLE(Date.now(), at('timeMs'));
  b.writeFloatLE(0.2, at('rttMs'));
  b.writeUInt32LE(slot, at('slot'));
  Buffer.from(TARGET).copy(b, at('addr'));
  Buffer.from(TARGET).copy(b, at('from'));
  b.writeUInt16LE(port, at('port'));
  b.writeUInt16LE(64240, at('window'));
  b[at('family')] = 4;
  b[at('kind')] = l.kinds.tcp;
  b[at('ttl')] = 64;
  b[at('tcpFlags')] = 0x12;
  b[at('tries')] = 1;
  return b;
}

/** Where the fake keeps the reply to probe 0 until someone drains it. */
type HeldIn = 'ring' | 'queue';

class FakeEngine implements RawEngine {
  private seq = 0;
  private barriers = 0;
  private readonly slots = new Map<number, { count: number; answered: Set<number>; start: number; ports: Uint8Array }>();
  /** Replies captured but not parsed (their probe's bit is not set yet). */
  private ring: Array<{ slot: number; i: number }> = [];
  /** Replies parsed (bit set) but not yet handed to JS. */
  private queue: Buffer[] = [];
  barrierCalls: boolean[] = [];
  constructor(private readonly onReplies: (packed: Buffer, barrier?: number) => void, private readonly held: HeldIn) {}
  start(): void {}
  enqueue(_family: 4 | 6, start: number, _addrs: Uint8Array, ports: Uint8Array) {
    const slot = this.slots.size;
    this.slots.set(slot, { count: ports.length / 2, answered: new Set(), start, ports });
    // Probe 0 is answered at once; its reply is held where the case says.
    if (this.held === 'ring') this.ring.push({ slot, i: 0 });
    else this.parse(slot, 0);
    return { slot, seq: ++this.seq };
  }
  private parse(slot: number, i: number): void {
    const s = this.slots.get(slot);
    if (!s) return; // the slot was retired: native counts such a reply invalid and drops it
    s.answered.add(i);
    this.queue.push(synAck(slot, s.start + i, (s.ports[2 * i]! << 8) | s.ports[2 * i + 1]!));
  }
  private deliver(): void {
    for (const b of this.queue.splice(0)) this.onReplies(b);
  }
  resend() { return null; }
  answeredCount(slot: number) { return this.slots.get(slot)!.answered.size; }
  roundSeconds() { return 0; }
  retire(slot: number): Buffer {
    const s = this.slots.get(slot)!;
    this.slots.delete(slot);
    const out = Buffer.alloc((s.count + 7) >> 3);
    for (const i of s.answered) out[i >> 3]! |= 1 << (i & 7);
    return out;
  }
  answered(slot: number): Buffer {
    const s = this.slots.get(slot)!;
    const out = Buffer.alloc((s.count + 7) >> 3);
    for (const i of s.answered) out[i >> 3]! |= 1 << (i & 7);
    return out;
  }
  sentSeq() { return this.seq; }
  queuedProbes() { return 0; }
  setRate() {}
  setWindow() {}
  outstanding() { return 0; }
  abandon() {}
  stats(): RawEngineStats {
    return { sent: this.seq, sendErrors: 0, sendRetries: 0, captured: 0, replies: 0, invalid: 0, duplicates: 0, foreign: 0, pcapDropped: 0, ifDropped: 0, rstReplies: 0, windowWaits: 0, minRateSends: 0, sendSeconds: 0 };
  }
  setTrace() {}
  takeTrace() { return null; }
  barrier(ring: boolean): number {
    const id = ++this.barriers;
    this.barrierCalls.push(ring);
    setTimeout(() => {
      if (ring) for (const r of this.ring.splice(0)) this.parse(r.slot, r.i);
      this.deliver();
      this.onReplies(Buffer.alloc(0), id);
    }, 3);
    return id;
  }
  async stop(): Promise<void> {
    // As native's stop: the ring is read to its end, then everything parsed reaches JS.
    for (const r of this.ring.splice(0)) this.parse(r.slot, r.i);
    await new Promise((r) => setTimeout(r, 1));
    this.deliver();
  }
}

const route: RawRoute = {
  family: 4, ifname: 'fake0', source: '198.18.0.1', sourceBytes: Uint8Array.from([198, 18, 0, 1]), srcMac: new Uint8Array(6),
  nextHop: '198.18.0.2', nextHopMac: new Uint8Array(6), onLink: false, local: false, linkType: 'none', ipLink: true,
};
const hop: NextHop = { nextHop: '198.18.0.2', onLink: false, ifname: 'fake0', local: false, type: 'unicast', ipLink: true };

async function scan(held: HeldIn): Promise<{ records: AnyRecord[]; engine: FakeEngine }> {
  let engine: FakeEngine | undefined;
  const session = new RawSession({
    module: probeModule('syn')!, maxRetries: 0, initialTimeoutMs: 100, minTimeoutMs: 100, maxTimeoutMs: 100, fixedRate: true,
    boundary: {
      openEngine: (_c: RawEngineConfig, onReplies) => (engine = new FakeEngine(onReplies, held)),
      resolveRoute: async () => route,
      nextHops: async (targets) => new Map(targets.map((a) => [a, hop])),
    },
  });
  const batch: ProbeBatch = {
    type: 'probes', family: 4, start: 0, count: 2, addrs: Uint8Array.from([...TARGET, ...TARGET]), ports: Uint8Array.from([0, 80, 0, 81]), protos: Uint8Array.from([6, 6]),
  };
  const records: AnyRecord[] = [];
  for await (const r of session.add(batch)) records.push(r);
  for await (const r of session.finish()) records.push(r);
  return { records, engine: engine! };
}

const line = (r: AnyRecord) => (r.type === 'port' ? `${r.port} ${r.state} ${r.reason}` : r.type === 'progress' ? `progress ${r.start}+${r.count}` : r.type);

for (const held of ['queue', 'ring'] as const) {
  t.test(`a reply ${held === 'ring' ? 'still in the capture ring' : 'parsed but not yet delivered'} at the deadline comes before its batch's progress`, async (t) => {
    const { records, engine } = await scan(held);
    const lines = records.map(line);
    t.same(lines.slice(0, 2).sort(), ['80 open syn-ack', '81 filtered no-response'], `port 80 answered in time is open; 81 filtered (${lines.join(', ')})`);
    t.equal(lines.at(-1), 'progress 0+2', 'the progress record (the batch is done) comes last');
    t.equal(lines.length, 3, 'nothing else: no port reported twice');
    t.ok(engine.barrierCalls.includes(true), 'a batch whose wait ran out is closed behind a ring barrier');
  });
}
