import type { HostRecord, PortRecord } from '../records/index.js';

/**
 * What the scan learned about each host: whether any port answered. Hosts that answered are up
 * (with the first answer as the reason); the rest are down — unless the user said every host is
 * up (-Pn), which nmap records as reason "user-set".
 */
export class HostTable {
  private readonly firstAnswer = new Map<string, string | undefined>();

  note(rec: PortRecord): void {
    const known = this.firstAnswer.get(rec.ip);
    if (known !== undefined) return;
    const answered = rec.state === 'open' || rec.state === 'closed';
    this.firstAnswer.set(rec.ip, answered ? rec.reason : undefined);
  }

  /** Forgets every host (their records were emitted: a finished host group). */
  clear(): void {
    this.firstAnswer.clear();
  }

  get size(): number {
    return this.firstAnswer.size;
  }

  *records(assumeUp: boolean): Generator<HostRecord> {
    const time = Date.now();
    for (const [ip, reason] of this.firstAnswer) {
      if (assumeUp) yield { type: 'host', ip, state: 'up', reason: 'user-set', time };
      else if (reason) yield { type: 'host', ip, state: 'up', reason, time };
      else yield { type: 'host', ip, state: 'down', reason: 'no-response', time };
    }
  }
}
