/**
 * Upgrading a data directory, with real SQLite files: a store with pending migrations is copied
 * (consistently, with its rows) to backups/ before they run, only the last few copies are kept,
 * a fresh store takes none, and a store written by a newer Berth is refused untouched.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isBerthError } from '../errors.js';
import { openDb } from './db.js';
import { migrations } from './migrations.js';

describe('store upgrades', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-upgrade-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const backups = (d: string): string[] => {
    try {
      return readdirSync(path.join(d, 'backups')).sort();
    } catch {
      return [];
    }
  };

  it('a fresh store takes no backup', () => {
    const d = path.join(dir, 'fresh');
    openDb(path.join(d, 'berth.db')).close();
    assert.deepEqual(backups(d), []);
  });

  /** A store as the previous release left it: every migration but the newest applied and recorded. */
  function previousReleaseStore(file: string): { previous: number; latest: number } {
    const sorted = [...migrations].sort((a, b) => a.version - b.version);
    const latest = sorted.at(-1)!.version;
    mkdirSync(path.dirname(file), { recursive: true });
    const raw = new Database(file);
    raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    for (const m of sorted.slice(0, -1)) {
      raw.exec(m.sql);
      raw.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
    }
    raw.exec("CREATE TABLE upgrade_probe (v TEXT); INSERT INTO upgrade_probe VALUES ('kept')");
    raw.close();
    return { previous: sorted.at(-2)!.version, latest };
  }

  it('pending migrations on an existing store: a 0600 copy with its rows first, named by schema versions, then the upgrade', () => {
    const d = path.join(dir, 'old');
    const file = path.join(d, 'berth.db');
    const { previous, latest } = previousReleaseStore(file);
    const db = openDb(file);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM schema_migrations WHERE version = ?').get(latest) as { n: number }).n, 1, 'the newest migration ran');
    db.close();
    const [copy] = backups(d);
    assert.ok(copy, 'a backup was written');
    assert.match(copy!, new RegExp(`^berth-.*-schema-${previous}-before-${latest}\\.db$`));
    assert.equal(statSync(path.join(d, 'backups', copy!)).mode & 0o777, 0o600);
    const b = new Database(path.join(d, 'backups', copy!), { readonly: true });
    assert.deepEqual(b.prepare('SELECT v FROM upgrade_probe').all(), [{ v: 'kept' }]);
    assert.equal((b.prepare('SELECT COUNT(*) AS n FROM schema_migrations WHERE version = ?').get(latest) as { n: number }).n, 0, 'the copy is from before the migration');
    b.close();
  });

  it('keeps only the last five backups', () => {
    const d = path.join(dir, 'many');
    mkdirSync(path.join(d, 'backups'), { recursive: true });
    for (let i = 1; i <= 6; i++) writeFileSync(path.join(d, 'backups', `berth-2020-01-0${i}T00-00-00-000Z-schema-1-before-2.db`), '');
    previousReleaseStore(path.join(d, 'berth.db'));
    openDb(path.join(d, 'berth.db')).close();
    const left = backups(d);
    assert.equal(left.length, 5);
    assert.ok(!left.includes('berth-2020-01-01T00-00-00-000Z-schema-1-before-2.db'), 'the oldest went first');
    assert.ok(left.some((f) => !f.startsWith('berth-2020-')), "this upgrade's backup is kept");
  });

  it('refuses a store written by a newer Berth, naming the versions and what to do, and leaves it as it was', () => {
    const d = path.join(dir, 'newer');
    const file = path.join(d, 'berth.db');
    openDb(file).close();
    const raw = new Database(file);
    raw.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(9999, new Date().toISOString());
    raw.close();
    assert.throws(
      () => openDb(file),
      (e: unknown) => isBerthError(e) && e.code === 'E_CONFIG' && /newer Berth \(schema version 9999/.test(e.message) && /backups/.test(e.hint ?? ''),
    );
    const again = new Database(file, { readonly: true });
    assert.equal((again.prepare('SELECT COUNT(*) AS n FROM schema_migrations WHERE version = 9999').get() as { n: number }).n, 1);
    again.close();
    assert.deepEqual(backups(d), [], 'no backup, no migration: nothing was touched');
  });
});
