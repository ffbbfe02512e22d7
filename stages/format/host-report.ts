import type { HostRecord, PortRecord, ServiceRecord } from '../records/index.js';

/** Everything the report knows about one host, gathered from its records. */
export interface HostReport {
  ip: string;
  host?: HostRecord;
  ports: PortRecord[];
  services: Map<string, ServiceRecord>;
}

export const portKey = (port: number, proto: string): string => `${port}/${proto}`;

/** Sort key for addresses: IPv4 numerically, then IPv6 by their expanded text. */
export function compareIps(a: string, b: string): number {
  const fa = a.includes(':') ? 6 : 4;
  const fb = b.includes(':') ? 6 : 4;
  if (fa !== fb) return fa - fb;
  if (fa === 4) {
    const n = (ip: string) => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    return n(a) - n(b);
  }
  return expandV6(a) < expandV6(b) ? -1 : expandV6(a) > expandV6(b) ? 1 : 0;
}

function expandV6(ip: string): string {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const fill = ip.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((w) => w.padStart(4, '0')).join(':');
}

const PROTO_ORDER: Record<string, number> = { tcp: 0, udp: 1, sctp: 2 };

export function comparePorts(a: PortRecord, b: PortRecord): number {
  return (PROTO_ORDER[a.proto] ?? 9) - (PROTO_ORDER[b.proto] ?? 9) || a.port - b.port;
}

/** Collects records per host; reports come out sorted by address. */
export class HostReports {
  private readonly byIp = new Map<string, HostReport>();

  private get(ip: string): HostReport {
    let r = this.byIp.get(ip);
    if (!r) {
      r = { ip, ports: [], services: new Map() };
      this.byIp.set(ip, r);
    }
    return r;
  }

  addPort(rec: PortRecord): void {
    this.get(rec.ip).ports.push(rec);
  }

  addHost(rec: HostRecord): void {
    this.get(rec.ip).host = rec;
  }

  addService(rec: ServiceRecord): void {
    this.get(rec.ip).services.set(portKey(rec.port, rec.proto), rec);
  }

  sorted(): HostReport[] {
    return [...this.byIp.values()].sort((a, b) => compareIps(a.ip, b.ip));
  }
}

/** Up when a host record says so; without one, up when any port answered. */
export function isUp(r: HostReport): boolean {
  if (r.host) return r.host.state === 'up';
  return r.ports.some((p) => p.state === 'open' || p.state === 'closed' || p.state === 'unfiltered');
}
