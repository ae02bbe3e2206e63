import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { runSql, startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { isBerthError } from '../errors.js';
import { createPostgresInfra, MANAGED_MARKER } from '../infra/postgres.js';
import { createPreviewDatabases } from './preview-databases.js';

/** Listing and repairing preview databases against a real PostgreSQL (non-superuser admin, as in production). */
describe('preview databases on the shared PostgreSQL', () => {
  let postgres: TestPostgres;
  before(async () => {
    postgres = await startPostgres();
  });
  after(async () => {
    await postgres?.stop();
  });

  const sql = runSql;

  it('lists only Berth-marked preview_<id> databases and roles', async () => {
    const infra = createPostgresInfra({ adminUrl: postgres.adminUrl });
    const dbs = createPreviewDatabases({ adminUrl: postgres.adminUrl });
    await infra.provisionDatabase('preview_listaaaaaaaa');
    await infra.provisionDatabase('app_blog');
    await infra.provisionDatabase('preview_short');
    const marker = pg.escapeLiteral(MANAGED_MARKER);
    await sql(postgres.superuserUrl, 'CREATE DATABASE preview_unmarkedaaaa', 'CREATE ROLE preview_roleonlyaaaa', `COMMENT ON ROLE preview_roleonlyaaaa IS ${marker}`);
    assert.deepEqual(await dbs.list(), [
      { name: 'preview_listaaaaaaaa', previewId: 'listaaaaaaaa', database: true, role: true },
      { name: 'preview_roleonlyaaaa', previewId: 'roleonlyaaaa', database: false, role: true },
    ]);
  });

  it('adoptInterrupted finishes what a killed provisioning left unmarked, and nothing else', async () => {
    const infra = createPostgresInfra({ adminUrl: postgres.adminUrl });
    const dbs = createPreviewDatabases({ adminUrl: postgres.adminUrl });
    // Killed right after CREATE ROLE, as provisioning ran it before role and marker shared a
    // transaction (a store from then may still hold one): a role without the marker.
    await sql(postgres.adminUrl, "CREATE ROLE preview_crashedaaaaa WITH LOGIN PASSWORD 'crash-password-12345'");
    await assert.rejects(infra.provisionDatabase('preview_crashedaaaaa'), (err) => isBerthError(err) && err.code === 'E_INFRA_CONFLICT');
    assert.equal(await dbs.adoptInterrupted('preview_crashedaaaaa'), true);
    const creds = await infra.provisionDatabase('preview_crashedaaaaa', { password: 'p'.repeat(20) });
    assert.equal(creds.database, 'preview_crashedaaaaa');
    assert.equal(await dbs.adoptInterrupted('preview_crashedaaaaa'), false, 'nothing left to mark');

    // Killed right after CREATE DATABASE (no transaction can hold it with its COMMENT): the role is
    // marked, the database is not. Provisioning itself recognizes and finishes it.
    const marker = pg.escapeLiteral(MANAGED_MARKER);
    await sql(
      postgres.adminUrl,
      'CREATE ROLE preview_halfdbaaaaaa LOGIN',
      `COMMENT ON ROLE preview_halfdbaaaaaa IS ${marker}`,
      'GRANT preview_halfdbaaaaaa TO berth_admin',
      'CREATE DATABASE preview_halfdbaaaaaa OWNER preview_halfdbaaaaaa',
    );
    await infra.provisionDatabase('preview_halfdbaaaaaa');
    assert.equal(await dbs.adoptInterrupted('preview_halfdbaaaaaa'), false, 'nothing left to mark');
    assert.ok((await dbs.list()).some((e) => e.name === 'preview_halfdbaaaaaa' && e.database && e.role));

    // Someone else's: a role with a comment of its own, a database owned by another role.
    await sql(postgres.superuserUrl, 'CREATE ROLE preview_othersaaaaaa', "COMMENT ON ROLE preview_othersaaaaaa IS 'not berth'", 'CREATE DATABASE preview_otherdbaaaaa OWNER postgres');
    assert.equal(await dbs.adoptInterrupted('preview_othersaaaaaa'), false);
    assert.equal(await dbs.adoptInterrupted('preview_otherdbaaaaa'), false);
    await assert.rejects(infra.provisionDatabase('preview_othersaaaaaa'), (err) => isBerthError(err) && err.code === 'E_INFRA_CONFLICT');
    await assert.rejects(dbs.adoptInterrupted('app_blog'), (err) => isBerthError(err) && err.code === 'E_INVALID_NAME');
  });
});
