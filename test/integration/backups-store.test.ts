/**
 * Berth's store in a real restic repository: taken while another connection keeps writing
 * (SQLite's online backup API), restored into a fresh data directory as a working store, the
 * password file made once 0600, retention and check, and the refusals (a data directory that has
 * a store, a wrong password, a snapshot id that is not one).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Restic } from '../../src/backups/restic.js';
import { backupStore, ensureBackupPassword, restoreStore, STORE_TAGS } from '../../src/backups/store-backup.js';
import { isBerthError } from '../../src/errors.js';
import { openDb, type Db } from '../../src/store/db.js';
import { WorkspacesRepo } from '../../src/store/workspaces-repo.js';
import { requireOrSkip } from '../support/require.js';
import { resticAvailable } from '../support/restic.js';

const hasRestic = resticAvailable();

describe('backups of the store with restic', { skip: requireOrSkip('restic', hasRestic, 'restic not on PATH (scripts/install-deps installs it)') }, () => {
  let dir: string;
  let db: Db;
  let restic: Restic;
  let passwordFile: string;
  const hosting = { proto: 'http' as const, host: 'berth.test', basePath: '' };
  const policy = { rangeStart: 20000, rangeEnd: 29999, count: 1, containerPortFor: (i: number) => 8000 + i };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-backup-'));
    db = openDb(path.join(dir, 'data', 'berth.db'));
    passwordFile = path.join(dir, 'data', 'backup-password');
    restic = new Restic({ repository: path.join(dir, 'repo'), passwordFile });
  });
  after(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the password is made once, 0600, and shown only then', async () => {
    const first = await ensureBackupPassword(passwordFile);
    assert.ok(first && first.length >= 40);
    assert.equal(statSync(passwordFile).mode & 0o777, 0o600);
    assert.equal(await ensureBackupPassword(passwordFile), null);
    assert.equal(await restic.init(), true);
    assert.equal(await restic.init(), false, 'an existing repository is kept');
  });

  it('a backup taken while writes go on restores into a fresh data directory as a working store', async () => {
    const repo = new WorkspacesRepo(db);
    for (let i = 0; i < 50; i++) repo.insertWithPorts({ id: `before${i}`, name: `before-${i}`, image: 'busybox', command: null, env: {}, hosting, ownerId: null, visibility: 'private' }, policy);
    // A second connection writes during the backup, as the daemon would.
    const writer = new Database(path.join(dir, 'data', 'berth.db'));
    let n = 0;
    const timer = setInterval(() => {
      writer.prepare("INSERT INTO workspaces (id, name, state, image, env, hosting, created_at, updated_at) VALUES (?, ?, 'stopped', 'x', '{}', '{}', 'now', 'now')").run(`during${n}`, `during-${n}`);
      n++;
    }, 2);
    let summary;
    try {
      summary = await backupStore(db, restic, path.join(dir, 'data', 'scratch'), 'inst1');
    } finally {
      clearInterval(timer);
      writer.close();
    }
    assert.match(summary.snapshotId, /^[0-9a-f]{8,}$/);
    assert.ok(n > 0, 'writes happened during the backup');
    assert.equal(existsSync(path.join(dir, 'data', 'scratch')) ? readdirSync(path.join(dir, 'data', 'scratch')).length : 0, 0, 'the copy is removed');
    const snaps = await restic.snapshots([...STORE_TAGS]);
    assert.equal(snaps.length, 1);
    assert.ok(snaps[0]!.tags.includes('installation=inst1'));

    const fresh = path.join(dir, 'restored');
    await restoreStore(restic, snaps[0]!.id, fresh);
    const restored = openDb(path.join(fresh, 'berth.db'));
    try {
      assert.deepEqual(restored.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      const names = new WorkspacesRepo(restored).list().map((w) => w.name);
      for (let i = 0; i < 50; i++) assert.ok(names.includes(`before-${i}`), `before-${i} restored`);
      assert.equal(statSync(path.join(fresh, 'berth.db')).mode & 0o777, 0o600);
    } finally {
      restored.close();
    }
  });

  it('refuses to restore over an existing store, a bad snapshot id, and a wrong password — each with what to do', async () => {
    const [snap] = await restic.snapshots([...STORE_TAGS]);
    await assert.rejects(restoreStore(restic, snap!.id, path.join(dir, 'restored')), (e: unknown) => isBerthError(e) && e.code === 'E_INVALID_STATE' && /empty data directory/.test(e.message));
    await assert.rejects(restoreStore(restic, '--help', path.join(dir, 'other')), (e: unknown) => isBerthError(e) && e.code === 'E_BAD_REQUEST');
    assert.equal(existsSync(path.join(dir, 'other', 'berth.db.restoring')), false);
    const wrong = path.join(dir, 'wrong-password');
    writeFileSync(wrong, 'not the password\n', { mode: 0o600 });
    await assert.rejects(new Restic({ repository: path.join(dir, 'repo'), passwordFile: wrong }).snapshots(), (e: unknown) => isBerthError(e) && e.code === 'E_BACKUP' && /password/.test(e.hint ?? ''));
  });

  it('retention keeps the newest snapshots and the repository checks clean', async () => {
    await backupStore(db, restic, path.join(dir, 'data', 'scratch'), 'inst1');
    await backupStore(db, restic, path.join(dir, 'data', 'scratch'), 'inst1');
    assert.equal((await restic.snapshots([...STORE_TAGS])).length, 3);
    await restic.forget([...STORE_TAGS], { last: 1 });
    assert.equal((await restic.snapshots([...STORE_TAGS])).length, 1);
    await restic.check();
  });
});
