/**
 * What the raw probe side hands to the fingerprint computation for one host and one round:
 * what was sent (OsProbeContext) and, per probe, the reply nmap would take for it (OsReplies).
 * Plain data, no sockets — the probe modules (issue 8's engine) fill it, tests write it by hand,
 * and decode.ts builds the reply fields from raw IPv4 packets.
 *
 * Probe names follow nmap: SEQ1–SEQ6 (SYNs to the open port, 100 ms apart), ECN, T1–T7 (T1 is
 * SEQ1's reply), U1 (UDP to a closed port), IE1–IE2 (ICMP echo).
 */

/** IPv4 header fields of a reply. */
export interface OsIpFields {
  /** Identification (16 bits). */
  id: number;
  ttl: number;
  /** Don't-fragment bit. */
  df: boolean;
  /** Total length from the header. */
  totalLength: number;
  /** Header checksum as received (not checked by any test; kept for completeness). */
  checksum?: number;
}

/**
 * One TCP option as it appeared, in order. `malformed` on the reply marks an option list nmap
 * could not walk (an option longer than the bytes left), which makes the O string empty.
 */
export type OsTcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackok' }
  | { kind: 'timestamp'; tsval: number; tsecr: number }
  | { kind: 'other'; code: number; data: Uint8Array };

/** A TCP reply to one of the TCP probes. */
export interface OsTcpReply {
  ip: OsIpFields;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** The flags byte: FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80. */
  flags: number;
  window: number;
  urgentPointer: number;
  /** The 4 reserved bits between data offset and flags (nmap's th_x2). */
  reserved: number;
  options: OsTcpOption[];
  /** True when the option bytes could not be walked (nmap then reports O as empty). */
  optionsMalformed?: boolean;
  /** Bytes after the TCP header (for RD, the CRC-32 of RST data). */
  payload: Uint8Array;
}

/** An ICMP echo reply to IE1 or IE2. */
export interface OsIcmpEchoReply {
  ip: OsIpFields;
  type: number;
  code: number;
  id: number;
  seq: number;
  payload?: Uint8Array;
}

/** The ICMP port unreachable answering U1. */
export interface OsIcmpUnreachReply {
  ip: OsIpFields;
  type: number;
  code: number;
  /** The 32-bit "unused" word after the ICMP checksum. */
  unused: number;
  /**
   * The quoted datagram: everything after the 8-byte ICMP header up to the reply's IP total
   * length (quoted IP header, UDP header, whatever of the 300 'C's came back).
   */
  quoted: Uint8Array;
}

/** What was sent, needed to read the replies (all from the probe side's own state). */
export interface OsProbeContext {
  /** The open TCP port probed (SEQ, ECN, T1–T4), or null when none was known. */
  openTcpPort: number | null;
  /** The closed TCP port probed (T5–T7), or null when none. */
  closedTcpPort: number | null;
  /**
   * True when closedTcpPort came from the port scan (closed state), not a fallback (unfiltered
   * or random 30000–44780): only then does a missing T5–T7 reply count as R=N, as in nmap.
   */
  closedTcpPortKnown: boolean;
  /** The closed UDP port probed by U1 (null when none). */
  closedUdpPort: number | null;
  /** Base sequence number: SEQ i is sent with seq base+i−1, every other TCP probe with base. */
  tcpSeqBase: number;
  /** The acknowledgment number sent with the TCP probes (ECN sends 0). */
  tcpAck: number;
  /** When each SEQ probe was sent, in microseconds (any epoch; only differences are used). Null: not sent. */
  seqSentUs: Array<number | null>;
  /** Wall-clock seconds (Unix time) of SEQ1's sending, for the uptime guess (lastboot). */
  seqSentUnixSeconds?: number;
  /** U1 as sent: IP TTL, IP ID (0x1042), the UDP checksum as on the wire, the data byte ('C'). */
  u1: { ttl: number; ipId: number; udpChecksum: number; patternByte: number; sport: number; dport: number };
  /** ICMP echo probes that had to be retransmitted (their IP IDs are not used for II). */
  ieRetransmitted?: [boolean, boolean];
  /** Scanning the local machine (nmap corrects IP ID differences for its own RSTs). */
  localhost?: boolean;
  /** --scan-delay in ms (SEQ sequencing is skipped above 1000 ms, as nmap does). */
  scanDelayMs?: number;
}

/** The replies of one round; null where nothing (usable) came back. */
export interface OsReplies {
  /** SEQ1–SEQ6, in the order the replies arrived (normally probe order): each is [probe index 0–5, reply]. */
  seq: Array<[number, OsTcpReply]>;
  /**
   * Replies to TOPS1–6, the SEQ probes nmap sends again (seq = base) in the TUI phase for SEQ
   * probes that got none: each gives the O and W of its SEQ index when the SEQ reply is missing.
   */
  tops?: Array<OsTcpReply | null>;
  ecn: OsTcpReply | null;
  /**
   * T1–T7 by index 0–6. T1 normally comes from SEQ1's reply and may be left null here; a T1
   * given here is used only when SEQ1 got no reply (nmap resends T1 then).
   */
  t: Array<OsTcpReply | null>;
  u1: OsIcmpUnreachReply | null;
  /** IE1, IE2. */
  ie: [OsIcmpEchoReply | null, OsIcmpEchoReply | null];
}

export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PUSH = 0x08;
export const TH_ACK = 0x10;
export const TH_URG = 0x20;
export const TH_ECE = 0x40;
export const TH_CWR = 0x80;
