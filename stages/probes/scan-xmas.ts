/** -sX: FIN, PSH and URG. RST → closed; silence → open|filtered; ICMP unreachable → filtered. */
import { closedOnReset, tcpFlagScan } from './tcp-flag-scan.js';

export const xmasScan = tcpFlagScan({ name: 'xmas', flag: '-sX', title: 'TCP Xmas scan', flags: 'FPU', rst: closedOnReset, noAnswer: 'open|filtered' });
