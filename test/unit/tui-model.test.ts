// The TUI's model: what records turn into (open port rows with services, hosts up, top services,
// the rate history) and the small drawing helpers.
import t from 'tap';
import { bar, sparkline, TuiModel } from '../../packages/oclif-cli/lib/progress/tui-model.js';

t.test('records become rows, hosts, top services and rates', async (t) => {
  const m = new TuiModel('prtip scan x', (port) => ({ 22: 'ssh', 80: 'http', 443: 'https' } as Record<number, string>)[port]);
  let changes = 0;
  m.subscribe(() => changes++);
  const port = (ip: string, p: number, state: string) => ({ type: 'port', ip, port: p, proto: 'tcp', state, reason: 'syn-ack', ttl: null, rtt: 1, time: 0 });
  m.observe(port('198.18.0.2', 22, 'open'));
  m.observe(port('198.18.0.2', 80, 'open'));
  m.observe(port('198.18.0.3', 80, 'open'));
  m.observe(port('198.18.0.4', 81, 'closed'));
  m.observe(port('198.18.0.5', 81, 'filtered'));
  m.observe({ type: 'service', ip: '198.18.0.2', port: 80, proto: 'tcp', name: 'http', product: 'nginx', version: '1.22.1', method: 'probed', conf: 10, tunnel: 'ssl' });
  t.equal(m.open.size, 3);
  t.same(m.open.get('198.18.0.2 80/tcp'), { ip: '198.18.0.2', port: 80, proto: 'tcp', service: 'ssl/http', version: 'nginx 1.22.1' });
  t.equal(m.open.get('198.18.0.3 80/tcp')!.service, 'http', 'the port table name before -sV says otherwise');
  t.same([...m.hostsUp].sort(), ['198.18.0.2', '198.18.0.3', '198.18.0.4'], 'filtered-only hosts are not up');
  t.same(m.topServices(5), [['http', 1], ['ssh', 1], ['ssl/http', 1]]);
  for (const [time, sent] of [[1000, 100], [2000, 400]]) {
    m.observe({ type: 'status', stage: 'send', phase: 'port scan', scanType: 'syn', startTime: 0, time, done: sent, total: 1000, counters: { sent } });
  }
  t.same(m.rates, [100, 300]);
  m.say('prtip: warning: something\nVerbosity Increased to 1.');
  t.equal(m.errors, 1);
  t.same(m.log, ['prtip: warning: something', 'Verbosity Increased to 1.']);
  m.observe({ type: 'end', endTime: 0, interrupted: false, counters: {} });
  t.equal(m.state, 'done');
  t.equal(changes, 10, 'every record but none of other types notifies');
  m.observe({ type: 'progress', start: 0, count: 1 });
  t.equal(changes, 10);
});

t.test('sparkline and bar', async (t) => {
  t.equal(sparkline([0, 50, 100], 10), '▁▄█');
  t.equal(sparkline([1, 2, 3, 4], 2), '▆█', 'only the last points that fit');
  t.equal(bar(50, 10), '█████░░░░░');
  t.equal(bar(null, 4), '░░░░');
  t.equal(bar(150, 4), '████');
});
