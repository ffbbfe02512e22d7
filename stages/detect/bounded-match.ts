/**
 * Regex matching of service replies with a time budget per response. A banner crafted for
 * catastrophic backtracking against one of nmap-service-probes' 11,000 patterns must not freeze
 * the scan, and a running RegExp cannot be stopped from JavaScript. `withinBudget` runs one
 * response's whole search under node:vm's watchdog (a thread that interrupts the isolate when
 * the time is up; V8 checks for interrupts while a regexp backtracks), so a search that runs
 * past its budget is stopped, counts as "no match", and is counted in `cut`.
 *
 * One watchdog per response, not per pattern: a response tests thousands of patterns in a few
 * milliseconds, and a watchdog costs tens of microseconds. (A worker thread per pattern, tried
 * first, costs a thread hand-off per pattern: 30x slower on unmatched banners.)
 */
import vm from 'node:vm';

export interface BoundedMatcherOptions {
  /** Longest one response's search may run (ms). */
  responseBudgetMs?: number;
}

export const BOUNDED_MATCH_DEFAULTS = { responseBudgetMs: 1000 };

export class BoundedMatcher {
  private readonly context = vm.createContext({});
  private readonly script = new vm.Script('run()');
  private readonly budgetMs: number;
  /** Searches stopped for running past the budget. */
  cut = 0;

  constructor(opts: BoundedMatcherOptions = {}) {
    this.budgetMs = opts.responseBudgetMs ?? BOUNDED_MATCH_DEFAULTS.responseBudgetMs;
  }

  /** search(), or undefined when it ran past the budget. */
  withinBudget<T>(search: () => T): T | undefined {
    const ctx = this.context as { run?: () => T };
    ctx.run = search;
    try {
      return this.script.runInContext(this.context, { timeout: this.budgetMs }) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw err;
      this.cut++;
      return undefined;
    } finally {
      ctx.run = undefined;
    }
  }
}

/** The matcher detect uses, one per process. */
let shared: BoundedMatcher | undefined;
export function sharedMatcher(): BoundedMatcher {
  shared ??= new BoundedMatcher();
  return shared;
}
