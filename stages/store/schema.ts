/**
 * The DuckDB schema of a prtip database (documented in stages/store/README.md). Every row of
 * every table carries the scan id, so many scans — prtip's own and imported Nmap/masscan
 * results — live side by side and are queried together.
 */
export const TABLES = ['scans', 'hosts', 'ports', 'services', 'os_matches', 'os_fingerprints', 'scripts', 'hops', 'progress'] as const;
export type TableName = (typeof TABLES)[number];

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS scans (
  scan_id     VARCHAR PRIMARY KEY,
  source      VARCHAR NOT NULL,      -- prtip, or an imported file's format (nmap-xml, masscan-json, prtip-jsonl, …)
  tool        VARCHAR,
  version     VARCHAR,
  args        VARCHAR,               -- command line(s), ' | ' between stages
  argv        VARCHAR,               -- JSON array: prtip scan's own argv (what --resume re-runs)
  start_time  TIMESTAMP_MS,
  end_time    TIMESTAMP_MS,
  status      VARCHAR NOT NULL,      -- running | complete | interrupted
  seed        UBIGINT,
  planned_hosts  BIGINT,
  planned_probes BIGINT,
  ports_tcp   VARCHAR, ports_udp VARCHAR, ports_sctp VARCHAR,
  resumed     INTEGER DEFAULT 0,     -- how many times --resume continued it
  counters    VARCHAR,               -- JSON: the trailer's per-stage counters
  plan_fingerprint VARCHAR           -- hash of the expanded plan (what --resume checks)
);
-- Databases made before plan_fingerprint existed get the column (NULL: not checked on resume).
ALTER TABLE scans ADD COLUMN IF NOT EXISTS plan_fingerprint VARCHAR;
CREATE TABLE IF NOT EXISTS hosts (
  scan_id VARCHAR NOT NULL, ip VARCHAR NOT NULL, state VARCHAR, reason VARCHAR, hostname VARCHAR, time TIMESTAMP_MS
);
CREATE TABLE IF NOT EXISTS ports (
  scan_id VARCHAR NOT NULL, ip VARCHAR NOT NULL, port INTEGER NOT NULL, proto VARCHAR NOT NULL,
  state VARCHAR NOT NULL, reason VARCHAR, ttl INTEGER, rtt_ms DOUBLE, time TIMESTAMP_MS
);
-- stages/middlebox's marks on open TCP ports (NULL where it did not judge): confidence 0-10,
-- proxied (a SYN proxy / tarpit answered, not a service), proxy_check (what the full-handshake check saw).
ALTER TABLE ports ADD COLUMN IF NOT EXISTS confidence INTEGER;
ALTER TABLE ports ADD COLUMN IF NOT EXISTS proxied BOOLEAN;
ALTER TABLE ports ADD COLUMN IF NOT EXISTS proxy_check VARCHAR;
CREATE TABLE IF NOT EXISTS services (
  scan_id VARCHAR NOT NULL, ip VARCHAR NOT NULL, port INTEGER NOT NULL, proto VARCHAR NOT NULL,
  name VARCHAR, product VARCHAR, version VARCHAR, extrainfo VARCHAR, cpe VARCHAR[], method VARCHAR, conf INTEGER,
  banner VARCHAR,
  tunnel VARCHAR,                    -- ssl: the service was found inside TLS (nmap's tunnel="ssl")
  cert_subject VARCHAR, cert_issuer VARCHAR, cert_sans VARCHAR[], cert_not_before TIMESTAMP_MS, cert_not_after TIMESTAMP_MS,
  cert_sha256 VARCHAR, cert VARCHAR, -- cert: the whole certificate summary as JSON
  servicefp VARCHAR                  -- nmap's service fingerprint of an answering service not identified
);
-- Databases written before the tunnel and certificate columns get them (appended in this order).
ALTER TABLE services ADD COLUMN IF NOT EXISTS tunnel VARCHAR;
ALTER TABLE services ADD COLUMN IF NOT EXISTS cert_subject VARCHAR;
ALTER TABLE services ADD COLUMN IF NOT EXISTS cert_issuer VARCHAR;
ALTER TABLE services ADD COLUMN IF NOT EXISTS cert_sans VARCHAR[];
ALTER TABLE services ADD COLUMN IF NOT EXISTS cert_not_before TIMESTAMP_MS;
ALTER TABLE services ADD COLUMN IF NOT EXISTS cert_not_after TIMESTAMP_MS;
ALTER TABLE services ADD COLUMN IF NOT EXISTS cert_sha256 VARCHAR;
ALTER TABLE services ADD COLUMN IF NOT EXISTS cert VARCHAR;
ALTER TABLE services ADD COLUMN IF NOT EXISTS servicefp VARCHAR;
CREATE TABLE IF NOT EXISTS os_matches (
  scan_id VARCHAR NOT NULL, ip VARCHAR NOT NULL, rank INTEGER, name VARCHAR, accuracy INTEGER,
  vendor VARCHAR, osfamily VARCHAR, osgen VARCHAR, devicetype VARCHAR, cpe VARCHAR[]
);
CREATE TABLE IF NOT EXISTS os_fingerprints (
  scan_id VARCHAR NOT NULL, ip VARCHAR NOT NULL,
  fingerprint VARCHAR,                 -- nmap's submission format (SCAN(...E=4 or E=6...) and the tests, OS:-wrapped)
  no_match_reason VARCHAR              -- why there are no os_matches although the probes ran (IPv6: no IPv6 OS database)
);
CREATE TABLE IF NOT EXISTS scripts (
  scan_id VARCHAR NOT NULL, ip VARCHAR, port INTEGER, proto VARCHAR,   -- ip NULL: pre/postrule; port NULL: hostrule
  script_id VARCHAR NOT NULL, scope VARCHAR, output VARCHAR, elements JSON  -- elements: structured output (nmap's <elem>/<table>)
);
CREATE TABLE IF NOT EXISTS hops (
  scan_id VARCHAR NOT NULL, ip VARCHAR NOT NULL,        -- the traced host (--traceroute)
  ttl INTEGER NOT NULL, hop_ip VARCHAR, rtt_ms DOUBLE,  -- hop_ip NULL: no answer at this TTL
  host VARCHAR,                                         -- the hop's reverse name (-R)
  probe_port INTEGER, probe_proto VARCHAR               -- the trace probe (NULL: directly connected, nothing sent)
);
CREATE TABLE IF NOT EXISTS progress (
  scan_id VARCHAR NOT NULL, start BIGINT NOT NULL, count INTEGER NOT NULL
);
`;

/** Port-state precedence (shared with stages/merge's documentation): lower rank wins. */
export const STATE_RANK_SQL = `CASE state WHEN 'open' THEN 0 WHEN 'closed' THEN 1 WHEN 'unfiltered' THEN 2
  WHEN 'closed|filtered' THEN 3 WHEN 'open|filtered' THEN 4 WHEN 'filtered' THEN 5 ELSE 6 END`;
