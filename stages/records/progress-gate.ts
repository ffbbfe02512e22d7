/**
 * What a `progress` record means, for every stage after send (detect now; os and script later):
 * "every stage up to here has finished with this batch". A stage that starts work on records it
 * reads (a service probe per open port, an OS probe per host, …) must not pass a batch's progress
 * record on while work begun on records that came before it is still running — else the store
 * marks the batch done, a kill lands, and `--resume` never does that work.
 *
 * The gate is one ordered rule, so stages cannot get it subtly wrong each in their own way:
 * each unit of work takes a ticket (`begin()`) in input order; a progress record arriving is
 * held behind every ticket taken before it, and leaves (in order) once those are all `finish()`ed.
 * Work that was cut short (SIGINT, a stage giving up) is never finished: its progress records are
 * never released, so that batch is probed again on resume.
 */
import type { ProgressRecord } from './types.js';

export class ProgressGate {
  private nextTicket = 0;
  /** Tickets begun and not finished. */
  private readonly open = new Set<number>();
  /** Progress records waiting, each with the first ticket it does not wait for. */
  private readonly held: Array<{ rec: ProgressRecord; before: number }> = [];
  /** Lowest ticket still open (or nextTicket when none): everything below it has finished. */
  private low = 0;

  /** A unit of work starts, for a record read before any progress record still to come. */
  begin(): number {
    const t = this.nextTicket++;
    this.open.add(t);
    return t;
  }

  /** That work completed (its output records have been emitted or queued ahead of release()). */
  finish(ticket: number): void {
    if (!this.open.delete(ticket)) return;
    if (ticket !== this.low) return;
    let l = this.low + 1;
    while (l < this.nextTicket && !this.open.has(l)) l++;
    this.low = this.open.size === 0 ? this.nextTicket : l;
  }

  /** A progress record arrived: it waits for the work begun before it. */
  hold(rec: ProgressRecord): void {
    this.held.push({ rec, before: this.nextTicket });
  }

  /** The progress records whose earlier work has all finished, in arrival order. */
  release(): ProgressRecord[] {
    if (this.open.size === 0) this.low = this.nextTicket;
    let n = 0;
    while (n < this.held.length && this.held[n]!.before <= this.low) n++;
    return n === 0 ? [] : this.held.splice(0, n).map((h) => h.rec);
  }

  /** Progress records still held (at the end: batches whose work did not complete). */
  get pending(): number {
    return this.held.length;
  }
}
