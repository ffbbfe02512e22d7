/** -sA: ACK only, to map firewall rules. RST → unfiltered; silence or ICMP unreachable → filtered. */
import { tcpFlagScan } from './tcp-flag-scan.js';

export const ackScan = tcpFlagScan({
  name: 'ack', flag: '-sA', title: 'TCP ACK scan', flags: 'A', rst: () => ({ state: 'unfiltered', reason: 'reset' }), noAnswer: 'filtered',
});
