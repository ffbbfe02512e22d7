/**
 * A parallel DNS resolver, as nmap's own (nmap_dns.cc): many lookups at once over UDP to the
 * servers of --dns-servers or the system's resolv.conf, each attempt bounded by a timeout, retried
 * on the next server, /etc/hosts first. `--system-dns` takes the system resolver (getnameinfo /
 * getaddrinfo) instead, a few lookups at a time. Used for reverse names (-R, -sL, traceroute hops)
 * and, with --dns-servers, for the names of targets.
 */
import dgram from 'node:dgram';
import { lookup, lookupService } from 'node:dns/promises';
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { encodeQuery, parseReply, reverseQueryName, sameName, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_PTR } from './message.js';
import { readHostsFile, readResolvConf, type DnsServer } from './system-files.js';

export interface ResolverOptions {
  /** --dns-servers (address or address:port, [v6]:port); default: resolv.conf's nameservers. */
  servers?: string[];
  /** --system-dns: getnameinfo/getaddrinfo instead of prtip's resolver. */
  system?: boolean;
  /** One attempt's wait, ms (default 1000). */
  timeoutMs?: number;
  /** Attempts after the first, each to the next server (default 2). */
  retries?: number;
  /** Lookups in flight at once (default 64). */
  concurrency?: number;
  /** Where the system's files are (tests; defaults /etc/resolv.conf, /etc/hosts). */
  resolvConf?: string;
  hostsFile?: string;
}

export interface ResolverCounters {
  queries: number;
  replies: number;
  timeouts: number;
  names: number;
}

const RCODE_NXDOMAIN = 3;

/** Parses one --dns-servers entry: 198.18.0.53, 198.18.0.53:5353, 2001:2::53, [2001:2::53]:5353. */
export function parseDnsServer(text: string): DnsServer | undefined {
  const t = text.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) return net.isIPv6(bracket[1]!) ? { address: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : 53 } : undefined;
  if (net.isIP(t)) return { address: t, port: 53 };
  const hp = /^([\d.]+):(\d+)$/.exec(t);
  if (hp && net.isIPv4(hp[1]!) && Number(hp[2]) >= 1 && Number(hp[2]) <= 65535) return { address: hp[1]!, port: Number(hp[2]) };
  return undefined;
}

interface Pending {
  id: number;
  qname: string;
  qtype: number;
  attempt: number;
  server: DnsServer;
  timer?: NodeJS.Timeout;
  /** The next attempt (or the end, after the last). */
  retry?: () => void;
  done: (answer: string | undefined) => void;
}

export class Resolver {
  readonly counters: ResolverCounters = { queries: 0, replies: 0, timeouts: 0, names: 0 };
  private readonly opts: Required<Pick<ResolverOptions, 'timeoutMs' | 'retries' | 'concurrency'>> & ResolverOptions;
  private servers?: DnsServer[];
  private hosts?: Map<string, string>;
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  private readonly pending = new Map<number, Pending>();

  constructor(opts: ResolverOptions = {}) {
    this.opts = { timeoutMs: 1000, retries: 2, concurrency: 64, ...opts };
    if (opts.servers) {
      this.servers = opts.servers.map((s) => {
        const parsed = parseDnsServer(s);
        if (!parsed) throw new RangeError(`bad DNS server "${s}"`);
        return parsed;
      });
    }
  }

  /** Which servers this resolver asks (empty with --system-dns). */
  async serverList(): Promise<DnsServer[]> {
    if (this.opts.system) return [];
    this.servers ??= await readResolvConf(this.opts.resolvConf);
    return this.servers;
  }

  /** Reverse names of the addresses (PTR), in parallel; addresses without a name are left out. */
  async reverse(ips: Iterable<string>): Promise<Map<string, string>> {
    const list = [...new Set(ips)];
    const out = new Map<string, string>();
    if (list.length === 0) return out;
    this.hosts ??= await readHostsFile(this.opts.hostsFile);
    await this.parallel(list, this.opts.system ? 4 : this.opts.concurrency, async (ip) => {
      const name = this.hosts!.get(canonical(ip)) ?? (this.opts.system ? await systemReverse(ip, this.opts.timeoutMs * (this.opts.retries + 1)) : await this.ask(reverseQueryName(ip), TYPE_PTR));
      if (name) {
        out.set(ip, name);
        this.counters.names++;
      }
    });
    return out;
  }

  /** First address of each name in `family` (A or AAAA); names that do not resolve are left out. */
  async forward(names: Iterable<string>, family: 4 | 6): Promise<Map<string, string>> {
    const list = [...new Set(names)];
    const out = new Map<string, string>();
    await this.parallel(list, this.opts.system ? 16 : this.opts.concurrency, async (name) => {
      const addr = this.opts.system
        ? await lookup(name, { family }).then((r) => r.address, () => undefined)
        : await this.ask(name, family === 4 ? TYPE_A : TYPE_AAAA);
      if (addr) out.set(name, addr);
    });
    return out;
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.done(undefined);
    }
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private async parallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await work(items[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  }

  /** One lookup: attempts over the servers in turn until an answer, a "no such name", or the last timeout. */
  private async ask(qname: string, qtype: number): Promise<string | undefined> {
    const servers = await this.serverList();
    if (servers.length === 0) return undefined;
    return new Promise((resolve) => {
      const p: Pending = { id: this.freeId(), qname, qtype, attempt: 0, server: servers[0]!, done: resolve };
      const first = randomInt(0, servers.length);
      const send = () => {
        p.server = servers[(first + p.attempt) % servers.length]!;
        const sock = this.socketFor(net.isIPv6(p.server.address) ? 6 : 4);
        this.counters.queries++;
        sock.send(encodeQuery(p.id, qname, qtype), p.server.port, p.server.address, (err) => { if (err) retry(); });
        p.timer = setTimeout(() => {
          this.counters.timeouts++;
          retry();
        }, this.opts.timeoutMs);
      };
      const retry = () => {
        clearTimeout(p.timer);
        if (!this.pending.has(p.id)) return;
        if (p.attempt >= this.opts.retries) {
          this.pending.delete(p.id);
          resolve(undefined);
          return;
        }
        p.attempt++;
        send();
      };
      p.retry = retry;
      this.pending.set(p.id, p);
      send();
    });
  }

  private freeId(): number {
    for (;;) {
      const id = randomInt(0, 0x10000);
      if (!this.pending.has(id)) return id;
    }
  }

  private socketFor(family: 4 | 6): dgram.Socket {
    let s = this.sockets.get(family);
    if (s) return s;
    s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('message', (msg, from) => this.onMessage(msg, from));
    s.on('error', () => { /* a send error is retried by its timer */ });
    s.unref();
    this.sockets.set(family, s);
    return s;
  }

  private onMessage(msg: Buffer, from: dgram.RemoteInfo): void {
    const reply = parseReply(msg);
    if (!reply || !reply.response) return;
    const p = this.pending.get(reply.id);
    // Only the server asked may answer, and only for the question asked (no spoofed or stale replies).
    if (!p || canonical(from.address) !== canonical(p.server.address) || from.port !== p.server.port) return;
    if (!reply.question || !sameName(reply.question.name, p.qname) || reply.question.type !== p.qtype) return;
    this.counters.replies++;
    if (reply.rcode !== 0 && reply.rcode !== RCODE_NXDOMAIN) {
      p.retry?.(); // SERVFAIL, REFUSED…: the next server may know
      return;
    }
    clearTimeout(p.timer);
    this.pending.delete(p.id);
    p.done(reply.rcode === 0 ? answerOf(reply.answers, p.qname, p.qtype) : undefined);
  }
}

/** The answer for qname, following CNAMEs (RFC 2317 delegations of reverse zones use them). */
function answerOf(answers: Array<{ name: string; type: number; data?: string }>, qname: string, qtype: number): string | undefined {
  let name = qname;
  for (let hops = 0; hops < 8; hops++) {
    const hit = answers.find((a) => a.type === qtype && a.data !== undefined && sameName(a.name, name));
    if (hit) return qtype === TYPE_PTR ? hit.data!.replace(/\.$/, '') : hit.data;
    const alias = answers.find((a) => a.type === TYPE_CNAME && a.data !== undefined && sameName(a.name, name));
    if (!alias) return undefined;
    name = alias.data!;
  }
  return undefined;
}

function canonical(ip: string): string {
  const v = ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  if (!net.isIPv6(v)) return v;
  // One spelling per IPv6 address, so /etc/hosts and replies compare with targets.
  return new net.SocketAddress({ address: v, family: 'ipv6' }).address;
}

async function systemReverse(ip: string, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), timeoutMs); });
  const name = lookupService(ip, 0).then((r) => (r.hostname && r.hostname !== ip ? r.hostname : undefined), () => undefined);
  try {
    return await Promise.race([name, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
