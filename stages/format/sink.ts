import fs from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Text is written out in chunks of about this size: one write per record is one syscall per record on a pipe. */
const COALESCE_BYTES = 64 * 1024;

/**
 * Where an output goes: a file, or stdout for "-". Writes honour backpressure. Small writes are
 * coalesced and go out when 64 KiB gathered, at the next turn of the event loop, or on close.
 */
export class OutputSink {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;

  private constructor(
    readonly path: string,
    private readonly stream: Writable,
    private readonly owned: boolean,
  ) {}

  static open(path: string, stdout: Writable): OutputSink {
    if (path === '-') return new OutputSink(path, stdout, false);
    return new OutputSink(path, fs.createWriteStream(path), true);
  }

  /** Gathers text; a promise only when it had to be written out and the stream is full (await it then). */
  write(text: string): Promise<void> | undefined {
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= COALESCE_BYTES) return this.flushNow();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.flush().catch(() => {});
      });
    }
  }

  /** Writes out what was gathered; resolves when the stream can take more. */
  async flush(): Promise<void> {
    await this.flushNow();
  }

  /** Writes out what was gathered; a promise only when the stream asks to wait for 'drain'. */
  private flushNow(): Promise<void> | undefined {
    if (this.pending.length === 0) return undefined;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.stream.write(text)) return once(this.stream, 'drain').then(() => {});
    return undefined;
  }

  async close(): Promise<void> {
    await this.flush();
    if (!this.owned) return;
    this.stream.end();
    await once(this.stream, 'finish');
  }

  /** Waits until the file is open, so a bad path fails before the scan starts. */
  async ready(): Promise<void> {
    if (!this.owned) return;
    const s = this.stream as fs.WriteStream;
    if (!s.pending) return;
    await Promise.race([once(s, 'ready'), once(s, 'error').then(([e]) => { throw e; })]);
  }
}
