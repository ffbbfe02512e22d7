/** Readers for Nmap's data files, shared by stages (not a stage itself). */
export { DEFAULT_DATADIR, resolveDatadir, announceFallback, setFallbackNotice } from './datadir.js';
export {
  SERVICES_FILE,
  ServicesTable,
  clearServicesCache,
  loadServicesTable,
  parseServices,
  serviceName,
  type ServiceEntry,
} from './services.js';
