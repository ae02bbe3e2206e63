/**
 * The id of this Berth installation: random, made once, kept in the store's `meta` table (so it
 * moves with the database, not with the host name). It tells this Berth's objects on a shared
 * PostgreSQL server from another Berth's (see infra/postgres.ts managedMarker).
 */
import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

const KEY = 'instance_id';

/** This installation's id (12 hex characters), created on first call. */
export function instanceId(db: Db): string {
  const read = () => db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(KEY)?.value;
  const existing = read();
  if (existing) return existing;
  // INSERT OR IGNORE, then read back: of two first calls at once, one id wins for both.
  db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(KEY, randomBytes(6).toString('hex'));
  return read()!;
}
