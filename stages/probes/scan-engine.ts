import type { PortRecord, ProbeBatch, ProgressRecord } from '../records/index.js';

/** What a scan type decides: a port's state, or that every probe of a batch has its answer. */
export type Decided = PortRecord | ProgressRecord;

/**
 * One scan type (like a ZMap probe module): it takes probe batches and yields port records as
 * they are decided. The send stage drives every scan type the same way (stages/send/index.ts); the raw session
 * (raw-session.ts) is the engine of every raw probe module, proto-connect.ts (in send) the connect scan.
 */
export interface ScanEngine {
  /** Takes a batch's TCP probes (others are skipped: the stage counts them); yields what is decided meanwhile. */
  add(batch: ProbeBatch): AsyncGenerator<Decided, void, undefined>;
  /** Waits out the probes in flight, yielding the last records. */
  finish(): AsyncGenerator<Decided, void, undefined>;
  /**
   * Waits out the probes in flight (answered, retried, timed out) and stays ready for more: the
   * end of a host group (--max-hostgroup), after which the next group's probes come.
   */
  finishGroup(): AsyncGenerator<Decided, void, undefined>;
  /** Releases sockets and threads; idempotent. */
  close(): Promise<void>;
  /** True once the scan was interrupted (or failed): no new probe goes out. */
  readonly aborted: boolean;
  /** Why the scan failed (its link went down, …), once it did; it stopped sending, its results stand. */
  readonly failure?: string;
  /** Counters for the trailer (sent, retries, open, closed, filtered, …). */
  readonly counters: Readonly<Record<string, number>>;
}
