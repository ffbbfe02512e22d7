/** -sF: FIN only. RST → closed; silence → open|filtered; ICMP unreachable → filtered. */
import { closedOnReset, tcpFlagScan } from './tcp-flag-scan.js';

export const finScan = tcpFlagScan({ name: 'fin', flag: '-sF', title: 'TCP FIN scan', flags: 'F', rst: closedOnReset, noAnswer: 'open|filtered' });
