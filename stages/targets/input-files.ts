/** Reading -iL / --excludefile lists ('-' is standard input). */
import { readFile } from 'node:fs/promises';
import { UserInputError } from '../records/index.js';

const MESSAGES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
};

/** Reads one list file; `stdin` is used for '-' and may be read only once per scan. */
export class ListReader {
  private stdinUsed = false;

  constructor(private readonly stdin: NodeJS.ReadableStream | undefined) {}

  async read(path: string, flag: string): Promise<string> {
    if (path === '-') return this.readStdin(flag);
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new UserInputError(`${flag} "${path}": ${MESSAGES[code] ?? code}`);
    }
  }

  private async readStdin(flag: string): Promise<string> {
    if (!this.stdin) throw new UserInputError(`${flag} -: standard input is not available here; give a file name`);
    if (this.stdinUsed) throw new UserInputError(`${flag} -: standard input was already read by another list option`);
    this.stdinUsed = true;
    const chunks: Buffer[] = [];
    for await (const chunk of this.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks).toString('utf8');
  }
}
