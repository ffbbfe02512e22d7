/** A command in a detached tmux session: a real terminal for tests (send-keys, capture-pane). */
import { execFileSync, spawnSync } from 'node:child_process';

export function hasTmux(): boolean {
  return spawnSync('tmux', ['-V']).status === 0;
}

export class TmuxSession {
  readonly name = `prtip-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  /** A tmux server of its own (-L): sessions of other tests and users never interfere. */
  private readonly socket = ['-L', this.name];

  constructor(command: string[], opts: { width?: number; height?: number; env?: Record<string, string> } = {}) {
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ');
    // The pane stays after the command exits so its last screen can still be read.
    const script = `${env ? `env ${env} ` : ''}${command.map(shellQuote).join(' ')}; echo "[exit $?]"; sleep 600`;
    execFileSync('tmux', [...this.socket, 'new-session', '-d', '-s', this.name, '-x', String(opts.width ?? 160), '-y', String(opts.height ?? 48), 'sh', '-c', script]);
  }

  /** The visible screen plus scrollback, as text. */
  capture(): string {
    return execFileSync('tmux', [...this.socket, 'capture-pane', '-p', '-J', '-S', '-2000', '-t', this.name]).toString();
  }

  keys(...keys: string[]): void {
    execFileSync('tmux', [...this.socket, 'send-keys', '-t', this.name, ...keys]);
  }

  /** Polls the screen until `pattern` shows (bounded by `timeoutMs`); returns the screen. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.capture();
      if (pattern.test(screen)) return screen;
      if (Date.now() > until) throw new Error(`tmux screen never showed ${pattern}; last screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  kill(): void {
    spawnSync('tmux', [...this.socket, 'kill-server']);
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}
