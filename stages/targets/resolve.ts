/** Hostname → address, the only lookup this stage does (getaddrinfo via dns.lookup, like nmap). */
import { lookup } from 'node:dns/promises';
import { UserInputError } from '../records/index.js';
import { Resolver } from '../dns/index.js';

/** Parallel lookups: enough to hide resolver latency on a long -iL list, few enough to be polite. */
const CONCURRENCY = 16;

const REASONS: Readonly<Record<string, string>> = {
  ENOTFOUND: 'no such host',
  ENODATA: 'the name has no address of that family',
  EAI_AGAIN: 'temporary resolver failure (try again, or check DNS)',
  ESERVFAIL: 'the DNS server failed',
};

/**
 * Resolves each distinct name to its first address of `family` (nmap scans only the first).
 * Returns name → address text. An unresolvable name is a UserInputError naming it.
 */
export async function resolveNames(names: Iterable<string>, family: 4 | 6, dnsServers?: string[]): Promise<Map<string, string>> {
  const queue = [...new Set(names)];
  if (dnsServers) {
    // --dns-servers: nmap asks those servers for target names too, not the system resolver.
    const resolver = new Resolver({ servers: dnsServers });
    try {
      const found = await resolver.forward(queue, family);
      const missing = queue.find((n) => !found.has(n));
      if (missing !== undefined) throw new UserInputError(`cannot resolve "${missing}" to an IPv${family} address at --dns-servers ${dnsServers.join(',')}: no answer`);
      return found;
    } finally {
      resolver.close();
    }
  }
  const result = new Map<string, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      const name = queue[next++]!;
      try {
        const { address } = await lookup(name, { family });
        result.set(name, address);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        const hint = family === 4 ? '; if it has only IPv6 addresses, use -6' : '';
        throw new UserInputError(`cannot resolve "${name}" to an IPv${family} address: ${REASONS[code] ?? code}${hint}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  return result;
}
