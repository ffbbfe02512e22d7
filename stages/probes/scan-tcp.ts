/**
 * The raw TCP scan types, one tcpFlagScan each. The registry takes every export of this file
 * (registry.ts): a new flag combination is a few lines here and nothing else.
 */
import { closedOnReset, tcpFlagScan } from './tcp-flag-scan.js';

/** -sS: SYN with MSS 1460. SYN-ACK → open; RST → closed; ICMP unreachable or silence → filtered. */
export const synScan = tcpFlagScan({
  name: 'syn', flag: '-sS', title: 'TCP SYN scan', flags: 'S',
  help: 'TCP SYN scan (raw packets; needs root or CAP_NET_RAW; the default when privileged)',
  synAck: { state: 'open', reason: 'syn-ack' }, rst: closedOnReset, noAnswer: 'filtered',
  tcpOptions: Uint8Array.from([2, 4, 0x05, 0xb4]),
});

/** -sA: ACK only, to map firewall rules. RST → unfiltered; silence or ICMP unreachable → filtered. */
export const ackScan = tcpFlagScan({
  name: 'ack', flag: '-sA', title: 'TCP ACK scan', flags: 'A', rst: () => ({ state: 'unfiltered', reason: 'reset' }), noAnswer: 'filtered',
});

/** -sW: as -sA, but the RST's window tells open (non-zero) from closed (zero) on some stacks. */
export const windowScan = tcpFlagScan({
  name: 'window', flag: '-sW', title: 'TCP Window scan', flags: 'A',
  rst: (r) => ({ state: r.window > 0 ? 'open' : 'closed', reason: 'reset' }), noAnswer: 'filtered',
});

/** -sM: FIN/ACK (Uriel Maimon's). RST → closed; silence → open|filtered; ICMP unreachable → filtered. */
export const maimonScan = tcpFlagScan({ name: 'maimon', flag: '-sM', title: 'TCP Maimon scan', flags: 'FA', rst: closedOnReset, noAnswer: 'open|filtered' });

/** -sN: no flags at all. RST → closed; silence → open|filtered; ICMP unreachable → filtered. */
export const nullScan = tcpFlagScan({ name: 'null', flag: '-sN', title: 'TCP NULL scan', flags: '', rst: closedOnReset, noAnswer: 'open|filtered' });

/** -sF: FIN only. RST → closed; silence → open|filtered; ICMP unreachable → filtered. */
export const finScan = tcpFlagScan({ name: 'fin', flag: '-sF', title: 'TCP FIN scan', flags: 'F', rst: closedOnReset, noAnswer: 'open|filtered' });

/** -sX: FIN, PSH and URG. RST → closed; silence → open|filtered; ICMP unreachable → filtered. */
export const xmasScan = tcpFlagScan({ name: 'xmas', flag: '-sX', title: 'TCP Xmas scan', flags: 'FPU', rst: closedOnReset, noAnswer: 'open|filtered' });
