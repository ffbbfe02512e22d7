// RawEngine.barrier (native/src/recv-thread.cc): drain barriers are answered through onReplies,
// in the order asked, a ring barrier too once the capture has nothing older; stop() answers the
// pending ones before it resolves, and a stopped engine refuses new ones. On lo, sending nothing.
import t from 'tap';
import { loadNative } from '../../native/index.js';

const native = loadNative();

t.test('barriers are answered in order, behind the replies, and by stop()', async (t) => {
  if (!native.hasRawAccess()) {
    if (process.env.CI) t.fail('CI runs as root');
    else t.pass('no CAP_NET_RAW here: the started engine is not tried');
    return;
  }
  const answers: number[] = [];
  const e = new native.RawEngine({ ifname: 'lo', srcMac: new Uint8Array(6), src4: Uint8Array.from([127, 0, 0, 1]), dstMac4: new Uint8Array(6), sourcePort: 61112 }, (packed, barrier) => {
    if (barrier !== undefined) {
      t.equal(packed.length, 0, 'a barrier answer carries no replies');
      answers.push(barrier);
    }
  });
  e.start();
  const ids = [e.barrier(true), e.barrier(false), e.barrier(true)];
  t.same(ids, [...ids].sort((a, b) => a - b), 'ids grow');
  // Bounded wait for the answers (the receiver polls every few ms; a ring barrier waits out the ring).
  for (let i = 0; i < 400 && answers.length < ids.length; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(answers, ids, 'every barrier answered, in the order asked');
  const last = e.barrier(true);
  await e.stop();
  t.equal(answers.at(-1), last, 'a barrier still pending at stop() is answered before stop resolves');
  t.throws(() => e.barrier(false), /not running/, 'a stopped engine refuses barriers');
});
