/**
 * Which probes host discovery sends: nmap's -PE/-PP/-PM/-PS/-PA/-PU/-PY/-PO choices, their port lists
 * (-PS22,80,1000-1010) and protocol lists (-PO1,2,4), and nmap's defaults when none is given — privileged: -PE -PS443 -PA80 -PP
 * (IPv6: without -PP, which ICMPv6 lacks); unprivileged: connect() to 80 and 443.
 */
import { UserInputError } from '../records/index.js';

export interface PingProbes {
  echo: boolean;
  timestamp: boolean;
  mask: boolean;
  /** -PS ports, -PA ports, -PU ports (empty: that probe is not sent). */
  syn: number[];
  ack: number[];
  udp: number[];
  /** -PY ports (SCTP INIT), -PO IP protocol numbers (empty: not sent). */
  sctp: number[];
  ipProto: number[];
  /** -PR: ARP/ND on the local link (always used there unless --disable-arp-ping, as nmap does). */
  arp: boolean;
}

/** nmap's default ports: -PS/-PA 80, -PU 40125, -PY 80; -PO's default protocols: ICMP, IGMP, IP-in-IP. */
export const DEFAULT_TCP_PING_PORT = 80;
export const DEFAULT_UDP_PING_PORT = 40125;
export const DEFAULT_SCTP_PING_PORT = 80;
export const DEFAULT_PING_PROTOCOLS: readonly number[] = [1, 2, 4];
/** The unprivileged ping: connect() to these. */
export const CONNECT_PING_PORTS: readonly number[] = [80, 443];

export function noPingProbes(): PingProbes {
  return { echo: false, timestamp: false, mask: false, syn: [], ack: [], udp: [], sctp: [], ipProto: [], arp: false };
}

/** True when the user chose no probe of their own (nmap's defaults apply). */
export function isDefault(p: PingProbes): boolean {
  return !p.echo && !p.timestamp && !p.mask && p.syn.length === 0 && p.ack.length === 0 && p.udp.length === 0 &&
    p.sctp.length === 0 && p.ipProto.length === 0 && !p.arp;
}

/** nmap's privileged defaults for a family: -PE -PS443 -PA80, and -PP on IPv4. */
export function defaultPingProbes(family: 4 | 6): PingProbes {
  return { echo: true, timestamp: family === 4, mask: false, syn: [443], ack: [80], udp: [], sctp: [], ipProto: [], arp: true };
}

/**
 * A ping's port list as nmap takes it, attached to the flag: "" → the default port; "22,80",
 * "1000-1010", "22,1000-1010". Ports 0-65535, no duplicates kept, order kept.
 */
export function parsePingPorts(flag: string, text: string, fallback: number): number[] {
  if (text === '') return [fallback];
  return parseNumberList(flag, text, 65535, 'port', '22,80,1000-1010');
}

/** -PO's protocol list: "" → nmap's 1,2,4; "1,6,17", "50-51"; protocol numbers 0-255. */
export function parsePingProtocols(flag: string, text: string): number[] {
  if (text === '') return [...DEFAULT_PING_PROTOCOLS];
  return parseNumberList(flag, text, 255, 'protocol number', '1,6,17');
}

function parseNumberList(flag: string, text: string, max: number, what: string, example: string): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || lo > max || hi > max || lo > hi) {
      throw new UserInputError(`${flag}${text}: "${part}" is not a ${what} or range (0-${max}, e.g. ${flag}${example})`);
    }
    for (let p = lo; p <= hi; p++) {
      if (!seen.has(p)) { seen.add(p); out.push(p); }
    }
  }
  return out;
}

/** The probes as nmap's flags, for headers and messages: "-PE -PS443 -PA80 -PP". */
export function describePing(p: PingProbes): string {
  const ports = (l: number[]) => l.join(',');
  const parts: string[] = [];
  if (p.arp) parts.push('-PR');
  if (p.echo) parts.push('-PE');
  if (p.syn.length) parts.push(`-PS${ports(p.syn)}`);
  if (p.ack.length) parts.push(`-PA${ports(p.ack)}`);
  if (p.udp.length) parts.push(`-PU${ports(p.udp)}`);
  if (p.sctp.length) parts.push(`-PY${ports(p.sctp)}`);
  if (p.ipProto.length) parts.push(`-PO${ports(p.ipProto)}`);
  if (p.timestamp) parts.push('-PP');
  if (p.mask) parts.push('-PM');
  return parts.join(' ');
}
