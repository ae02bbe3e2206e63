import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
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
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  // Applied versions are recorded one by one (not just a high-water mark), so migrations written
  // in parallel branches with non-contiguous numbers are each applied exactly once.
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
    })();
  }
}
