/** Runs the built prtip CLI (dist/) the way a user would, for integration tests. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PRTIP_BIN = fileURLToPath(new URL('../../packages/oclif-cli/bin/run.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  /** stdout as bytes (record streams are binary). */
  stdoutBytes: Buffer;
  stderr: string;
}

/** `prtip ARGS` with optional stdin, bounded in time. */
export function runCli(args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PRTIP_BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(out);
      resolve({ code, stdout: bytes.toString(), stdoutBytes: bytes, stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);
  });
}

/** Parses JSON Lines output into records. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}
