/** Starts the built `prtip serve` on loopback (a free port) for tests, and speaks its API. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PRTIP_BIN } from './cli.js';

export interface Served {
  base: string;
  token: string;
  dbPath: string;
  child: ChildProcess;
  stderr(): string;
  api(pathname: string, init?: { method?: string; body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  stop(): Promise<number | null>;
}

export async function startServe(extra: string[] = []): Promise<Served> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-serve-'));
  const dbPath = path.join(dir, 'scans.duckdb');
  const token = `test-token-${Math.random().toString(36).slice(2)}-0123456789`;
  fs.writeFileSync(path.join(dir, 'token'), `${token}\n`);
  const child = spawn(process.execPath, [PRTIP_BIN, 'serve', '--db', dbPath, '--port', '0', '--token-file', path.join(dir, 'token'), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prtip serve did not start: ${err}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /http:\/\/(127\.0\.0\.1:\d+)\/\?token=/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
    child.on('exit', (code) => reject(new Error(`prtip serve exited ${code}: ${err}`)));
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    base, token, dbPath, child,
    stderr: () => err,
    async api(pathname, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const tok = init.token === undefined ? token : init.token;
      if (tok !== null) headers.authorization = `Bearer ${tok}`;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${base}${pathname}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body) });
      const text = await res.text();
      let body: unknown = text;
      try { body = JSON.parse(text); } catch { /* not JSON */ }
      return { status: res.status, body };
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

export interface SseEvent { id: string; event: string; data: any }

/** Reads Server-Sent Events until `until` says stop (or the stream ends). */
export async function readEvents(url: string, headers: Record<string, string>, until: (e: SseEvent) => boolean, timeoutMs = 60_000): Promise<SseEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  if (res.status !== 200) throw new Error(`events: HTTP ${res.status}: ${await res.text()}`);
  const events: SseEvent[] = [];
  let buf = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const e: SseEvent = { id: '', event: 'message', data: '' };
        for (const line of block.split('\n')) {
          const [k, ...rest] = line.split(':');
          const v = rest.join(':').replace(/^ /, '');
          if (k === 'id') e.id = v;
          else if (k === 'event') e.event = v;
          else if (k === 'data') e.data = (e.data as string) + v;
        }
        if (e.data === '' && e.event === 'message') continue;
        try { e.data = JSON.parse(e.data as string); } catch { /* text */ }
        events.push(e);
        if (until(e)) {
          ac.abort();
          return events;
        }
      }
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  return events;
}
