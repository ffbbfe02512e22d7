/**
 * How the discover stage asks whether hosts are up: a prober takes groups of addresses and hands
 * back one verdict per host as answers come in. The raw prober sends nmap's ping probes through
 * the raw session (stages/probes); the connect prober is the unprivileged ping.
 */
export interface HostVerdict {
  ip: string;
  up: boolean;
  /** nmap's reason: echo-reply, syn-ack, reset, port-unreach, no-response, … */
  reason: string;
  /** Round-trip time of the answer that decided it, ms. */
  rtt?: number;
}

export interface HostProber {
  /** Starts probing the hosts of one family (addresses packed, 4 or 16 bytes each); resolves once they are queued. */
  probe(family: 4 | 6, addrs: Uint8Array): Promise<void>;
  /** Verdicts decided since the last call (the prober keeps nothing of decided hosts). */
  take(): HostVerdict[];
  /** Hosts probed and not decided yet. */
  readonly undecided: number;
  /** Waits for a little progress: some verdicts, or a few ms. */
  step(): Promise<void>;
  /** Waits until every host probed so far has its verdict (take() them after). */
  settle(): Promise<void>;
  close(): Promise<void>;
  readonly counters: Readonly<Record<string, number>>;
}
