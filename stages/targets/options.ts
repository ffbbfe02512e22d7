import type { Proto } from '../records/index.js';

/** The targets stage's options: one field per command-line flag it honours. */
export interface TargetsOptions {
  /** Target specs from the command line (nmap syntax). */
  specs: string[];
  /** -iL FILE ('-' = read `stdin`). */
  inputFiles?: string[];
  /** Used when an input or exclude file is '-'. */
  stdin?: NodeJS.ReadableStream;
  /** --exclude values (each may be comma-separated specs). */
  exclude?: string[];
  /** --excludefile */
  excludeFiles?: string[];
  /** -p spec; undefined → nmap's default, the top 1000 TCP ports. */
  ports?: string;
  /** -F: top 100 ports. */
  fast?: boolean;
  /** --top-ports N */
  topPorts?: number;
  /** Protocols the scan types probe (-sS: tcp, -sU: udp): what unprefixed -p items and top-port lists mean; default tcp. */
  protocols?: Proto[];
  /** -4 / -6 */
  family?: 4 | 6;
  /** --dns-servers: resolve target names with prtip's resolver at these servers (default: the system's getaddrinfo). */
  dnsServers?: string[];
  /** --seed (default: random 32-bit, recorded in header.plan.seed). */
  seed?: number;
  /** --shard i/n, 1-based i. */
  shard?: { index: number; count: number };
  /** -r: no permutation (host-major sequential order). */
  sequential?: boolean;
  /**
   * --max-hostgroup / --min-hostgroup: hosts are scanned in groups of this many (address order);
   * each group's probes form one run of positions, followed by a hostgroup record when it is
   * complete (downstream stages finish the group before the next one starts). Undefined: one group.
   */
  hostGroup?: number;
  /** Where nmap-services lives (default: $PRTIP_DATADIR, else /usr/share/nmap). */
  datadir?: string;
  /**
   * Permutation positions not to generate, as [start, end) ranges (a resumed scan skips the
   * batches a killed run finished). Needs the same seed, ports, targets and shard as that run.
   */
  skip?: Array<[number, number]>;
  /** Probes per batch, default 8192. */
  batchSize?: number;
  /** Command line, put into the header. */
  args: string[];
  /** Aborted on SIGINT: stop generating, still emit the trailer with interrupted: true. */
  signal?: AbortSignal;
}
