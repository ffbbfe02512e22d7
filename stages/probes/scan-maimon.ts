/** -sM: FIN/ACK (Uriel Maimon's). RST → closed; silence → open|filtered; ICMP unreachable → filtered. */
import { closedOnReset, tcpFlagScan } from './tcp-flag-scan.js';

export const maimonScan = tcpFlagScan({ name: 'maimon', flag: '-sM', title: 'TCP Maimon scan', flags: 'FA', rst: closedOnReset, noAnswer: 'open|filtered' });
