/** Readers for Nmap's data files, shared by stages (not a stage itself). */
export { DEFAULT_DATADIR, resolveDatadir } from './datadir.js';
export {
  SERVICES_FILE,
  ServicesTable,
  clearServicesCache,
  loadServicesTable,
  parseServices,
  serviceName,
  type ServiceEntry,
} from './services.js';
export { loadUdpPayloads, parseNmapPayloads, udpPayloadsFromServiceProbes, unescapeC, PAYLOADS_FILE, type UdpPayloads } from './payloads.js';
