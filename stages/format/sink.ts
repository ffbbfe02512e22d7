import fs from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Where an output goes: a file, or stdout for "-". Writes honour backpressure. */
export class OutputSink {
  private constructor(
    readonly path: string,
    private readonly stream: Writable,
    private readonly owned: boolean,
  ) {}

  static open(path: string, stdout: Writable): OutputSink {
    if (path === '-') return new OutputSink(path, stdout, false);
    return new OutputSink(path, fs.createWriteStream(path), true);
  }

  async write(text: string): Promise<void> {
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
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
