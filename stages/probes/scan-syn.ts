/** -sS: SYN with MSS 1460. SYN-ACK → open; RST → closed; ICMP unreachable or silence → filtered. */
import { closedOnReset, tcpFlagScan } from './tcp-flag-scan.js';

export const synScan = tcpFlagScan({
  name: 'syn', flag: '-sS', title: 'TCP SYN scan', flags: 'S',
  help: 'TCP SYN scan (raw packets; needs root or CAP_NET_RAW; the default when privileged)',
  synAck: { state: 'open', reason: 'syn-ack' }, rst: closedOnReset, noAnswer: 'filtered',
  tcpOptions: Uint8Array.from([2, 4, 0x05, 0xb4]),
});
