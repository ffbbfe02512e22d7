/**
 * A script's socket (nmap.new_socket): TCP, TLS (connect with "ssl" or reconnect_ssl) and UDP,
 * over Node's kernel sockets. Received bytes queue here until the script reads them; errors
 * use nmap's words ("TIMEOUT", "EOF", "connection refused") because scripts compare them.
 * Every connect is checked against the scan's targets first.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import type { TargetPolicy } from './primitives.js';

type Result = [true] | [false, string];

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'TIMEOUT',
  EPIPE: 'broken pipe',
};

function errText(e: NodeJS.ErrnoException): string {
  return (e.code && ERRNO_TEXT[e.code]) || e.message;
}

export class ScriptSocket {
  private tcp: net.Socket | tls.TLSSocket | undefined;
  private udp: dgram.Socket | undefined;
  private peer: { ip: string; port: number } | undefined;
  private readonly queue: Buffer[] = [];
  private ended = false;
  private failure: string | undefined;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(
    readonly id: number,
    readonly proto: 'tcp' | 'udp',
    private readonly policy: TargetPolicy,
  ) {}

  async connect(ip: string, port: number, proto: string, timeoutMs: number): Promise<Result> {
    const wantTls = proto === 'ssl';
    const l4 = proto === 'udp' || this.proto === 'udp' ? 'udp' : 'tcp';
    if (!net.isIP(ip)) return [false, `cannot connect to "${ip}": scripts may connect only to scan targets by address`];
    if (!Number.isInteger(port) || port < 0 || port > 65535) return [false, `invalid port "${port}"`];
    const refusal = this.policy(ip, port, l4);
    if (refusal) return [false, refusal];
    this.closed = false;
    this.reset();
    this.peer = { ip, port };
    if (l4 === 'udp') return this.connectUdp(ip, port);
    return new Promise<Result>((resolve) => {
      let settled = false;
      const done = (r: Result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        sock.destroy();
        done([false, 'TIMEOUT']);
      }, timeoutMs);
      const sock: net.Socket = wantTls
        ? tls.connect({ host: ip, port, rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' }, () => done([true]))
        : net.connect({ host: ip, port }, () => done([true]));
      this.attach(sock);
      sock.once('error', (e: NodeJS.ErrnoException) => done([false, errText(e)]));
    });
  }

  private connectUdp(ip: string, port: number): Promise<Result> {
    return new Promise<Result>((resolve) => {
      const s = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
      this.udp = s;
      s.on('message', (msg, rinfo) => {
        if (rinfo.address === ip && rinfo.port === port) this.push(msg);
      });
      s.on('error', (e: NodeJS.ErrnoException) => this.fail(errText(e)));
      s.connect(port, ip, () => resolve([true]));
    });
  }

  private attach(sock: net.Socket): void {
    this.tcp = sock;
    sock.on('data', (d: Buffer) => this.push(d));
    sock.on('end', () => {
      this.ended = true;
      this.notify();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => this.fail(errText(e)));
    sock.on('close', () => {
      this.ended = true;
      this.notify();
    });
  }

  /** STARTTLS: TLS over the connection already open (nmap's reconnect_ssl). */
  async startTls(timeoutMs: number): Promise<Result> {
    const raw = this.tcp;
    if (!raw || this.ended) return [false, 'socket is not connected'];
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    this.queue.length = 0;
    return new Promise<Result>((resolve) => {
      let settled = false;
      const done = (r: Result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        secure.destroy();
        done([false, 'TIMEOUT']);
      }, timeoutMs);
      const secure = tls.connect({ socket: raw, rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' }, () => done([true]));
      this.ended = false;
      this.failure = undefined;
      this.attach(secure);
      secure.once('error', (e: NodeJS.ErrnoException) => done([false, errText(e)]));
    });
  }

  async send(data: Buffer): Promise<Result> {
    if (this.udp) {
      const u = this.udp;
      return new Promise((resolve) => u.send(data, (e) => resolve(e ? [false, errText(e as NodeJS.ErrnoException)] : [true])));
    }
    const s = this.tcp;
    if (!s || s.destroyed) return [false, 'Trying to send through a closed socket'];
    return new Promise((resolve) => s.write(data, (e) => resolve(e ? [false, errText(e as NodeJS.ErrnoException)] : [true])));
  }

  /** Unconnected UDP: the datagram goes to ip:port (checked like a connect). */
  async sendTo(ip: string, port: number, data: Buffer): Promise<Result> {
    const refusal = net.isIP(ip) ? this.policy(ip, port, 'udp') : `cannot send to "${ip}": not an address`;
    if (refusal) return [false, refusal];
    if (!this.udp) {
      const s = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
      this.udp = s;
      s.on('message', (msg) => this.push(msg));
      s.on('error', (e: NodeJS.ErrnoException) => this.fail(errText(e)));
    }
    const u = this.udp;
    return new Promise((resolve) => u.send(data, port, ip, (e) => resolve(e ? [false, errText(e as NodeJS.ErrnoException)] : [true])));
  }

  /** The next bytes received (all that is queued), or why there are none. */
  async read(timeoutMs: number): Promise<{ data?: Buffer; error?: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.queue.length > 0) {
        // a UDP read returns one datagram; a stream read returns what has arrived
        const data = this.udp ? this.queue.shift()! : Buffer.concat(this.queue.splice(0));
        return { data };
      }
      if (this.failure) return { error: this.failure };
      if (this.ended || this.closed) return { error: 'EOF' };
      if (!this.tcp && !this.udp) return { error: 'socket is not connected' };
      const left = deadline - Date.now();
      if (left <= 0) return { error: 'TIMEOUT' };
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.wake = undefined;
          resolve();
        }, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  info(): { localAddress: string; localPort: number; remoteAddress: string; remotePort: number } | undefined {
    if (this.tcp && !this.tcp.destroyed) {
      return {
        localAddress: this.tcp.localAddress ?? '', localPort: this.tcp.localPort ?? 0,
        remoteAddress: this.tcp.remoteAddress ?? this.peer?.ip ?? '', remotePort: this.tcp.remotePort ?? this.peer?.port ?? 0,
      };
    }
    if (this.udp && this.peer) {
      const a = this.udp.address();
      return { localAddress: a.address, localPort: a.port, remoteAddress: this.peer.ip, remotePort: this.peer.port };
    }
    return undefined;
  }

  peerCertificate(): Buffer | undefined {
    const s = this.tcp;
    if (!s || !(s instanceof tls.TLSSocket)) return undefined;
    const c = s.getPeerCertificate(false);
    return c && c.raw ? c.raw : undefined;
  }

  close(): void {
    this.closed = true;
    this.reset();
    this.notify();
  }

  private reset(): void {
    this.tcp?.destroy();
    this.tcp = undefined;
    try {
      this.udp?.close();
    } catch {
      // already closed
    }
    this.udp = undefined;
    this.queue.length = 0;
    this.ended = false;
    this.failure = undefined;
  }

  private push(d: Buffer): void {
    this.queue.push(d);
    this.notify();
  }

  private fail(text: string): void {
    this.failure ??= text;
    this.notify();
  }

  private notify(): void {
    this.wake?.();
  }
}
