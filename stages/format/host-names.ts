import type { HostRecord, ScanHeader } from '../records/index.js';

/**
 * The names a host is known by in reports, as nmap keeps them: the name the user typed on the
 * command line (type "user", from the targets stage's plan) and the reverse-DNS name (type "PTR",
 * with -R). Normal output shows the typed name first ("localhost (127.0.0.1)").
 */
export interface HostName {
  name: string;
  type: 'user' | 'PTR';
}

export class HostNames {
  private readonly typed: Readonly<Record<string, string>>;

  constructor(header: ScanHeader | undefined) {
    this.typed = header?.plan?.names ?? {};
  }

  /** Every name of a host: the typed one, then the PTR one. */
  of(ip: string, host: HostRecord | undefined): HostName[] {
    const out: HostName[] = [];
    const user = Object.prototype.hasOwnProperty.call(this.typed, ip) ? this.typed[ip] : undefined;
    if (user) out.push({ name: user, type: 'user' });
    if (host?.hostname) out.push({ name: host.hostname, type: 'PTR' });
    return out;
  }

  /** The name a report heads a host with: the typed one, else the PTR one. */
  first(ip: string, host: HostRecord | undefined): string | undefined {
    // As of(ip, host)[0], without building the list (one call per host of the report).
    const user = Object.prototype.hasOwnProperty.call(this.typed, ip) ? this.typed[ip] : undefined;
    return user || host?.hostname || undefined;
  }
}
