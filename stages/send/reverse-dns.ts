import dns from 'node:dns';

/**
 * Reverse DNS through the system resolver (getnameinfo: /etc/hosts, then DNS), bounded in time.
 * Resolves to undefined when no name is found in time.
 */
export async function reverseName(ip: string, timeoutMs = 2000): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  const lookup = dns.promises
    .lookupService(ip, 0)
    .then((r) => (r.hostname && r.hostname !== ip ? r.hostname : undefined))
    .catch(() => undefined);
  try {
    return await Promise.race([lookup, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
