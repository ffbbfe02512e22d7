/** -sW: as -sA, but the RST's window tells open (non-zero) from closed (zero) on some stacks. */
import { tcpFlagScan } from './tcp-flag-scan.js';

export const windowScan = tcpFlagScan({
  name: 'window', flag: '-sW', title: 'TCP Window scan', flags: 'A',
  rst: (r) => ({ state: r.window > 0 ? 'open' : 'closed', reason: 'reset' }), noAnswer: 'filtered',
});
