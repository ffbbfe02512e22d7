/** -sN: no flags at all. RST → closed; silence → open|filtered; ICMP unreachable → filtered. */
import { closedOnReset, tcpFlagScan } from './tcp-flag-scan.js';

export const nullScan = tcpFlagScan({ name: 'null', flag: '-sN', title: 'TCP NULL scan', flags: '', rst: closedOnReset, noAnswer: 'open|filtered' });
