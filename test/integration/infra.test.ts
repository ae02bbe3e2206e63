/**
 * Shared infrastructure against a real PostgreSQL and Redis started by the test itself (Debian
 * packages; `scripts/install-deps --test`). The Postgres admin is a non-superuser role with
 * CREATEDB CREATEROLE, as Berth is given in production.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { isBerthError } from '../../src/errors.js';
import { createPostgresInfra, databaseNameFor, MANAGED_MARKER, type PostgresInfra } from '../../src/infra/postgres.js';
import { allocateRedisDb, flushAppKeys, probeRedis, redisBinding, redisDatabases } from '../../src/infra/redis.js';
import { connectResp } from '../../src/infra/resp.js';
import { createPreviewDatabases } from '../../src/previews/preview-databases.js';
import { findPostgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';
import { findRedisServer, startRedis, type TestRedis } from '../support/redis.js';
import { freeLoopbackPort } from '../support/free-port.js';
import { requireOrSkip } from '../support/require.js';

/** Runs `fn` on a fresh connection to `url`. */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** The pg error code a connection attempt fails with ('' when it succeeds). */
async function connectError(url: string): Promise<string> {
  try {
    await withClient(url, async (c) => c.query('SELECT 1'));
    return '';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

async function berthCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isBerthError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

describe('shared PostgreSQL: one database and role per app', { skip: requireOrSkip('postgres', !!findPostgresBin(), 'PostgreSQL binaries not installed') }, () => {
  let server: TestPostgres;
  let infra: PostgresInfra;
  const alpha = databaseNameFor('alpha-app');
  const beta = databaseNameFor('beta');

  before(async () => {
    server = await startPostgres();
    infra = createPostgresInfra({ adminUrl: server.adminUrl });
  });
  after(async () => {
    await server?.stop();
  });

  test('probe reports the server version', async () => {
    assert.match(await infra.probe(), /^\d+/);
  });

  test('two apps get two databases and two unprivileged roles, each refused on the other database', async () => {
    const a = await infra.provisionDatabase(alpha);
    const b = await infra.provisionDatabase(beta);
    assert.equal(a.database, 'app_alpha_app');
    assert.equal(a.user, 'app_alpha_app');
    assert.equal(a.host, '127.0.0.1');
    assert.equal(a.port, server.port);
    assert.notEqual(a.password, b.password);
    assert.match(a.url, new RegExp(`^postgres://app_alpha_app:[^@]+@127\\.0\\.0\\.1:${server.port}/app_alpha_app$`));

    await withClient(server.superuserUrl, async (c) => {
      const dbs = await c.query(
        `SELECT datname, pg_get_userbyid(datdba) AS owner, shobj_description(oid, 'pg_database') AS comment
           FROM pg_database WHERE datname = ANY($1) ORDER BY datname`,
        [[alpha, beta]],
      );
      assert.deepEqual(dbs.rows, [
        { datname: alpha, owner: alpha, comment: MANAGED_MARKER },
        { datname: beta, owner: beta, comment: MANAGED_MARKER },
      ]);
      const roles = await c.query(
        `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram
           FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname`,
        [[alpha, beta]],
      );
      const unprivileged = { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolcanlogin: true, scram: true };
      assert.deepEqual(roles.rows, [
        { rolname: alpha, ...unprivileged },
        { rolname: beta, ...unprivileged },
      ]);
    });

    // Each role works in its own database…
    await withClient(a.url, async (c) => {
      await c.query('CREATE TABLE notes (body text)');
      await c.query(`INSERT INTO notes VALUES ('alpha was here')`);
    });
    await withClient(b.url, async (c) => c.query('CREATE TABLE t (x int)'));
    // …and is refused on the other's: CONNECT is revoked from PUBLIC (42501 insufficient_privilege).
    assert.equal(await connectError(a.url.replace(/\/app_alpha_app$/, `/${beta}`)), '42501');
    const betaOnAlpha = `postgres://${b.user}:${encodeURIComponent(b.password)}@127.0.0.1:${server.port}/${alpha}`;
    assert.equal(await connectError(betaOnAlpha), '42501');
    // A wrong password is refused (28P01 invalid_password): the SCRAM verifier is the password's.
    assert.equal(await connectError(a.url.replace(encodeURIComponent(a.password), 'wrong-password-123456')), '28P01');
    // The role cannot create databases or roles of its own.
    await withClient(a.url, async (c) => {
      await assert.rejects(c.query('CREATE DATABASE sneaky'), (e: { code?: string }) => e.code === '42501');
      await assert.rejects(c.query('CREATE ROLE sneaky'), (e: { code?: string }) => e.code === '42501');
    });
  });

  test('provisioning again with the stored password keeps the data and the password', async () => {
    const first = await withClient(server.superuserUrl, async (c) => (await c.query(`SELECT oid FROM pg_database WHERE datname = $1`, [alpha])).rows[0]);
    const stored = (await infra.provisionDatabase(alpha, { password: 'stored-password-0123456789' })).password;
    const again = await infra.provisionDatabase(alpha, { password: stored });
    assert.equal(again.password, stored);
    const rows = await withClient(again.url, async (c) => (await c.query('SELECT body FROM notes')).rows);
    assert.deepEqual(rows, [{ body: 'alpha was here' }]);
    const second = await withClient(server.superuserUrl, async (c) => (await c.query(`SELECT oid FROM pg_database WHERE datname = $1`, [alpha])).rows[0]);
    assert.deepEqual(second, first, 'the same database, not a new one');
  });

  test('provisioning without the old password sets a new one; the old one stops working', async () => {
    const before = await infra.provisionDatabase(beta, { password: 'beta-password-aaaaaaaaaaaa' });
    const after = await infra.provisionDatabase(beta);
    assert.notEqual(after.password, before.password);
    assert.equal(await connectError(after.url), '');
    assert.equal(await connectError(before.url), '28P01');
  });

  test('drop terminates open sessions and removes database and role; reprovisioning starts empty', async () => {
    const creds = await infra.provisionDatabase(alpha, { password: 'stored-password-0123456789' });
    const open = new pg.Client({ connectionString: creds.url });
    open.on('error', () => {}); // the drop terminates this session
    await open.connect();
    await infra.dropDatabase(alpha);
    await open.end().catch(() => {});
    assert.deepEqual(await infra.exists(alpha), { database: false, role: false });
    assert.deepEqual(await infra.exists(beta), { database: true, role: true }, 'the other app is untouched');
    assert.equal(await connectError(creds.url), '28P01'); // the role is gone
    await infra.dropDatabase(alpha); // idempotent

    const fresh = await infra.provisionDatabase(alpha);
    const tables = await withClient(fresh.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'notes'`)).rows[0]);
    assert.deepEqual(tables, { n: 0 });
  });

  test('a database or role Berth did not create is never altered or dropped', async () => {
    await withClient(server.superuserUrl, async (c) => {
      await c.query('CREATE DATABASE app_foreign');
      await c.query('CREATE ROLE app_foreign_role');
    });
    assert.equal(await berthCode(infra.provisionDatabase('app_foreign')), 'E_INFRA_CONFLICT');
    assert.equal(await berthCode(infra.dropDatabase('app_foreign')), 'E_INFRA_CONFLICT');
    assert.equal(await berthCode(infra.provisionDatabase('app_foreign_role')), 'E_INFRA_CONFLICT');
    assert.equal(await berthCode(infra.provisionDatabase('berth_admin')), 'E_INFRA_CONFLICT');
    assert.deepEqual(await infra.exists('app_foreign'), { database: true, role: false });
    // The failed attempt on a foreign role created no database either.
    assert.deepEqual(await infra.exists('app_foreign_role'), { database: false, role: true });
  });

  test('a create cut between CREATE DATABASE and its marker is finished by the next provision, or dropped', async () => {
    // What a daemon killed mid-provision leaves: the marked role owns an unmarked database (CREATE
    // DATABASE cannot share a transaction with its COMMENT). The role itself is created with its
    // marker in one transaction, so it is never left unmarked.
    const marker = pg.escapeLiteral(MANAGED_MARKER);
    await withClient(server.adminUrl, async (c) => {
      await c.query(`CREATE ROLE app_cut LOGIN`);
      await c.query(`COMMENT ON ROLE app_cut IS ${marker}`);
      await c.query('GRANT app_cut TO berth_admin');
      await c.query('CREATE DATABASE app_cut OWNER app_cut');
    });
    const creds = await infra.provisionDatabase('app_cut', { password: 'cut-password-cccccccccccc' });
    await withClient(creds.url, async (c) => assert.equal((await c.query('SELECT current_database() AS d')).rows[0].d, 'app_cut'));
    await infra.dropDatabase('app_cut');
    assert.deepEqual(await infra.exists('app_cut'), { database: false, role: false });

    // The same shape with a database someone else owns stays foreign.
    await withClient(server.superuserUrl, async (c) => {
      await c.query('CREATE ROLE app_cut2 LOGIN');
      await c.query(`COMMENT ON ROLE app_cut2 IS ${marker}`);
      await c.query('CREATE DATABASE app_cut2');
    });
    assert.equal(await berthCode(infra.provisionDatabase('app_cut2')), 'E_INFRA_CONFLICT');
    assert.equal(await berthCode(infra.dropDatabase('app_cut2')), 'E_INFRA_CONFLICT');
  });

  test('two Berths sharing one server: each keeps to what it marked', async () => {
    const a = createPostgresInfra({ adminUrl: server.adminUrl, instanceId: 'aaaaaaaaaaaa' });
    const b = createPostgresInfra({ adminUrl: server.adminUrl, instanceId: 'bbbbbbbbbbbb' });
    const creds = await a.provisionDatabase('app_twin', { password: 'twin-password-aaaaaaaaaa' });
    // B installing an app of the same name must not re-password, reuse or drop A's database.
    assert.equal(await berthCode(b.provisionDatabase('app_twin')), 'E_INFRA_CONFLICT');
    assert.equal(await berthCode(b.dropDatabase('app_twin')), 'E_INFRA_CONFLICT');
    await withClient(creds.url, async (c) => assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1));
    // A's preview databases are invisible to B's reaper, listed by A's.
    await a.provisionDatabase('preview_twinaaaaaaaa');
    const names = async (id: string) => (await createPreviewDatabases({ adminUrl: server.adminUrl, instanceId: id }).list()).map((e) => e.name);
    assert.ok((await names('aaaaaaaaaaaa')).includes('preview_twinaaaaaaaa'));
    assert.ok(!(await names('bbbbbbbbbbbb')).includes('preview_twinaaaaaaaa'));
    // Objects from before instance ids (the bare marker) still count as one's own.
    await withClient(server.adminUrl, async (c) => {
      await c.query(`CREATE ROLE app_legacy LOGIN`);
      await c.query(`COMMENT ON ROLE app_legacy IS ${pg.escapeLiteral(MANAGED_MARKER)}`);
    });
    await b.provisionDatabase('app_legacy');
    await b.dropDatabase('app_legacy');
    await a.dropDatabase('app_twin');
    await a.dropDatabase('preview_twinaaaaaaaa');
    assert.deepEqual(await a.exists('app_twin'), { database: false, role: false });
  });

  test('names are validated before any SQL runs', async () => {
    for (const bad of ['App', 'a-b', 'x; DROP DATABASE postgres', 'pg_evil', 'postgres', '', 'a'.repeat(64)]) {
      assert.equal(await berthCode(infra.provisionDatabase(bad)), 'E_INVALID_NAME', bad);
      assert.equal(await berthCode(infra.dropDatabase(bad)), 'E_INVALID_NAME', bad);
    }
    assert.equal(await berthCode(infra.provisionDatabase('app_x', { password: 'short' })), 'E_BAD_REQUEST');
  });

  test('an unreachable server is E_INFRA_UNAVAILABLE', async () => {
    const port = await freeLoopbackPort();
    const down = createPostgresInfra({ adminUrl: `postgres://x:y@127.0.0.1:${port}/postgres`, connectTimeoutMs: 2000 });
    assert.equal(await berthCode(down.provisionDatabase('app_x')), 'E_INFRA_UNAVAILABLE');
  });

  test('credentials carry the address workloads use when it differs from the admin one', async () => {
    const viaBridge = createPostgresInfra({ adminUrl: server.adminUrl, appHost: 'host.containers.internal', appPort: 5432 });
    const c = await viaBridge.provisionDatabase(beta, { password: 'beta-password-bbbbbbbbbbbb' });
    assert.equal(c.url, `postgres://${beta}:beta-password-bbbbbbbbbbbb@host.containers.internal:5432/${beta}`);
  });
});

describe('shared Redis: one logical database per app', { skip: requireOrSkip('redis', !!findRedisServer(), 'redis-server not installed') }, () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  test('probe and databases', async () => {
    assert.match(await probeRedis(redis.url), /^\d+\.\d+/);
    assert.equal(await redisDatabases(redis.url), 16);
  });

  test('two apps get distinct databases; purge flushes only one app', async () => {
    const assigned = new Map<string, number>();
    assigned.set('paperless', allocateRedisDb('paperless', assigned));
    assigned.set('other', allocateRedisDb('other', assigned));
    assert.deepEqual([...assigned.values()], [1, 2]);

    const a = redisBinding(redis.url, assigned.get('paperless')!);
    const b = redisBinding(redis.url, assigned.get('other')!);
    assert.equal(a.url, `${redis.url}/1`);
    for (const [binding, prefix] of [[a, 'a'], [b, 'b']] as const) {
      const conn = await connectResp(binding.url);
      for (let i = 0; i < 5; i++) await conn.command(['SET', `${prefix}:${i}`, 'v']);
      await conn.close();
    }
    const size = async (url: string): Promise<unknown> => {
      const conn = await connectResp(url);
      try {
        return await conn.command(['DBSIZE']);
      } finally {
        await conn.close();
      }
    };
    assert.equal(await size(a.url), 5);
    assert.equal(await size(b.url), 5);

    await flushAppKeys(redis.url, a.db);
    assert.equal(await size(a.url), 0);
    assert.equal(await size(b.url), 5, 'the other app keeps its keys');
  });

  test('database 0 is never flushed', async () => {
    assert.equal(await berthCode(flushAppKeys(redis.url, 0)), 'E_BAD_REQUEST');
  });

  test('a wrong password or a dead server is E_INFRA_UNAVAILABLE', async () => {
    const wrong = redis.url.replace(/:[^:@]+@/, ':nope@');
    assert.equal(await berthCode(probeRedis(wrong)), 'E_INFRA_UNAVAILABLE');
    const port = await freeLoopbackPort();
    assert.equal(await berthCode(probeRedis(`redis://127.0.0.1:${port}`)), 'E_INFRA_UNAVAILABLE');
  });
});
