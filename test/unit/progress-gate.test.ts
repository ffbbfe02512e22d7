// A batch's progress record means "every stage so far has finished with it": detect holds it
// until the open ports read before it are probed, and never releases it for work cut short.
import t from 'tap';
import net from 'node:net';
import { detectRecords, parseServiceProbes } from '../../stages/detect/index.js';
import { newHeader, newTrailer, ProgressGate, type AnyRecord, type PortRecord, type ProgressRecord } from '../../stages/records/index.js';

const prog = (start: number): ProgressRecord => ({ type: 'progress', start, count: 1 });

t.test('ProgressGate: held behind earlier work, released in order, never for unfinished work', async (t) => {
  const g = new ProgressGate();
  g.hold(prog(0));
  t.same(g.release(), [prog(0)], 'nothing begun before it: released at once');
  const a = g.begin();
  const b = g.begin();
  g.hold(prog(1));
  const c = g.begin();
  g.hold(prog(2));
  t.same(g.release(), [], 'work open');
  g.finish(b);
  t.same(g.release(), [], 'a still open');
  g.finish(c);
  t.same(g.release(), [], 'a still holds both');
  g.finish(a);
  t.same(g.release(), [prog(1), prog(2)], 'both, in order');
  const d = g.begin();
  g.hold(prog(3));
  const e = g.begin();
  g.hold(prog(4));
  g.finish(e);
  t.same(g.release(), [], 'a later finish does not release an earlier batch');
  t.equal(g.pending, 2, 'd never finishes: both stay held');
  g.finish(d);
  g.finish(d);
  t.same(g.release(), [prog(3), prog(4)]);
  t.equal(g.pending, 0);
});

t.test('ProgressGate: random interleavings match the definition', async (t) => {
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let round = 0; round < 200; round++) {
    const g = new ProgressGate();
    const open = new Set<number>();
    const held: Array<{ id: number; before: number[] }> = [];
    const released: number[] = [];
    let next = 0;
    for (let step = 0; step < 60; step++) {
      const op = rnd(3);
      if (op === 0) open.add(g.begin());
      else if (op === 1) {
        held.push({ id: next, before: [...open] });
        g.hold(prog(next++));
      } else if (open.size > 0) {
        const k = [...open][rnd(open.size)]!;
        open.delete(k);
        g.finish(k);
      }
      released.push(...g.release().map((r) => r.start));
      // The definition: a record is out iff it and every record before it wait for no open work.
      let expect = 0;
      while (expect < held.length && held[expect]!.before.every((x) => !open.has(x))) expect++;
      if (released.length !== expect) {
        t.fail(`round ${round} step ${step}: released ${released.length}, expected ${expect}`);
        return;
      }
    }
    t.same(released, held.slice(0, released.length).map((h) => h.id), 'in order');
  }
});

/** A service that answers its greeting after `delayMs`. */
async function slowBanner(delayMs: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    setTimeout(() => s.end('HELLO-GATE 1.0\r\n'), delayMs);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  return { port, close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }) };
}

const probes = () => parseServiceProbes('Probe TCP NULL q||\ntotalwaitms 3000\nmatch gate m|^HELLO-GATE ([\\d.]+)| p/Gate/ v/$1/\n', 'test');

function portRec(port: number): PortRecord {
  return { type: 'port', ip: '127.0.0.1', port, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 0.1, time: Date.now() };
}

t.test('detect: a batch\'s progress record comes after the services of the ports before it', async (t) => {
  const srv = await slowBanner(100);
  t.teardown(() => srv.close());
  async function* src(): AsyncGenerator<AnyRecord> {
    yield newHeader(['test']);
    yield portRec(srv.port);
    yield { type: 'port', ip: '127.0.0.1', port: 1, proto: 'tcp', state: 'closed', reason: 'conn-refused', ttl: null, rtt: 0.1, time: Date.now() } as PortRecord;
    yield prog(0);
    yield newTrailer();
  }
  const types: string[] = [];
  for await (const r of detectRecords({ probes: probes(), intensity: 7 })(src())) types.push(r.type === 'service' ? `service:${(r as { product?: string }).product}` : r.type);
  t.same(types, ['scan', 'port', 'port', 'service:Gate', 'progress', 'end'], 'progress after the service it waited for');
});

t.test('detect: SIGINT mid-probe: the batch\'s progress record is never released', async (t) => {
  const srv = await slowBanner(5000);
  t.teardown(() => srv.close());
  const ac = new AbortController();
  async function* src(): AsyncGenerator<AnyRecord> {
    yield newHeader(['test']);
    yield prog(0); // a batch without open ports: free to go
    yield portRec(srv.port);
    yield prog(1);
    setTimeout(() => ac.abort(), 200);
    yield newTrailer();
  }
  const out: AnyRecord[] = [];
  for await (const r of detectRecords({ probes: probes(), intensity: 7, nullOverlapMs: 4000, idleMs: 4000, signal: ac.signal })(src())) out.push(r);
  t.same(out.filter((r) => r.type === 'progress').map((r) => (r as ProgressRecord).start), [0], 'only the batch with no unfinished work');
  t.equal(out.at(-1)!.type, 'end');
  t.equal((out.at(-1) as { interrupted: boolean }).interrupted, true);
});
