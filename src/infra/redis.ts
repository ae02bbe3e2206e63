/**
 * Shared Redis: each app that `requires: [redis]` gets a logical database index of its own.
 *
 * Why indexes, not key prefixes: every Redis client library takes a DB number in its URL
 * (`redis://host:6379/3`), while key prefixes need per-app support (Paperless has one, Celery,
 * Sidekiq and most others do not) — and purging an index is one FLUSHDB instead of a SCAN+DEL.
 * Index 0 stays unassigned: it is what anything unconfigured on the same server writes to.
 *
 * The allocator is pure; the caller stores the app → index mapping (and must serialize
 * allocations, e.g. inside one store transaction).
 *
 * Isolation caveat: Redis ACLs cannot restrict SELECT, so an app that wants to can read another
 * app's database. Apps needing hard isolation should not share Redis.
 */
import type { RedisBinding } from '../domain/app.js';
import { BerthError } from '../errors.js';
import { connectResp, parseRedisUrl, RespReplyError } from './resp.js';

/** First index handed to apps. */
export const FIRST_APP_DB = 1;
/** Redis's default `databases` setting. */
export const DEFAULT_REDIS_DATABASES = 16;

/**
 * The database index for `app`: its existing assignment, else the lowest free index in
 * [FIRST_APP_DB, databases). Throws E_REDIS_DBS_EXHAUSTED when none is left.
 */
export function allocateRedisDb(app: string, assigned: ReadonlyMap<string, number>, databases = DEFAULT_REDIS_DATABASES): number {
  const existing = assigned.get(app);
  if (existing !== undefined) return existing;
  const used = new Set(assigned.values());
  for (let db = FIRST_APP_DB; db < databases; db++) if (!used.has(db)) return db;
  throw new BerthError('E_REDIS_DBS_EXHAUSTED', `all ${databases - FIRST_APP_DB} Redis databases for apps are in use`, {
    hint: 'raise `databases` in the shared Redis configuration, or uninstall an app with --purge',
  });
}

/**
 * What an app gets: the server URL with its own database index. `appHost`/`appPort` override the
 * address workloads use (e.g. `host.containers.internal`); credentials of `serverUrl` are kept.
 */
export function redisBinding(serverUrl: string, db: number, opts: { appHost?: string | undefined; appPort?: number | undefined } = {}): RedisBinding {
  const target = parseRedisUrl(serverUrl);
  const host = opts.appHost ?? target.host;
  const port = opts.appPort ?? target.port;
  const auth =
    target.password !== undefined ? `${target.username ? encodeURIComponent(target.username) : ''}:${encodeURIComponent(target.password)}@` : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { url: `${target.tls ? 'rediss' : 'redis'}://${auth}${hostPart}:${port}/${db}`, host, port, db };
}

/** The server's `databases` setting (how many indexes exist); the default when CONFIG is disabled. */
export async function redisDatabases(serverUrl: string): Promise<number> {
  const conn = await connectResp(serverUrl);
  try {
    const reply = await conn.command(['CONFIG', 'GET', 'databases']);
    const value = Array.isArray(reply) ? Number(reply[1]) : NaN;
    return Number.isInteger(value) && value > 0 ? value : DEFAULT_REDIS_DATABASES;
  } catch (err) {
    // Managed Redis services often rename or disable CONFIG.
    if (err instanceof RespReplyError) return DEFAULT_REDIS_DATABASES;
    throw err;
  } finally {
    await conn.close();
  }
}

/** `redis_version` of the server; throws E_INFRA_UNAVAILABLE when it cannot connect or authenticate. */
export async function probeRedis(serverUrl: string): Promise<string> {
  const conn = await connectResp(serverUrl);
  try {
    const info = await conn.command(['INFO', 'server']);
    return /redis_version:([^\r\n]+)/.exec(String(info))?.[1] ?? '?';
  } finally {
    await conn.close();
  }
}

/**
 * Deletes every key of one app's database (uninstall --purge). Refuses index 0, which is never an
 * app's. FLUSHDB ASYNC: the keys are gone at once, memory is reclaimed in the background.
 */
export async function flushAppKeys(serverUrl: string, db: number): Promise<void> {
  if (!Number.isInteger(db) || db < FIRST_APP_DB) {
    throw new BerthError('E_BAD_REQUEST', `refusing to flush Redis database ${db}: apps use ${FIRST_APP_DB} and up`);
  }
  const conn = await connectResp(serverUrl);
  try {
    await conn.command(['SELECT', db]);
    try {
      await conn.command(['FLUSHDB', 'ASYNC']);
    } catch (err) {
      // Redis < 4 has no ASYNC flag.
      if (!(err instanceof RespReplyError)) throw err;
      await conn.command(['FLUSHDB']);
    }
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw new BerthError('E_INFRA', `Redis refused to flush database ${db}: ${(err as Error).message}`, { cause: err });
  } finally {
    await conn.close();
  }
}
