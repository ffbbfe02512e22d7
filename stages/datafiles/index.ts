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
export {
  OS_DB_FILE,
  OS_TEST_NAMES,
  OsDbError,
  clearOsDbCache,
  loadOsDb,
  osTestIndex,
  parseOsDb,
  type OsClass,
  type OsDb,
  type OsDbProblem,
  type OsMatchPoints,
  type OsRefAttr,
  type OsRefTest,
  type OsReference,
  type OsTestName,
} from './os-db.js';
export { compileOsExpr, hasNestedExpr, parseOsExpr, type OsExprAlt, type OsExprDialect, type OsMatcher } from './os-expr.js';
export { loadProtocolNames, parseProtocols, PROTOCOLS_FILE } from './protocols.js';
export { loadUdpPayloads, parseNmapPayloads, udpPayloadsFromServiceProbes, unescapeC, PAYLOADS_FILE, type UdpPayloads } from './payloads.js';
