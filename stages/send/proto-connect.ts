import net from 'node:net';
import type { PortState } from '../records/index.js';

/** The outcome of one connect() to a TCP port, in nmap's vocabulary. */
export interface ConnectOutcome {
  state: PortState;
  reason: string;
  rtt: number | null;
  /** True when the attempt said nothing about the port (timeout, or a local resource limit). */
  retryable: boolean;
  /** True when the failure was our own resources (fds, ephemeral ports), not the network's answer. */
  localShortage?: boolean;
}

/** Errors a host or router reports about the path: the port is filtered, with nmap's reason names. */
const UNREACHABLE_REASONS: Readonly<Record<string, string>> = {
  EHOSTUNREACH: 'host-unreach',
  ENETUNREACH: 'net-unreach',
  EACCES: 'admin-prohibited',
  EPERM: 'admin-prohibited',
};

/** Local shortages: retry later, they say nothing about the port. */
const LOCAL_SHORTAGE = new Set(['EMFILE', 'ENFILE', 'EADDRNOTAVAIL', 'ENOBUFS', 'EAGAIN']);

/**
 * One TCP connect attempt, closed with a RST as soon as it succeeds (so an open port costs the
 * target no TIME_WAIT and us no lingering socket). Never rejects.
 */
export function connectOnce(ip: string, port: number, timeoutMs: number): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = new net.Socket();
    let settled = false;
    const finish = (outcome: ConnectOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      if (outcome.state === 'open') socket.resetAndDestroy();
      else socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ state: 'filtered', reason: 'no-response', rtt: null, retryable: true }),
      timeoutMs,
    );
    socket.once('connect', () =>
      finish({ state: 'open', reason: 'syn-ack', rtt: performance.now() - started, retryable: false }),
    );
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const rtt = performance.now() - started;
      const code = err.code ?? '';
      if (code === 'ECONNREFUSED') return finish({ state: 'closed', reason: 'conn-refused', rtt, retryable: false });
      if (code === 'ECONNRESET') return finish({ state: 'closed', reason: 'reset', rtt, retryable: false });
      const unreachable = UNREACHABLE_REASONS[code];
      if (unreachable) return finish({ state: 'filtered', reason: unreachable, rtt, retryable: false });
      if (code === 'ETIMEDOUT') return finish({ state: 'filtered', reason: 'no-response', rtt: null, retryable: true });
      if (LOCAL_SHORTAGE.has(code)) {
        return finish({ state: 'filtered', reason: 'no-response', rtt: null, retryable: true, localShortage: true });
      }
      finish({ state: 'filtered', reason: `error-${code.toLowerCase() || 'unknown'}`, rtt, retryable: false });
    });
    socket.connect({ host: ip, port, noDelay: true });
  });
}
