/**
 * Berth's own store in the backup repository: a consistent copy taken with SQLite's online backup
 * API while the daemon keeps writing (never a copy of the live file, which could be torn between
 * the database and its WAL), streamed into restic as `berth.db`, and restored into a data
 * directory for disaster recovery. Also the repository password: generated once, 0600.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { once } from 'node:events';
import type { Db } from '../store/db.js';
import { BerthError } from '../errors.js';
import type { Restic, ResticSummary } from './restic.js';

/** Tags of store snapshots (plus `installation=<id>`). */
export const STORE_TAGS = ['berth', 'store'] as const;
export const STORE_FILE = 'berth.db';

/**
 * Makes the repository password file (random, 0600) unless it exists; returns the password when
 * this call made it, so it can be shown once (without it, the backups are unreadable).
 */
export async function ensureBackupPassword(file: string): Promise<string | null> {
  if (existsSync(file)) return null;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const password = randomBytes(32).toString('base64url');
  try {
    await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null; // a concurrent creator won
    throw err;
  }
  return password;
}

/** Backs up the open store: online backup into `scratchDir`, then into restic; the copy is removed. */
export async function backupStore(db: Db, restic: Restic, scratchDir: string, installation: string): Promise<ResticSummary> {
  await mkdir(scratchDir, { recursive: true, mode: 0o700 });
  const copy = path.join(scratchDir, `store-${process.pid}-${randomBytes(4).toString('hex')}.db`);
  try {
    await db.backup(copy);
    return await restic.backupStream(createReadStream(copy), STORE_FILE, [...STORE_TAGS, `installation=${installation}`]);
  } finally {
    await rm(copy, { force: true });
  }
}

/**
 * Restores the store of `snapshotId` as `<dataDir>/berth.db` for a daemon that is not running on
 * it. Refuses a data directory that already holds a store (restore into a fresh one); writes
 * aside and renames, so a failed restore leaves no half-written store behind.
 */
export async function restoreStore(restic: Restic, snapshotId: string, dataDir: string): Promise<string> {
  const target = path.join(dataDir, STORE_FILE);
  if (existsSync(target)) {
    throw new BerthError('E_INVALID_STATE', `${target} exists: a store is restored into an empty data directory only`, {
      hint: 'restore into a new BERTH_DATA_DIR (disaster recovery), or move the current one aside first',
    });
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const partial = `${target}.restoring`;
  // Opened before restic runs and closed before it is removed: a failure never leaves it behind
  // (removing it while the stream was still opening recreated it — seen once in a full run).
  const out = createWriteStream(partial, { mode: 0o600 });
  await once(out, 'open');
  try {
    await restic.dump(snapshotId, `/${STORE_FILE}`, out);
    await finished(out);
    await rename(partial, target);
  } catch (err) {
    if (!out.closed) {
      out.destroy();
      await once(out, 'close');
    }
    await rm(partial, { force: true });
    throw err;
  }
  return target;
}
