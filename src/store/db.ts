import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BerthError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensurePrivateFile, tightenMode } from './file-modes.js';
import { migrations } from './migrations.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the SQLite store in WAL mode and applies every numbered migration
 * not yet recorded in `schema_migrations`, each in its own transaction.
 *
 * The store holds secrets (session and token hashes, app secrets, database passwords): the file is
 * created 0600 before SQLite opens it (SQLite gives its -wal and -shm the database file's mode),
 * and an existing file, -wal or -shm readable by others is tightened with a warning on `log`, or
 * refused when it belongs to another user (see file-modes.ts).
 */
export function openDb(file: string, log?: Logger): Db {
  if (file !== ':memory:') {
    mkdirSync(path.dirname(file), { recursive: true });
    ensurePrivateFile(file, log);
    for (const side of [`${file}-wal`, `${file}-shm`]) tightenMode(side, 0o600, log);
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // Concurrent CLI-less readers never exist (only the daemon opens the DB), but a second daemon
  // started by mistake should wait briefly rather than fail with SQLITE_BUSY at once.
  db.pragma('busy_timeout = 5000');
  try {
    migrate(db, file === ':memory:' ? null : path.join(path.dirname(file), 'backups'), log);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Backups taken before migrations that are kept (older ones are deleted). */
const KEPT_BACKUPS = 5;

/**
 * Applies pending migrations. A store written by a newer Berth (a version this build does not
 * know) is refused before anything changes. When an existing store has pending migrations, a
 * consistent copy (`VACUUM INTO`, a transaction-consistent snapshot, never a copy of the live
 * file) is written to `backupDir` first, so an upgrade that goes wrong can be undone.
 */
function migrate(db: Db, backupDir: string | null, log?: Logger): void {
  // Applied versions are recorded one by one (not just a high-water mark), so migrations written
  // in parallel branches with non-contiguous numbers are each applied exactly once.
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((v) => !known.has(v)).sort((a, b) => a - b);
  if (unknown.length > 0) {
    throw new BerthError('E_CONFIG', `this data directory was written by a newer Berth (schema version ${unknown.join(', ')}; this Berth knows up to ${Math.max(...known)})`, {
      hint: 'run the newer Berth again, or start this one on a backup taken before the upgrade (the data directory\'s backups/ folder)',
    });
  }
  const pending = [...migrations].filter((m) => !applied.has(m.version)).sort((a, b) => a.version - b.version);
  if (pending.length > 0 && applied.size > 0 && backupDir) backupBeforeMigrating(db, backupDir, Math.max(...applied), pending.at(-1)!.version, log);
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
    })();
  }
}

function backupBeforeMigrating(db: Db, dir: string, from: number, to: number, log?: Logger): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(dir, `berth-${stamp}-schema-${from}-before-${to}.db`);
  ensurePrivateFile(file, log);
  // VACUUM INTO wants a file that does not exist or is empty; ensurePrivateFile made an empty 0600 one.
  db.prepare('VACUUM INTO ?').run(file);
  log?.info({ file, from, to }, 'store backed up before migrating');
  const old = readdirSync(dir).filter((f) => /^berth-.*-before-\d+\.db$/.test(f)).sort();
  for (const f of old.slice(0, Math.max(0, old.length - KEPT_BACKUPS))) rmSync(path.join(dir, f), { force: true });
}
