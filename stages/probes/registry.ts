/**
 * Every scan type prtip knows, by nmap.dtd name and by flag: the raw probe modules, the connect
 * scan (kernel sockets, stages/send/proto-connect.ts) and the types planned but not built yet (so
 * the CLI refuses them by name). The CLI's flag table, its help, XML scaninfo and the refusals
 * come from here.
 */
import type { ProbeModule, ScanTypeInfo } from './module.js';
import * as tcpScans from './scan-tcp.js';
import { udpScan } from './scan-udp.js';
import { sctpCookieEchoScan, sctpInitScan } from './scan-sctp.js';
import { ipProtoScan } from './scan-ipproto.js';

export const CONNECT_SCAN: ScanTypeInfo = {
  name: 'connect', flag: '-sT', title: 'TCP connect scan', help: 'TCP connect scan (kernel sockets, no privileges needed)', proto: 'tcp', privileged: false,
};

/** -sI: not a probe module (sequential, counts across probes: idle-scan.ts) but a scan type all the same. */
export const IDLE_SCAN: ScanTypeInfo = {
  name: 'idle', flag: '-sI', title: 'idle scan', value: 'ZOMBIE[:PORT]', proto: 'tcp', privileged: true,
  help: 'idle scan: SYNs forged from ZOMBIE (an idle host with a global incremental IP ID; probe port default 80) to the targets; IPv4',
};

/**
 * Raw probe modules: -sS, every other TCP flag scan of scan-tcp.ts (a module namespace lists its
 * exports by name, so adding one there is all it takes), then UDP, SCTP and the IP protocol scan.
 */
export const PROBE_MODULES: readonly ProbeModule[] = [
  tcpScans.synScan, ...Object.values(tcpScans).filter((m) => m !== tcpScans.synScan), udpScan, sctpInitScan, sctpCookieEchoScan, ipProtoScan,
];

/** Every scan type that runs: -sS, the connect scan, then the other raw modules. */
export const SCAN_TYPES: readonly ScanTypeInfo[] = [PROBE_MODULES[0]!, CONNECT_SCAN, ...PROBE_MODULES.slice(1), IDLE_SCAN];

/** nmap scan types not built yet: refused with their name. */
export const PLANNED_SCAN_TYPES: ReadonlyArray<{ flag: string; title: string }> = [];

export function probeModule(name: string): ProbeModule | undefined {
  return PROBE_MODULES.find((m) => m.name === name);
}

export function scanTypeByName(name: string): ScanTypeInfo | undefined {
  return SCAN_TYPES.find((m) => m.name === name);
}
