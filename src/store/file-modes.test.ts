/**
 * Issue 11 (8): `berth.db` (session hashes, API token hashes, app secrets, Postgres passwords) was
 * created 0644 inside a data directory that need not be 0700. Real files in a temporary
 * directory: new stores are 0600 (with their -wal and -shm), loose ones are tightened with a
 * warning, and what cannot be tightened safely (another user's directory) stops the start.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { prepareDataDir } from './data-dir.js';
import { isBerthError } from '../errors.js';
import { openDb } from './db.js';

const modeOf = (p: string): number => statSync(p).mode & 0o777;
/** Giving a file to another user (chown) needs root. */
// `[requires root]`: the tag test/support/require.ts gives a missing component, so BERTH_TEST_REQUIRE=root can make it a failure.
const NEEDS_ROOT = process.getuid?.() === 0 ? false : '[requires root] giving a directory to another user (chown) needs root';

/** A logger whose warnings the test can read. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), warnings: () => lines.filter((l) => l.level === 40).map((l) => l.msg) };
}

describe('data directory and store file modes', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'berth-modes-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('creates berth.db, -wal and -shm 0600 whatever the umask', () => {
    const dir = path.join(root, 'fresh');
    const old = process.umask(0o022);
    try {
      prepareDataDir(dir);
      const db = openDb(path.join(dir, 'berth.db'));
      db.prepare('CREATE TABLE IF NOT EXISTS t (x)').run();
      db.prepare('INSERT INTO t VALUES (1)').run();
      for (const f of ['berth.db', 'berth.db-wal', 'berth.db-shm']) assert.equal(modeOf(path.join(dir, f)).toString(8), '600', f);
      db.close();
    } finally {
      process.umask(old);
    }
    assert.equal(modeOf(dir).toString(8), '700');
  });

  it('tightens an existing 0755 data directory and 0644 store files, with a warning each', () => {
    const dir = path.join(root, 'loose');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const { log, warnings } = capturingLogger();
    prepareDataDir(dir, log);
    assert.equal(modeOf(dir).toString(8), '700');
    assert.ok(warnings().some((w) => w.includes(dir) && w.includes('755')), JSON.stringify(warnings()));

    const file = path.join(dir, 'berth.db');
    openDb(file).close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      writeFileSync(f, '', { flag: 'a' });
      chmodSync(f, 0o644);
    }
    const db = openDb(file, log);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(modeOf(f).toString(8), '600', f);
    assert.ok(warnings().some((w) => w.includes('berth.db') && w.includes('644')), JSON.stringify(warnings()));
    db.close();
  });

  it("refuses a loose data directory owned by another user (its owner controls what is inside)", { skip: NEEDS_ROOT }, () => {
    const dir = path.join(root, 'theirs');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    chownSync(dir, 65534, 65534);
    assert.throws(
      () => prepareDataDir(dir),
      (err: unknown) => isBerthError(err) && err.code === 'E_CONFIG' && /owned by uid 65534/.test(err.message) && /chown/.test(err.hint ?? ''),
    );
    assert.equal(modeOf(dir).toString(8), '755', 'left as it was');
  });

  it('refuses a loose store file owned by another user', { skip: NEEDS_ROOT }, () => {
    const dir = path.join(root, 'their-db');
    prepareDataDir(dir);
    const file = path.join(dir, 'berth.db');
    openDb(file).close();
    chmodSync(file, 0o644);
    chownSync(file, 65534, 65534);
    assert.throws(() => openDb(file), (err: unknown) => isBerthError(err) && err.code === 'E_CONFIG' && /berth\.db/.test(err.message));
  });
});
