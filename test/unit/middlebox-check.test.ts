// The full-handshake check against real loopback listeners: one that greets, one that answers a
// request, one that accepts and never writes, one that resets at once, and a closed port.
import t from 'tap';
import net from 'node:net';
import { handshakeCheck } from '../../stages/middlebox/index.js';

const listen = (onConn: (s: net.Socket) => void) =>
  new Promise<net.Server>((resolve) => {
    const srv = net.createServer((s) => { s.on('error', () => {}); onConn(s); });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

t.test('what the check sees', async (t) => {
  const held: net.Socket[] = [];
  const greets = await listen((s) => s.write('SSH-2.0-lab\r\n'));
  const answers = await listen((s) => s.once('data', () => s.end('HTTP/1.0 400 Bad Request\r\n\r\n')));
  const silent = await listen((s) => { held.push(s); });
  const resets = await listen((s) => s.resetAndDestroy());
  const closed = await listen(() => {});
  const closedPort = portOf(closed);
  await new Promise<void>((r) => closed.close(() => r()));
  t.teardown(() => { for (const s of held) s.destroy(); for (const s of [greets, answers, silent, resets]) s.close(); });

  const check = handshakeCheck({ connectMs: 1000, bannerMs: 100, replyMs: 300 });
  t.equal(await check('127.0.0.1', portOf(greets)), 'data', 'a banner');
  t.equal(await check('127.0.0.1', portOf(answers)), 'data', 'an answer to the probe');
  t.equal(await check('127.0.0.1', portOf(silent)), 'silent', 'accepted, never a byte');
  t.equal(await check('127.0.0.1', portOf(resets)), 'reset', 'reset right after the handshake');
  t.equal(await check('127.0.0.1', closedPort), 'refused', 'nothing listening');
  // Waits of a minute: only the abort can end this check before tap's test timeout does.
  const slow = handshakeCheck({ connectMs: 60_000, bannerMs: 60_000, replyMs: 60_000 });
  const ac = new AbortController();
  const pending = slow('127.0.0.1', portOf(silent), ac.signal);
  setTimeout(() => ac.abort(), 50);
  t.equal(await pending, 'silent', 'an abort ends a check at once');
});
