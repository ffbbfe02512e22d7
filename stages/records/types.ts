/**
 * The record schema: the only thing every stage shares.
 *
 * A record stream is: one `scan` header, any number of records, one `end` trailer.
 * Every record is a plain object tagged by `type`. A stage passes through every record whose
 * type it does not consume, so records of types defined later (service, os, …) flow through
 * stages written before them.
 */

/** Bumped when a field changes meaning or a required field is added. Decoders refuse newer schemas. */
export const SCHEMA_VERSION = 1;

/** 'ip': the IP protocol scan (-sO), whose "port" is an IP protocol number (0-255), as nmap's protocol="ip". */
export type Proto = 'tcp' | 'udp' | 'sctp' | 'ip';

/**
 * IP protocol numbers, as used in probe batches' `protos` column; 0 marks the entries of the IP
 * protocol scan (their port is the protocol probed).
 */
export const PROTO_NUMBER: Readonly<Record<Proto, number>> = { tcp: 6, udp: 17, sctp: 132, ip: 0 };
export const PROTO_BY_NUMBER: Readonly<Record<number, Proto>> = { 6: 'tcp', 17: 'udp', 132: 'sctp', 0: 'ip' };

/** Nmap's port-state vocabulary. */
export type PortState = 'open' | 'closed' | 'filtered' | 'unfiltered' | 'open|filtered' | 'closed|filtered';

export type HostState = 'up' | 'down' | 'unknown';

/** Compact port lists per protocol, nmap style ("22,80,100-200"); empty string when none. */
export interface PortLists {
  tcp: string;
  udp: string;
  sctp: string;
  /** IP protocol scan (-sO): the protocol numbers. */
  ip?: string;
}

/** What the targets stage planned: enough for reports ("Not shown: 997 closed ports", scaninfo). */
export interface ScanPlan {
  /** Number of distinct target hosts after exclusions. */
  hosts: number;
  /** Number of (port, proto) pairs probed on each host. */
  portsPerHost: number;
  /** Total probes = hosts × portsPerHost (before sharding). */
  probes: number;
  /** Probes in this shard (equals `probes` without --shard). */
  shardProbes: number;
  ports: PortLists;
  /** Seed of the permutation, so a run can be reproduced. */
  seed: number;
  shard: { index: number; count: number };
  /**
   * Hash of the expanded plan (address ranges after exclusions, the ordered port list, shard,
   * order): `--resume` refuses to continue a scan whose re-created plan would probe anything else.
   */
  fingerprint?: string;
  /** Hostnames the user typed, by the address each resolved to (reports show them: nmap's type="user"). */
  names?: Record<string, string>;
  /** --max-hostgroup / --min-hostgroup: hosts per group (positions run group by group); absent: one group of every host. */
  hostGroup?: number;
}

/**
 * The end of a host group (--max-hostgroup): every probe of the group's hosts came before it. The
 * stages after targets finish the group (discovery's verdicts, the port scan's answers, retries
 * and timeouts) before they pass this on and take the next group's probes, as nmap's groups.
 */
export interface HostGroupEnd {
  type: 'hostgroup';
  /** "4:0", "4:1", … "6:0": the family and the group's number in it. */
  group: string;
  /** Hosts of the group that had probes in this stream (this shard / resumed part). */
  hosts: number;
}

export interface ScanHeader {
  type: 'scan';
  schema: number;
  tool: 'prtip';
  version: string;
  scanId: string;
  /** The command line(s) that produced the stream, one entry per stage that ran. */
  args: string[];
  /** Unix epoch, milliseconds. */
  startTime: number;
  plan?: ScanPlan;
  /** Scan types run so far ("connect", "syn", …), appended by scanning stages. */
  scanTypes?: string[];
  /**
   * Set by stages/discover: the ping probes it used (nmap's flags, "-PE -PS443 -PA80 -PP", or
   * "connect:80,443"). Its host records then decide up/down; later stages add none of their own.
   */
  hostDiscovery?: string;
}

/**
 * A batch of probes as packed binary columns (the hot path: JS cost is per batch).
 * Entry i is probe number `start + i` of the scan's permutation index space.
 *   addrs:  count × 4 bytes (family 4) or count × 16 bytes (family 6), network order
 *   ports:  count × 2 bytes, big-endian
 *   protos: count × 1 byte, IP protocol number (6 tcp, 17 udp, 132 sctp)
 */
export interface ProbeBatch {
  type: 'probes';
  family: 4 | 6;
  start: number;
  count: number;
  addrs: Uint8Array;
  ports: Uint8Array;
  protos: Uint8Array;
}

export interface PortRecord {
  type: 'port';
  ip: string;
  port: number;
  proto: Proto;
  state: PortState;
  /** Nmap reason vocabulary: syn-ack, reset, conn-refused, no-response, port-unreach, … */
  reason: string;
  /** TTL of the reply, null when the scan type cannot see it (connect scan). */
  ttl: number | null;
  /** Round-trip time in milliseconds, null when there was no reply. */
  rtt: number | null;
  /** Unix epoch, milliseconds, when the state was decided. */
  time: number;
  /** TCP window of the reply (raw scans that saw one: SYN-ACK or RST). */
  window?: number;
  /** TCP options of a raw scan's SYN-ACK, hex ("020405b4…"; "" for none): part of the reply's fingerprint. */
  tcpOptions?: string;
  /**
   * Set by the middlebox stage (stages/middlebox) on open TCP ports: how much the open state can be
   * believed, 0–10 (10: the host answers like a host, or a full handshake got bytes from the service;
   * 7: unchecked port of a suspect host whose checked ports spoke; 3: unchecked port of a host judged
   * proxied; 1: checked, and the handshake completed but no byte ever came).
   */
  confidence?: number;
  /** True when the SYN-ACK most likely came from a SYN proxy, tarpit or answer-everything balancer, not a service. */
  proxied?: boolean;
  /** What the middlebox stage's full-handshake check of this port saw (absent: not checked). */
  check?: HandshakeCheck;
}

/**
 * A full-handshake check of an open port: `data` (the service sent bytes, unasked or to a tiny
 * probe), `silent` (connected, no byte within the wait), `reset` / `closed` (connected, then a RST
 * or FIN before any byte: a SYN proxy without a backend), `refused` (the kernel's connect was
 * refused: the SYN-ACK came from something else), `timeout` (the connect never completed).
 */
export type HandshakeCheck = 'data' | 'silent' | 'reset' | 'closed' | 'refused' | 'timeout';

/** On a host record: the host was judged to sit behind something that answers SYN-ACK for every port. */
export interface MiddleboxNote {
  verdict: 'proxied';
  /** Open (SYN-ACK) and closed answers the host gave. */
  open: number;
  closed: number;
  /** Ports checked with a full handshake, and how many of them sent a byte. */
  checked: number;
  spoke: number;
  /** The SYN-ACKs' shared fingerprint, e.g. "ttl 64, window 10, no options". */
  fingerprint?: string;
  /** Why the host was suspected: "93% of answers open", "network/broadcast address", "fingerprint seen on proxied hosts". */
  why: string;
}

export interface HostRecord {
  type: 'host';
  ip: string;
  state: HostState;
  /** Why: user-set (-Pn), syn-ack, conn-refused, no-response, … */
  reason: string;
  hostname?: string;
  /** Round-trip time of the answer that showed the host up (discovery), ms: nmap's "latency". */
  rtt?: number;
  /** --host-timeout gave the host up: its ports are not reported (nmap: <host timedout="true">). */
  timedOut?: boolean;
  time: number;
  /** Set by the middlebox stage when the host's SYN-ACKs come from a proxy/tarpit (its open ports are marked proxied). */
  middlebox?: MiddleboxNote;
}

/** Room for later stages: detect emits these; older stages pass them through untouched. */
export interface ServiceRecord {
  type: 'service';
  ip: string;
  port: number;
  proto: Proto;
  name: string;
  product?: string;
  version?: string;
  extrainfo?: string;
  cpe?: string[];
  method: 'probed' | 'table';
  conf: number;
  /** Host name the service announced (nmap's h/ field). */
  hostname?: string;
  /** Operating system the service revealed (nmap's o/ field). */
  ostype?: string;
  /** Device type (nmap's d/ field). */
  devicetype?: string;
  /** 'ssl' when the service was found inside TLS (nmap's tunnel="ssl", shown as ssl/http). */
  tunnel?: 'ssl';
  /** The TLS certificate, when the service spoke TLS. */
  cert?: CertSummary;
  /** The probe whose response identified the service (NULL, GetRequest, …). */
  probe?: string;
  /** Raw banner text as received (e.g. imported from masscan), when a stage keeps it. */
  banner?: string;
  /** nmap's service fingerprint (SF-Port…;) of a service that answered but was not identified (-oX servicefp). */
  servicefp?: string;
}

/** What a service record keeps of a TLS certificate. */
export interface CertSummary {
  /** Distinguished names as "CN=…, O=…". */
  subject: string;
  issuer: string;
  /** subjectAltName entries, e.g. "DNS:example.org", "IP:198.18.0.2". */
  sans: string[];
  /** ISO 8601 validity bounds. */
  notBefore: string;
  notAfter: string;
  /** rsa, ec, ed25519, … */
  keyType: string;
  keyBits?: number;
  curve?: string;
  serial: string;
  /** SHA-256 of the DER certificate, hex. */
  sha256: string;
  selfSigned: boolean;
  /** Negotiated protocol and cipher (TLSv1.3, TLS_AES_256_GCM_SHA384). */
  protocol?: string;
  cipher?: string;
}

export interface OsRecord {
  type: 'os';
  ip: string;
  matches: OsMatch[];
  /** The rest is filled by the OS stage (stages/os); imports and merges may carry only matches. */
  /** Ports the probes used (XML <portused>). */
  portsUsed?: Array<{ state: 'open' | 'closed'; proto: 'tcp' | 'udp'; port: number }>;
  /** True when some matches are perfect ("OS details"), false for guesses only. */
  perfect?: boolean;
  /** nmap's outcome: 'too-many-matches' when more references match perfectly than can be listed. */
  outcome?: 'success' | 'no-matches' | 'too-many-matches';
  /** Why the fingerprint is unfit for submission (nmap's "test conditions non-ideal"), when it is. */
  unfitReason?: string;
  /** The host lacked an open or a closed TCP port ("OSScan results may be unreliable…"). */
  unreliable?: boolean;
  /** --osscan-guess: show guesses even for a fingerprint fit for submission. */
  guess?: boolean;
  /**
   * The distinct classes of the whole guess list, in order (nmap's Device type / Running / OS CPE
   * come from these, which can reach past the listed matches); the first `classesPerfect` are from
   * perfect matches.
   */
  classes?: Array<{ vendor: string; osfamily: string; osgen?: string; devicetype: string; cpe: string[]; score: number }>;
  classesPerfect?: number;
  /** The fingerprint in nmap's submission format (SCAN(…) and the test lines, `OS:`-wrapped). */
  fingerprint?: string;
  /** Why there are no matches although the probes ran (IPv6: no IPv6 OS database). */
  noMatchReason?: string;
  /** Hops to the target and how they were measured (L localhost, D direct, I ICMP, T traceroute). */
  distance?: { hops: number; method: 'L' | 'D' | 'I' | 'T' };
  /** From the TCP timestamps: seconds since boot and the boot time (Unix seconds). */
  uptime?: { seconds: number; lastboot: number };
  /** SEQ: the SP index with nmap's difficulty words and the ISNs seen (hex). */
  tcpSequence?: { index: number; difficulty: string; values: string[] };
  /** TI's class in nmap's words ("All zeros", "Incremental", …) and the IP IDs seen (hex). */
  ipIdSequence?: { class: string; values: string[] };
  /** The timestamp class ("100HZ", "other", "none returned (unsupported)") and the TSvals (hex). */
  tcpTsSequence?: { class: string; values?: string[] };
}

export interface OsMatch {
  name: string;
  /** Percent, floor(score × 100) as nmap prints it. */
  accuracy: number;
  /** The exact accuracy (0..1) the OS stage computed; the 10-point rules of nmap's report use it. */
  score?: number;
  cpe?: string[];
  /** nmap's osclass fields, when the OS stage knows them (XML <osclass>). */
  vendor?: string;
  osfamily?: string;
  osgen?: string;
  devicetype?: string;
  /** Line of the reference in nmap-os-db (XML <osmatch line>). */
  line?: number;
  /** Every Class of the reference, when it has more than the one in the flat fields above. */
  classes?: Array<{ vendor: string; osfamily: string; osgen?: string; devicetype: string; cpe: string[] }>;
}

/**
 * A host's traceroute (stages/trace, --traceroute): the hops to it, nmap's way. `port`/`proto`
 * name the probe (absent for a directly connected host: nothing was sent, its one hop is itself).
 */
export interface TraceRecord {
  type: 'trace';
  ip: string;
  port?: number;
  proto?: Proto;
  /** TTL 1 … the target; a hop without `ip` timed out. */
  hops: TraceHop[];
  /** Hops 1…ttl were found on this other host's path (nmap: "Hops 1-ttl are the same as for ip"). */
  sharedWith?: { ip: string; ttl: number };
}

export interface TraceHop {
  ttl: number;
  ip?: string;
  /** ms, two decimals; null when unknown. */
  rtt?: number | null;
  /** The hop's reverse name (with -R). */
  host?: string;
}

/**
 * One NSE script's result (stages/script): attached to a port (portrule), a host (hostrule),
 * or the whole scan (prerule/postrule: no ip).
 */
export interface ScriptRecord {
  type: 'script';
  /** Script id: its file name without ".nse" (http-title). */
  id: string;
  scope: 'port' | 'host' | 'prerule' | 'postrule';
  ip?: string;
  port?: number;
  proto?: Proto;
  /** The text nmap shows (normal output, XML output attribute). */
  output: string;
  /** Structured output (XML <elem>/<table>), when the script returned a table. */
  elements?: ScriptElement[];
}

/** One item of structured script output: a keyed or unkeyed value, or a nested table. */
export interface ScriptElement {
  key?: string;
  value?: string;
  table?: ScriptElement[];
}

/**
 * Emitted by a scanning stage after every probe of a batch has its answer (all of the batch's
 * port records were emitted before it). The store records these ranges so a killed scan can be
 * resumed: positions start..start+count-1 of the permutation need not be probed again.
 */
export interface ProgressRecord {
  type: 'progress';
  start: number;
  count: number;
}

/**
 * A stage's live counters, emitted every few seconds while it works (when asked: --stats-every,
 * a terminal, --tui, prtip serve) so that the status line, the TUI, the web API and prtip format
 * read the same numbers. `counters` are the ones the stage's trailer will carry, as of `time`.
 * Rates and ETA are derived by readers from consecutive records (stages/records/status.ts).
 */
export interface StatusRecord {
  type: 'status';
  /** The stage reporting: send, detect, … */
  stage: string;
  /** What it is doing, in nmap's words: port scan, service scan, … */
  phase: string;
  /** Scan type of a scanning stage (connect, syn). */
  scanType?: string;
  /** Unix epoch ms of this snapshot, and of the stage's start. */
  time: number;
  startTime: number;
  /** Work decided so far (probes answered or timed out; services identified or given up). */
  done: number;
  /** Work planned, when known (the plan's probes; detect: ports queued so far). */
  total: number | null;
  counters: Record<string, number>;
}

export interface EndTrailer {
  type: 'end';
  endTime: number;
  /** True when a stage stopped early (SIGINT, upstream ended without a trailer). */
  interrupted: boolean;
  /** Counters per stage, e.g. { targets: { probes: 100 }, send: { open: 3 } }. */
  counters: Record<string, Record<string, number>>;
}

export type KnownRecord =
  | ScanHeader
  | ProbeBatch
  | PortRecord
  | HostRecord
  | ServiceRecord
  | OsRecord
  | ScriptRecord
  | TraceRecord
  | ProgressRecord
  | HostGroupEnd
  | StatusRecord
  | EndTrailer;

/** Any record: the known ones, or one of a type this build does not know (passed through). */
export type AnyRecord = KnownRecord | { type: string; [field: string]: unknown };
