/** What a user can change while a scan runs (nmap's runtime interaction keys): verbosity and debugging. */
export interface Interaction {
  verbose: number;
  debug: number;
  /** --packet-trace now (p on, P off). */
  packetTrace?: boolean;
}
