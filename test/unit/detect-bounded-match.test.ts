// Hostile replies against the probe database: a pattern that backtracks catastrophically on a
// crafted banner is stopped at its time budget (counted), the scan goes on, and a search within
// budget returns what RegExp returns.
import t from 'tap';
import net from 'node:net';
import { BoundedMatcher, detectRecords, parseServiceProbes } from '../../stages/detect/index.js';
import { newHeader, newTrailer, type AnyRecord, type EndTrailer, type PortRecord, type ServiceRecord } from '../../stages/records/index.js';

t.test('BoundedMatcher: a search within budget returns its result; a catastrophic one is cut', async (t) => {
  const m = new BoundedMatcher({ responseBudgetMs: 300 });
  const re = /^SSH-([\d.]+)-OpenSSH_([\w._-]+)/;
  const data = 'SSH-2.0-OpenSSH_9.2p1 Debian\r\n';
  t.same([...m.withinBudget(() => re.exec(data))!], [...re.exec(data)!], 'same result as a direct exec');
  const evil = /^(a|aa)+$/i;
  const banner = `${'a'.repeat(60)}!`;
  t.equal(m.withinBudget(() => evil.exec(banner)), undefined, 'cut: no result');
  t.equal(m.cut, 1, 'and counted');
  t.same([...m.withinBudget(() => /^(a+)!$/.exec(banner))!], [banner, 'a'.repeat(60)], 'the next search runs normally');
  t.throws(() => m.withinBudget(() => { throw new Error('boom'); }), /boom/, 'other errors are not swallowed');
});

t.test('detect: a pathological pattern against a crafted banner; the scan finishes and says what was cut', async (t) => {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.end(`${'a'.repeat(50)}!\r\n`);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const s of sockets) s.destroy(); srv.close(); });
  const port = (srv.address() as net.AddressInfo).port;
  // Hand-written: an nmap-style match line whose regex backtracks exponentially on that banner.
  const probes = parseServiceProbes('Probe TCP NULL q||\ntotalwaitms 2000\nmatch evil m=^(a|aa)+$=i p/Evil/\n', 'test');
  async function* src(): AsyncGenerator<AnyRecord> {
    yield newHeader(['test']);
    yield { type: 'port', ip: '127.0.0.1', port, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 0.1, time: Date.now() } as PortRecord;
    yield newTrailer();
  }
  const out: AnyRecord[] = [];
  for await (const r of detectRecords({ probes, intensity: 7 })(src())) out.push(r);
  const svc = out.find((r) => r.type === 'service') as ServiceRecord | undefined;
  t.ok(svc && svc.product !== 'Evil', `the port still gets its service record (${svc?.name}/${svc?.method}), the runaway search counts as no match`);
  const trailer = out.at(-1) as EndTrailer;
  t.ok((trailer.counters.detect!.matchesCut ?? 0) >= 1, `the cut is counted (${trailer.counters.detect!.matchesCut})`);
});

t.test('detect: 40 ports probed at once on one abort signal raise no MaxListenersExceededWarning', async (t) => {
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  const ports: number[] = [];
  for (let k = 0; k < 40; k++) {
    const srv = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); setTimeout(() => s.end('HELLO\r\n'), 100); });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push(srv);
    ports.push((srv.address() as net.AddressInfo).port);
  }
  t.teardown(() => { for (const s of sockets) s.destroy(); for (const s of servers) s.close(); });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => { process.off('warning', onWarning); });
  const ac = new AbortController();
  const probes = parseServiceProbes('Probe TCP NULL q||\nmatch hello m|^HELLO| p/Hello/\n', 'test');
  async function* src(): AsyncGenerator<AnyRecord> {
    yield newHeader(['test']);
    for (const port of ports) yield { type: 'port', ip: '127.0.0.1', port, proto: 'tcp', state: 'open', reason: 'syn-ack', ttl: 64, rtt: 0.1, time: Date.now() } as PortRecord;
    yield newTrailer();
  }
  const out: AnyRecord[] = [];
  for await (const r of detectRecords({ probes, intensity: 7, maxPerHost: 64, signal: ac.signal })(src())) out.push(r);
  await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  t.equal(out.filter((r) => r.type === 'service').length, 40, 'every port probed');
  t.same(warnings.filter((w) => /MaxListeners/.test(w)), [], 'no MaxListenersExceededWarning');
});
