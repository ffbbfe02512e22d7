/**
 * Where the cluster's Redis is (`--redis redis://host:port[/db]` or `unix:///path/to/socket`) and
 * how prtip connects to it. A command that cannot reach Redis says so in one line and stops; a
 * worker that lost its connection later keeps retrying (ioredis' default), as BullMQ expects.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { UserInputError } from '../../stages/records/index.js';

/** ioredis options for a --redis URL; refuses anything else with what it takes. */
export function parseRedisUrl(raw: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserInputError(`bad --redis "${raw}": use redis://host:port or unix:///path/to/redis.sock`);
  }
  if (u.protocol === 'unix:') {
    if (!u.pathname || u.pathname === '/') throw new UserInputError(`bad --redis "${raw}": unix:// needs a socket path, like unix:///run/redis.sock`);
    const db = u.searchParams.get('db');
    return { path: decodeURIComponent(u.pathname), ...(db !== null ? { db: dbNumber(raw, db) } : {}) };
  }
  if (u.protocol !== 'redis:') {
    throw new UserInputError(`bad --redis "${raw}": ${u.protocol.replace(/:$/, '')}:// is not supported; use redis://host:port or unix:///path`);
  }
  if (!u.hostname) throw new UserInputError(`bad --redis "${raw}": no host; use redis://host:port`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const opts: RedisOptions = { host: u.hostname.replace(/^\[|\]$/g, ''), port };
  if (u.username) opts.username = decodeURIComponent(u.username);
  if (u.password) opts.password = decodeURIComponent(u.password);
  const path = u.pathname.replace(/^\//, '');
  if (path !== '') opts.db = dbNumber(raw, path);
  return opts;
}

function dbNumber(raw: string, v: string): number {
  if (!/^\d{1,2}$/.test(v)) throw new UserInputError(`bad --redis "${raw}": the database is a number (redis://host:port/0)`);
  return Number(v);
}

/**
 * A connected client. `worker: true` is what BullMQ workers need (blocking commands must not time
 * out, so no per-request retry limit) and keeps reconnecting; otherwise the first failure is final.
 */
export async function connectRedis(url: string, opts: { worker?: boolean; timeoutMs?: number } = {}): Promise<Redis> {
  const base = parseRedisUrl(url);
  const client = new Redis({
    ...base,
    lazyConnect: true,
    maxRetriesPerRequest: opts.worker ? null : 1,
    connectTimeout: opts.timeoutMs ?? 5000,
    ...(opts.worker ? {} : { retryStrategy: () => null }),
  });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => { lastError = err; });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new UserInputError(`cannot reach Redis at ${url}: ${(lastError ?? (err as Error)).message}`);
  }
  return client;
}
