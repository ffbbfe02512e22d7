// A port that accepts the connection and resets it at once (SO_LINGER 0) completed the handshake:
// the connect scan calls it open/syn-ack, as nmap does, even when the reset reaches the socket
// before the connect callback runs (ECONNRESET from connect).
import t from 'tap';
import { spawn } from 'node:child_process';
import { connectOnce } from '../../stages/send/proto-connect.js';

// The resetting service runs in another process, so it accepts and resets while this one is busy.
const child = spawn(process.execPath, ['-e', `
  const net = require('node:net');
  const s = net.createServer((c) => { c.on('error', () => {}); c.resetAndDestroy(); });
  s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
`], { stdio: ['ignore', 'pipe', 'inherit'] });
t.teardown(() => { child.kill(); });
const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));

t.test('accept-then-reset is open, whether the reset is seen before or after the connect event', async (t) => {
  for (let k = 0; k < 5; k++) {
    const pending = connectOnce('127.0.0.1', port, 2000);
    // Hold this event loop so the handshake completes and the reset arrives before libuv
    // looks at the socket: connect then fails with ECONNRESET.
    const until = Date.now() + 100;
    while (Date.now() < until) { /* busy */ }
    const r = await pending;
    t.match(r, { state: 'open', reason: 'syn-ack' }, `attempt ${k + 1}`);
  }
  // Without holding the loop the connect event comes first: open too.
  t.match(await connectOnce('127.0.0.1', port, 2000), { state: 'open', reason: 'syn-ack' });
});
