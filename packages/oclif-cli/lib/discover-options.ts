/**
 * The discovery flags → the discover stage's options (prtip scan and prtip discover share this):
 * with -Pn only ARP/ND on the local link (undefined without privileges or with --disable-arp-ping:
 * discovery skipped, every host up as user-set), and refusals for the
 * combinations that cannot mean anything.
 */
import { UserInputError } from '../../../stages/records/index.js';
import { DISCOVER_DEFAULTS, isDefault, type DiscoverOptions } from '../../../stages/discover/index.js';
import { RAW_TIMING } from '../../../stages/probes/index.js';
import type { CliOptions } from './flags.js';
import { canSendRaw } from './stage-options.js';

/** Names of this machine's loopback only (nmap: up, localhost-response, nothing sent). */
const LOOPBACK_TARGET = /^(localhost|127(\.\d{1,3}){0,3}(\/\d+)?|::1|0*:(0*:){0,6}0*1)$/i;

export function refuseDiscoveryConflicts(o: CliOptions): void {
  if (o.assumeUp && o.pingOnly) throw new UserInputError('-Pn and -sn together would probe nothing: -Pn skips discovery, -sn skips the port scan');
  if (o.assumeUp && (!isDefault(o.ping) || o.discoveryIgnoreRst)) throw new UserInputError('-Pn skips host discovery: drop -Pn to use -PE/-PS/-PA/-PU/-PY/-PO/-PP/-PM/-PR and their options');
  if (o.pingOnly) {
    const portFlags = [o.ports !== undefined && '-p', o.fast && '-F', o.topPorts !== undefined && '--top-ports', o.scanTypes.length > 0 && 'a scan type (-s…)',
      o.versionDetect && '-sV', o.osDetect && '-O', o.scripts !== undefined && '--script/-sC'].filter(Boolean);
    if (portFlags.length) throw new UserInputError(`-sn is a ping scan without port scan: drop ${portFlags.join(', ')}`);
  }
}

export function discoverOptions(o: CliOptions, args: string[], signal: AbortSignal, onWarning: (m: string) => void, rawAllowed: () => boolean | string = canSendRaw): DiscoverOptions | undefined {
  refuseDiscoveryConflicts(o);
  const loopbackOnly = o.inputFiles.length === 0 && o.targets.length > 0 && o.targets.every((t) => LOOPBACK_TARGET.test(t));
  const raw = rawAllowed();
  const privileged = raw === true && !loopbackOnly;
  // -Pn: nothing to do unless hosts on the local link are still ARP/ND-resolved (as root, as nmap).
  if (o.assumeUp && (!privileged || o.disableArpPing)) return undefined;
  if (!privileged && !loopbackOnly && !isDefault(o.ping)) {
    throw new UserInputError(`-PE/-PP/-PM/-PS/-PA/-PU/-PY/-PO/-PR send raw packets: ${typeof raw === 'string' ? raw.replace(/^-sS needs/, 'they need') : 'run prtip as root (or with CAP_NET_RAW)'}, or leave them out for the connect() ping to 80 and 443`);
  }
  const t = RAW_TIMING[o.timing ?? 3]!;
  const max = o.timeoutMs ?? t.max;
  return {
    probes: o.ping,
    privileged,
    arp: !o.disableArpPing,
    ignoreRst: o.discoveryIgnoreRst,
    pingOnly: o.pingOnly,
    ...(o.assumeUp ? { assumeUp: true } : {}),
    maxRetries: o.maxRetries ?? DISCOVER_DEFAULTS.maxRetries,
    initialTimeoutMs: Math.min(t.initial, max),
    minTimeoutMs: Math.min(t.min, max),
    maxTimeoutMs: max,
    maxRate: o.maxRate ?? t.maxRate,
    sourcePort: o.sourcePort,
    iface: o.iface,
    sourceAddress: o.sourceAddress,
    ttl: o.ttl,
    datadir: o.datadir,
    args,
    signal,
    onWarning,
  };
}
