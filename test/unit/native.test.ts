import t from 'tap';
import { loadNative } from '../../native/index.js';

const native = loadNative();

t.test('native self-tests pass', async (t) => {
  t.equal(native.selfTest(), null);
});

t.test('libpcap is linked', async (t) => {
  t.match(native.pcapVersion(), /^libpcap version \d+\.\d+/);
  const ifaces = native.listInterfaces();
  t.ok(Array.isArray(ifaces));
  const lo = ifaces.find((i) => i.loopback);
  t.ok(lo, 'loopback interface is listed');
  t.ok(lo!.addresses.some((a) => a.family === 4 && a.address === '127.0.0.1'), 'loopback has 127.0.0.1');
});

t.test('checksum matches a JS reference on random buffers', async (t) => {
  const reference = (b: Uint8Array): number => {
    let sum = 0;
    for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
    return ~sum & 0xffff;
  };
  let seed = 7;
  for (let n = 0; n < 200; n++) {
    const len = n * 13 % 1501;
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) { seed = (seed * 1103515245 + 12345) >>> 0; b[i] = seed >>> 24; }
    if (native.checksum(b) !== reference(b)) { t.fail(`length ${len}: ${native.checksum(b)} != ${reference(b)}`); return; }
  }
  t.pass('200 buffers agree');
  t.throws(() => native.checksum('x' as unknown as Uint8Array), /expected a Uint8Array/);
});
