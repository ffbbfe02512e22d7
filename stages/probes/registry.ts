/**
 * Every scan type prtip knows, by nmap.dtd name and by flag: the raw probe modules, the connect
 * scan (kernel sockets, stages/send/proto-connect.ts) and the types planned but not built yet (so
 * the CLI refuses them by name). The CLI's flag table, its help, XML scaninfo and the refusals
 * come from here.
 */
import type { ProbeModule, ScanTypeInfo } from './module.js';
import { ackScan } from './scan-ack.js';
import { finScan } from './scan-fin.js';
import { maimonScan } from './scan-maimon.js';
import { nullScan } from './scan-null.js';
import { synScan } from './scan-syn.js';
import { udpScan } from './scan-udp.js';
import { windowScan } from './scan-window.js';
import { xmasScan } from './scan-xmas.js';

export const CONNECT_SCAN: ScanTypeInfo = {
  name: 'connect', flag: '-sT', title: 'TCP connect scan', help: 'TCP connect scan (kernel sockets, no privileges needed)', proto: 'tcp', privileged: false,
};

/** Raw probe modules in the order nmap's help lists them. */
export const PROBE_MODULES: readonly ProbeModule[] = [synScan, ackScan, windowScan, maimonScan, udpScan, nullScan, finScan, xmasScan];

/** Every scan type that runs: the connect scan and the raw modules. */
export const SCAN_TYPES: readonly ScanTypeInfo[] = [synScan, CONNECT_SCAN, ...PROBE_MODULES.slice(1)];

/** nmap scan types not built yet: refused with their name. */
export const PLANNED_SCAN_TYPES: ReadonlyArray<{ flag: string; title: string }> = [
  { flag: '-sY', title: 'SCTP INIT scan' }, { flag: '-sZ', title: 'SCTP COOKIE-ECHO scan' },
  { flag: '-sO', title: 'IP protocol scan' }, { flag: '-sI', title: 'idle scan' },
];

export function probeModule(name: string): ProbeModule | undefined {
  return PROBE_MODULES.find((m) => m.name === name);
}

export function scanTypeByName(name: string): ScanTypeInfo | undefined {
  return SCAN_TYPES.find((m) => m.name === name);
}
