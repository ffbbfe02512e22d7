import {
  UserInputError, type AnyRecord, type HostState, type OsMatch, type PortState, type Proto, type ServiceRecord,
} from '../records/index.js';
import { query, type Database } from './db.js';

export interface ResumableScan {
  scanId: string;
  argv: string[];
  seed: number;
  status: string;
}

/** The scan to continue: the given id, else the latest prtip scan that did not complete. */
export async function findResumable(db: Database, path: string, scanId?: string): Promise<ResumableScan> {
  const r = await query(
    db.conn,
    `SELECT scan_id, argv, seed, status FROM scans WHERE source = 'prtip' AND ($1::VARCHAR IS NULL OR scan_id = $1)
     ORDER BY start_time DESC LIMIT 1`,
    [scanId ?? null],
  );
  const row = r.rows[0];
  if (!row) throw new UserInputError(`no prtip scan${scanId ? ` "${scanId}"` : ''} to resume in "${path}"`);
  const [id, argv, seed, status] = row as [string, string | null, number | string | null, string];
  if (status === 'complete') throw new UserInputError(`scan ${id} in "${path}" is complete; nothing to resume`);
  if (!argv || seed === null) {
    throw new UserInputError(`scan ${id} in "${path}" was stored by a pipe (prtip store), not prtip scan --db; it cannot be resumed`);
  }
  return { scanId: id, argv: JSON.parse(argv) as string[], seed: Number(seed), status };
}

/** Permutation positions already answered, as merged [start, end) ranges in order. */
export async function finishedRanges(db: Database, scanId: string): Promise<Array<[number, number]>> {
  const r = await query(db.conn, 'SELECT start, count FROM progress WHERE scan_id = $1 ORDER BY start', [scanId]);
  const out: Array<[number, number]> = [];
  for (const [s, c] of r.rows as Array<[number | string, number]>) {
    const start = Number(s);
    const end = start + Number(c);
    const last = out[out.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}

/**
 * The records a scan already holds in the database (ports, hosts, services, OS matches), for a
 * resumed scan's text outputs: they show the whole scan, not only the part run after resuming.
 */
export async function storedRecords(db: Database, scanId: string): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  const ports = await query(db.conn, 'SELECT ip, port, proto, state, reason, ttl, rtt_ms, epoch_ms(time) FROM ports WHERE scan_id = $1', [scanId]);
  for (const [ip, port, proto, state, reason, ttl, rtt, time] of ports.rows as Array<[string, number, Proto, PortState, string | null, number | null, number | null, number]>) {
    out.push({ type: 'port', ip, port, proto, state, reason: reason ?? '', ttl, rtt, time: Number(time) });
  }
  const hosts = await query(db.conn, 'SELECT ip, state, reason, hostname, epoch_ms(time) FROM hosts WHERE scan_id = $1', [scanId]);
  for (const [ip, state, reason, hostname, time] of hosts.rows as Array<[string, HostState, string | null, string | null, number]>) {
    out.push({ type: 'host', ip, state, reason: reason ?? '', ...(hostname ? { hostname } : {}), time: Number(time) });
  }
  const svcs = await query(db.conn, 'SELECT ip, port, proto, name, product, version, extrainfo, cpe, method, conf, banner, tunnel, cert, servicefp FROM services WHERE scan_id = $1', [scanId]);
  for (const [ip, port, proto, name, product, version, extrainfo, cpe, method, conf, banner, tunnel, cert, servicefp] of svcs.rows as Array<[string, number, Proto, string, string | null, string | null, string | null, string[] | null, string, number, string | null, string | null, string | null, string | null]>) {
    const s: ServiceRecord = { type: 'service', ip, port, proto, name, method: method === 'probed' ? 'probed' : 'table', conf };
    if (product !== null) s.product = product;
    if (version !== null) s.version = version;
    if (extrainfo !== null) s.extrainfo = extrainfo;
    if (cpe !== null) s.cpe = cpe;
    if (banner !== null) s.banner = banner;
    // A resumed scan prints TLS services as the first run did: the tunnel and the certificate summary.
    if (tunnel === 'ssl') s.tunnel = 'ssl';
    if (cert !== null) s.cert = JSON.parse(cert) as ServiceRecord['cert'];
    if (servicefp !== null) s.servicefp = servicefp;
    out.push(s);
  }
  const os = await query(db.conn, 'SELECT ip, name, accuracy, vendor, osfamily, osgen, devicetype, cpe FROM os_matches WHERE scan_id = $1 ORDER BY ip, rank', [scanId]);
  const byIp = new Map<string, OsMatch[]>();
  for (const [ip, name, accuracy, vendor, osfamily, osgen, devicetype, cpe] of os.rows as Array<[string, string, number, string | null, string | null, string | null, string | null, string[] | null]>) {
    const m: OsMatch = { name, accuracy };
    if (vendor !== null) m.vendor = vendor;
    if (osfamily !== null) m.osfamily = osfamily;
    if (osgen !== null) m.osgen = osgen;
    if (devicetype !== null) m.devicetype = devicetype;
    if (cpe !== null) m.cpe = cpe;
    byIp.set(ip, [...(byIp.get(ip) ?? []), m]);
  }
  for (const [ip, matches] of byIp) out.push({ type: 'os', ip, matches });
  return out;
}
