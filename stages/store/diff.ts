import { UserInputError } from '../records/index.js';
import { query, type Database } from './db.js';
import { STATE_RANK_SQL } from './schema.js';

export interface PortChange {
  change: 'opened' | 'closed' | 'service';
  ip: string;
  port: number;
  proto: string;
  before: string | null;
  after: string | null;
}

export interface HostChange {
  ip: string;
  before: string | null;
  after: string | null;
}

/** The best OS match of a host OS-scanned in both scans changed (null: that scan matched nothing). */
export interface OsChange {
  ip: string;
  before: { name: string; accuracy: number } | null;
  after: { name: string; accuracy: number } | null;
}

export interface ScanDiff {
  a: string;
  b: string;
  ports: PortChange[];
  hosts: HostChange[];
  os: OsChange[];
}

/** A scan id from a full id, a unique prefix, or @N (the Nth newest scan, @1 = newest). */
export async function resolveScanId(db: Database, ref: string): Promise<string> {
  const at = /^@(\d+)$/.exec(ref);
  if (at) {
    const n = Number(at[1]);
    if (n < 1) throw new UserInputError(`no scan ${ref}: @1 is the newest scan, @2 the one before it, …`);
    const r = await query(db.conn, 'SELECT scan_id FROM scans ORDER BY start_time DESC, scan_id LIMIT 1 OFFSET $1', [Math.max(0, n - 1)]);
    if (!r.rows[0]) throw new UserInputError(`no scan ${ref}: the database holds fewer scans`);
    return String(r.rows[0][0]);
  }
  const r = await query(db.conn, "SELECT scan_id FROM scans WHERE starts_with(scan_id, $1) ORDER BY scan_id LIMIT 2", [ref]);
  if (r.rows.length === 0) throw new UserInputError(`no scan "${ref}" in the database (see: prtip sql FILE "select * from scans")`);
  if (r.rows.length > 1) throw new UserInputError(`scan id "${ref}" is ambiguous: it starts ${String(r.rows[0]![0])} and ${String(r.rows[1]![0])}`);
  return String(r.rows[0]![0]);
}

const SVC = `concat_ws(' ', name, product, version, CASE WHEN extrainfo IS NOT NULL THEN '(' || extrainfo || ')' END)`;

/**
 * What changed from scan A to scan B: ports that opened (open in B, not open or unseen in A),
 * ports that closed (open in A, not open or unseen in B), services that changed on ports open
 * in both (another name, or another product/version when both scans name one — a scan that
 * only knows less, like masscan's bare names, is not a change), hosts whose up/down changed, and
 * hosts OS-scanned in both whose best OS match changed (a scan without -O for the host is not a
 * change). One row per port and scan, by the merge precedence (open > closed > unfiltered >
 * closed|filtered > open|filtered > filtered).
 */
export async function diffScans(db: Database, a: string, b: string): Promise<ScanDiff> {
  const ports = await query(
    db.conn,
    `WITH p AS (
       SELECT scan_id, ip, port, proto, state FROM ports WHERE scan_id IN ($1, $2)
       QUALIFY row_number() OVER (PARTITION BY scan_id, ip, port, proto ORDER BY ${STATE_RANK_SQL}, time DESC) = 1),
     s AS (
       SELECT scan_id, ip, port, proto, name, product, version, ${SVC} AS svc FROM services WHERE scan_id IN ($1, $2)
       QUALIFY row_number() OVER (PARTITION BY scan_id, ip, port, proto ORDER BY conf DESC NULLS LAST) = 1),
     pa AS (SELECT p.*, s.svc, s.name, s.product, s.version FROM p LEFT JOIN s USING (scan_id, ip, port, proto) WHERE p.scan_id = $1),
     pb AS (SELECT p.*, s.svc, s.name, s.product, s.version FROM p LEFT JOIN s USING (scan_id, ip, port, proto) WHERE p.scan_id = $2)
     SELECT coalesce(pa.ip, pb.ip) AS ip, coalesce(pa.port, pb.port) AS port, coalesce(pa.proto, pb.proto) AS proto,
            pa.state AS sa, pb.state AS sb, pa.svc AS va, pb.svc AS vb
     FROM pa FULL OUTER JOIN pb ON pa.ip = pb.ip AND pa.port = pb.port AND pa.proto = pb.proto
     WHERE coalesce(pa.state = 'open', false) <> coalesce(pb.state = 'open', false)
        OR (pa.state = 'open' AND pb.state = 'open' AND pa.name IS NOT NULL AND pb.name IS NOT NULL AND (pa.name <> pb.name
            OR (pa.product IS NOT NULL AND pb.product IS NOT NULL AND (pa.product <> pb.product OR pa.version IS DISTINCT FROM pb.version))))
     ORDER BY 1, 3, 2`,
    [a, b],
  );
  const out: PortChange[] = [];
  for (const [ip, port, proto, sa, sb, va, vb] of ports.rows as Array<[string, number, string, string | null, string | null, string | null, string | null]>) {
    if (sb === 'open' && sa !== 'open') out.push({ change: 'opened', ip, port, proto, before: sa, after: sb });
    else if (sa === 'open' && sb !== 'open') out.push({ change: 'closed', ip, port, proto, before: sa, after: sb });
    else out.push({ change: 'service', ip, port, proto, before: va, after: vb });
  }
  const hosts = await query(
    db.conn,
    `WITH h AS (SELECT scan_id, ip, state FROM hosts WHERE scan_id IN ($1, $2)
                QUALIFY row_number() OVER (PARTITION BY scan_id, ip ORDER BY CASE state WHEN 'up' THEN 0 ELSE 1 END) = 1),
     ha AS (SELECT * FROM h WHERE scan_id = $1), hb AS (SELECT * FROM h WHERE scan_id = $2)
     SELECT coalesce(ha.ip, hb.ip), ha.state, hb.state FROM ha FULL OUTER JOIN hb ON ha.ip = hb.ip
     WHERE coalesce(ha.state = 'up', false) <> coalesce(hb.state = 'up', false) ORDER BY 1`,
    [a, b],
  );
  // A host was OS-scanned when it has matches or a fingerprint (no match); its best match is rank 0.
  const os = await query(
    db.conn,
    `WITH scanned AS (SELECT DISTINCT scan_id, ip FROM (
         SELECT scan_id, ip FROM os_matches WHERE scan_id IN ($1, $2)
         UNION ALL SELECT scan_id, ip FROM os_fingerprints WHERE scan_id IN ($1, $2))),
     best AS (SELECT scan_id, ip, name, accuracy FROM os_matches WHERE scan_id IN ($1, $2) AND rank = 0),
     o AS (SELECT s.scan_id, s.ip, b.name, b.accuracy FROM scanned s LEFT JOIN best b USING (scan_id, ip)),
     oa AS (SELECT * FROM o WHERE scan_id = $1), ob AS (SELECT * FROM o WHERE scan_id = $2)
     SELECT oa.ip, oa.name, oa.accuracy, ob.name, ob.accuracy FROM oa JOIN ob ON oa.ip = ob.ip
     WHERE oa.name IS DISTINCT FROM ob.name ORDER BY 1`,
    [a, b],
  );
  const match = (name: unknown, accuracy: unknown) => (name === null ? null : { name: String(name), accuracy: Number(accuracy) });
  return {
    a, b, ports: out,
    hosts: (hosts.rows as Array<[string, string | null, string | null]>).map(([ip, before, after]) => ({ ip, before, after })),
    os: os.rows.map(([ip, na, aa, nb, ab]) => ({ ip: String(ip), before: match(na, aa), after: match(nb, ab) })),
  };
}
