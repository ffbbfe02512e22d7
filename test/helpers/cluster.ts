/** Test helpers for prtip cluster: watching a worker's log, waiting for a scan's state. */
import type { ChildProcess } from 'node:child_process';
import { clusterStatus, type ClusterStatus } from '../../pipelines/cluster/control.js';
import { connectRedis } from '../../pipelines/cluster/redis.js';

export interface WatchedWorker {
  child: ChildProcess;
  log(): string;
  /** Resolves with the first match of `re` in the worker's stderr; rejects on timeout or exit. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
}

export function watchWorker(child: ChildProcess): WatchedWorker {
  let log = '';
  child.stderr!.on('data', (c: Buffer) => { log += c.toString(); });
  return {
    child,
    log: () => log,
    async waitFor(re, ms = 60_000) {
      const end = Date.now() + ms;
      for (;;) {
        const m = re.exec(log);
        if (m) return m;
        if (Date.now() > end || child.exitCode !== null || child.signalCode !== null) throw new Error(`worker: no ${re} in: ${log.slice(-800)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/**
 * Polls the scan's state in-process until `done` holds (the CLI's status is checked separately:
 * each run of it costs a process start). Only for timing: expected values never come from here.
 */
export async function waitForCluster(url: string, id: string, done: (s: ClusterStatus) => boolean, ms = 90_000): Promise<ClusterStatus> {
  const conn = await connectRedis(url);
  try {
    const end = Date.now() + ms;
    for (;;) {
      const s = await clusterStatus(conn, id);
      if (done(s)) return s;
      if (Date.now() > end) throw new Error(`cluster scan ${id} never got there: ${JSON.stringify(s.shards)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    conn.disconnect();
  }
}
