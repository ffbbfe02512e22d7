/**
 * The check behind every proxied mark: a full kernel handshake to the port, then a short, bounded
 * read. A service either speaks first (ssh, smtp, ftp banners) or answers a tiny request (an HTTP
 * GET, which most text protocols answer with at least an error); a SYN proxy without a backend
 * resets right after the handshake, and a tarpit or a silent proxy never sends a byte.
 */
import net from 'node:net';
import type { HandshakeCheck } from '../records/index.js';

export interface CheckTimes {
  /** Most time for the connect, ms. */
  connectMs: number;
  /** Wait for a banner before sending the probe, ms. */
  bannerMs: number;
  /** Wait for an answer after the probe, ms. */
  replyMs: number;
}

export const CHECK_DEFAULTS: CheckTimes = { connectMs: 1500, bannerMs: 300, replyMs: 1200 };

/** Small, harmless, and answered by HTTP servers and most line-based services (often with an error). */
const PROBE = Buffer.from('GET / HTTP/1.0\r\n\r\n');

export type HandshakeChecker = (ip: string, port: number, signal?: AbortSignal) => Promise<HandshakeCheck>;

/** Connects to ip:port and reports what came back, within connectMs + bannerMs + replyMs. */
export function handshakeCheck(times: CheckTimes = CHECK_DEFAULTS): HandshakeChecker {
  return (ip, port, signal) =>
    new Promise<HandshakeCheck>((resolve) => {
      let connected = false;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const sock = net.connect({ host: ip, port });
      const done = (v: HandshakeCheck) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        sock.destroy();
        resolve(v);
      };
      const onAbort = () => done(connected ? 'silent' : 'timeout');
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('data', () => done('data'));
      sock.on('end', () => done('closed'));
      sock.on('error', (e: NodeJS.ErrnoException) => {
        // A SYN proxy's RST can beat the connect callback: reset before or after, it is a reset.
        if (!connected) done(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ECONNRESET' ? 'reset' : 'timeout');
        else done(e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : 'closed');
      });
      sock.on('close', () => done(connected ? 'closed' : 'timeout'));
      timers.push(setTimeout(() => done('timeout'), times.connectMs));
      sock.once('connect', () => {
        connected = true;
        clearTimeout(timers[0]);
        timers.push(setTimeout(() => {
          sock.write(PROBE, () => {});
          timers.push(setTimeout(() => done('silent'), times.replyMs));
        }, times.bannerMs));
      });
      if (signal?.aborted) onAbort();
    });
}
