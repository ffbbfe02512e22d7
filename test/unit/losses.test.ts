import t from 'tap';
import { EXIT_PROBES_LOST, probeLosses, type EndTrailer } from '../../stages/records/index.js';

const trailer = (counters: EndTrailer['counters']): EndTrailer => ({ type: 'end', endTime: 1, interrupted: false, counters });

t.equal(EXIT_PROBES_LOST, 3, 'the documented exit status');
t.equal(probeLosses(undefined), undefined, 'no trailer: nothing to say');
t.equal(probeLosses(trailer({ send: { sent: 10, open: 2 } })), undefined, 'a scan that lost nothing');
t.same(probeLosses(trailer({ discover: { sendErrors: 2 }, send: { lostProbes: 7, sendErrors: 1 } })), {
  lostProbes: 7, sendErrors: 3, summary: 'discover: 2 frames not sent; send: 7 probes lost, 1 frames not sent',
}, 'losses of every stage, summed and named');
