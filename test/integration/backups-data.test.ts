/**
 * An app's database and Redis keys through a real restic repository, against real PostgreSQL and
 * Redis: pg_dump as the app's own role, streamed into restic, restored with pg_restore after the
 * data changed; every Redis type (binary keys and values, TTLs) of one database index dumped and
 * restored exactly while another index is untouched; and a failing dump fails the backup instead
 * of storing a truncated snapshot.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { dumpDatabase, restoreDatabase } from '../../src/backups/postgres-dump.js';
import { dumpRedisDb, restoreRedisDb } from '../../src/backups/redis-keys.js';
import { Restic } from '../../src/backups/restic.js';
import { ensureBackupPassword } from '../../src/backups/store-backup.js';
import { isBerthError } from '../../src/errors.js';
import { connectResp } from '../../src/infra/resp.js';
import { findPostgresBin, runSql, startPostgres, type TestPostgres } from '../support/postgres.js';
import { findRedisServer, startRedis, type TestRedis } from '../support/redis.js';
import { requireOrSkip } from '../support/require.js';
import { resticAvailable } from '../support/restic.js';

const hasRestic = resticAvailable();

const skip =
  requireOrSkip('restic', hasRestic, 'restic not on PATH') ||
  requireOrSkip('postgres', findPostgresBin() !== null, 'PostgreSQL binaries not found') ||
  requireOrSkip('redis', findRedisServer() !== null, 'redis-server not on PATH');

/** A snapshot's single file, read back through restic dump. */
async function readBack(restic: Restic, snapshotId: string, file: string): Promise<PassThrough> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  const collect = new PassThrough();
  collect.on('data', (c: Buffer) => chunks.push(c));
  await restic.dump(snapshotId, file, collect);
  out.end(Buffer.concat(chunks));
  return out;
}

describe('app data backups with restic', { skip }, () => {
  let dir: string;
  let pgServer: TestPostgres;
  let redis: TestRedis;
  let restic: Restic;
  let appUrl: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-appbackup-'));
    [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
    await runSql(pgServer.superuserUrl, "CREATE ROLE app_notes LOGIN PASSWORD 'app pass/@1'", 'CREATE DATABASE app_notes OWNER app_notes');
    appUrl = `postgres://app_notes:${encodeURIComponent('app pass/@1')}@127.0.0.1:${pgServer.port}/app_notes`;
    await runSql(appUrl, 'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)', "INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 500) g", 'CREATE VIEW long_notes AS SELECT * FROM notes WHERE length(body) > 7');
    const passwordFile = path.join(dir, 'password');
    await ensureBackupPassword(passwordFile);
    restic = new Restic({ repository: path.join(dir, 'repo'), passwordFile });
    await restic.init();
  });
  after(async () => {
    await Promise.all([pgServer?.stop(), redis?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a database dumped as its own role restores after the data changed, owned by that role again', async () => {
    const summary = await restic.backupStream(dumpDatabase(appUrl), 'postgres.dump', ['app=notes', 'part=postgres']);
    await runSql(appUrl, 'DELETE FROM notes WHERE id > 10', 'DROP VIEW long_notes', "INSERT INTO notes (body) VALUES ('after the backup')");
    await restoreDatabase(appUrl, await readBack(restic, summary.snapshotId, '/postgres.dump'));
    const c = new pg.Client({ connectionString: appUrl });
    await c.connect();
    try {
      assert.equal((await c.query('SELECT count(*)::int AS n FROM notes')).rows[0].n, 500);
      assert.equal((await c.query("SELECT count(*)::int AS n FROM notes WHERE body = 'after the backup'")).rows[0].n, 0);
      assert.equal((await c.query('SELECT count(*)::int AS n FROM long_notes')).rows[0].n, 401, 'the view is back (notes 100–500 are longer than 7 characters)');
      assert.equal((await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 'notes'")).rows[0].tableowner, 'app_notes');
      // The sequence continues after the restored rows.
      assert.equal((await c.query("INSERT INTO notes (body) VALUES ('next') RETURNING id")).rows[0].id, 501);
    } finally {
      await c.end();
    }
  });

  it('a dump that fails fails the backup: no snapshot is stored', async () => {
    const before = (await restic.snapshots(['part=postgres'])).length;
    const wrong = appUrl.replace(encodeURIComponent('app pass/@1'), 'wrong');
    await assert.rejects(restic.backupStream(dumpDatabase(wrong), 'postgres.dump', ['app=notes', 'part=postgres']), (e: unknown) => isBerthError(e) && e.code === 'E_BACKUP' && /pg_dump failed: .*password authentication failed/.test(e.message));
    assert.equal((await restic.snapshots(['part=postgres'])).length, before);
  });

  it('every Redis type of one index, binary keys and values and TTLs, restores exactly; other indexes are untouched', async () => {
    const url = redis.url;
    const c3 = await connectResp(`${url}/3`, { binary: true });
    const c4 = await connectResp(`${url}/4`);
    const binKey = Buffer.from([0, 1, 2, 255, 13, 10]);
    const binVal = Buffer.from([255, 0, 10, 13, 36, 42]);
    await c3.command(['SET', binKey, binVal]);
    await c3.command(['SET', 'expiring', 'soon', 'PX', 600_000]);
    await c3.command(['HSET', 'h', 'a', '1', 'b', '2']);
    await c3.command(['RPUSH', 'l', 'x', 'y', 'z']);
    await c3.command(['SADD', 's', 'm1', 'm2']);
    await c3.command(['ZADD', 'z', '1', 'one', '2', 'two']);
    for (let i = 0; i < 1200; i++) await c3.command(['SET', `bulk:${i}`, String(i)]);
    await c4.command(['SET', 'other-app', 'keep me']);

    const { stream, keys } = await dumpRedisDb(url, 3);
    const summary = await restic.backupStream(stream, 'redis.keys', ['app=notes', 'part=redis']);
    assert.equal(keys(), 1206);

    await c3.command(['FLUSHDB']);
    await c3.command(['SET', 'garbage', 'after the backup']);
    await c4.command(['SET', 'other-app', 'changed by its app']);
    const restored = await restoreRedisDb(url, 3, await readBack(restic, summary.snapshotId, '/redis.keys'));
    assert.equal(restored, 1206);
    assert.deepEqual(await c3.command(['GET', binKey]), binVal);
    assert.equal(await c3.command(['EXISTS', 'garbage']), 0);
    const ttl = Number(await c3.command(['PTTL', 'expiring']));
    assert.ok(ttl > 500_000 && ttl <= 600_000, `TTL kept (${ttl} ms)`);
    assert.equal(Number(await c3.command(['PTTL', 'h'])), -1, 'no TTL stays no TTL');
    assert.deepEqual((await c3.command(['HGETALL', 'h'])) as Buffer[], ['a', '1', 'b', '2'].map((s) => Buffer.from(s)));
    assert.deepEqual((await c3.command(['LRANGE', 'l', 0, -1])) as Buffer[], ['x', 'y', 'z'].map((s) => Buffer.from(s)));
    assert.equal(await c3.command(['SCARD', 's']), 2);
    assert.deepEqual((await c3.command(['ZRANGE', 'z', 0, -1])) as Buffer[], ['one', 'two'].map((s) => Buffer.from(s)));
    assert.equal(await c3.command(['DBSIZE']), 1206);
    assert.equal(await c4.command(['GET', 'other-app']), 'changed by its app', 'index 4 is not part of the restore');
    await c3.close();
    await c4.close();
  });

  it('refuses a stream that is not a key dump, or a truncated one', async () => {
    const bogus = new PassThrough();
    bogus.end(Buffer.from('NOTADUMP........'));
    await assert.rejects(restoreRedisDb(redis.url, 5, bogus), /not a Berth Redis key dump/);
    const { stream } = await dumpRedisDb(redis.url, 3);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const all = Buffer.concat(chunks);
    const cut = new PassThrough();
    cut.end(all.subarray(0, all.length - 3));
    await assert.rejects(restoreRedisDb(redis.url, 5, cut), /truncated/);
  });
});
