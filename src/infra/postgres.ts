/**
 * Shared PostgreSQL: one database and one login role per app (or preview), created through an
 * admin connection (a role with CREATEDB and CREATEROLE; superuser not needed).
 *
 * Isolation: each app role owns its database, CONNECT is revoked from PUBLIC on it, and the role
 * has no CREATEDB/CREATEROLE/SUPERUSER, so an app cannot open another app's database.
 * Safety: every database and role Berth creates carries a marker comment; names that exist
 * without the marker (someone else's) are never altered or dropped (E_INFRA_CONFLICT).
 * Passwords are sent as SCRAM-SHA-256 verifiers, so the cleartext never reaches the server
 * (nor its statement log).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PostgresCredentials } from '../domain/app.js';
import { BerthError } from '../errors.js';
import type { Logger } from '../log.js';

const { Client, escapeIdentifier, escapeLiteral } = pg;

/** Comment on every database and role Berth manages (alone: made by a Berth without an instance id). */
export const MANAGED_MARKER = 'managed by berth';

/**
 * The comment one Berth puts on what it creates: the marker plus its instance id (the data
 * directory's `instance-id`), so two Berths sharing one PostgreSQL server never take each other's
 * databases for their own — never re-password, reuse or drop them. Without an id, the bare marker.
 */
export function managedMarker(instanceId?: string | undefined): string {
  return instanceId ? `${MANAGED_MARKER} (instance ${instanceId})` : MANAGED_MARKER;
}

/**
 * Whether a role's or database's comment says "made by this Berth": its own marker, or the bare
 * marker of objects made before instance ids existed (one Berth per server was the only setup then).
 */
export function isOwnMarker(comment: string | null, instanceId?: string | undefined): boolean {
  return comment === MANAGED_MARKER || comment === managedMarker(instanceId);
}

/** Database (and role) names: lowercase identifiers Postgres never needs quoted, ≤ 63 bytes. */
export const DATABASE_NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const RESERVED = new Set(['postgres', 'template0', 'template1', 'public']);

/** Returns an error message, or null when `name` can be a Berth-managed database/role. */
export function checkDatabaseName(name: string): string | null {
  if (!DATABASE_NAME_RE.test(name)) return `"${name}" is not a valid database name: use a-z, 0-9 and _, starting with a letter or _ (max 63)`;
  if (name.startsWith('pg_') || RESERVED.has(name)) return `"${name}" is reserved by PostgreSQL`;
  return null;
}

/** The database/role name for an app: `app_<name>` with dashes as underscores (app names have no `_`, so this is one-to-one). */
export function databaseNameFor(app: string): string {
  return `app_${app.replace(/-/g, '_')}`;
}

/** Passwords Berth accepts back from its store: printable ASCII, so SCRAM needs no SASLprep. */
const PASSWORD_RE = /^[\x21-\x7e]{16,256}$/;

export interface PostgresInfraOptions {
  /** `postgres://admin:pw@host:port/postgres`: a role that may create databases and roles. */
  adminUrl: string;
  /** Host workloads use to reach the server (e.g. `host.containers.internal`); default: the admin URL's host. */
  appHost?: string | undefined;
  /** Port workloads use; default: the admin URL's port. */
  appPort?: number | undefined;
  log?: Logger | undefined;
  connectTimeoutMs?: number | undefined;
  /** This Berth's instance id (see managedMarker); objects marked by another instance are foreign. */
  instanceId?: string | undefined;
}

export interface PostgresInfra {
  /** Server version (e.g. `15.8`); throws E_INFRA_UNAVAILABLE when it cannot connect. */
  probe(): Promise<string>;
  /**
   * Creates (or finds again) database `name` owned by role `name`. Idempotent: an existing managed
   * role gets `password` (when given) or a new one, an existing managed database is kept with its
   * data. Pass the password stored from the first install to keep the app's env stable.
   */
  provisionDatabase(name: string, opts?: { password?: string | undefined }): Promise<PostgresCredentials>;
  /** Drops database and role `name`, terminating its connections first. No-op when neither exists. */
  dropDatabase(name: string): Promise<void>;
  /** Whether database / role `name` exist (managed or not). */
  exists(name: string): Promise<{ database: boolean; role: boolean }>;
}

type PgClient = InstanceType<typeof Client>;

/** Creates the shared-Postgres provisioner. Each call opens and closes its own admin connection. */
export function createPostgresInfra(opts: PostgresInfraOptions): PostgresInfra {
  const admin = new URL(opts.adminUrl);
  const appHost = opts.appHost ?? (admin.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1');
  const appPort = opts.appPort ?? (admin.port ? Number(admin.port) : 5432);
  const log = opts.log;
  const marker = escapeLiteral(managedMarker(opts.instanceId));
  const lookup = (c: PgClient, kind: 'role' | 'database', name: string) => lookupObject(c, kind, name, opts.instanceId);

  async function withAdmin<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
    const client = new Client({
      connectionString: opts.adminUrl,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      application_name: 'berth',
    });
    // Without a listener, a server-side disconnect would be an uncaught 'error' event.
    client.on('error', (err) => log?.warn({ err }, 'postgres admin connection error'));
    try {
      await client.connect();
    } catch (err) {
      throw new BerthError('E_INFRA_UNAVAILABLE', `cannot connect to the shared PostgreSQL at ${admin.host}: ${messageOf(err)}`, {
        hint: 'check BERTH_POSTGRES_URL (a role with CREATEDB and CREATEROLE) or start Berth\'s own with `berth infra up`',
        cause: err,
      });
    }
    try {
      return await fn(client);
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw new BerthError('E_INFRA', `PostgreSQL refused: ${messageOf(err)}`, { cause: err });
    } finally {
      await client.end().catch(() => {});
    }
  }

  function validName(name: string): void {
    const problem = checkDatabaseName(name);
    if (problem) throw new BerthError('E_INVALID_NAME', problem);
  }

  return {
    async probe() {
      return withAdmin(async (c) => String((await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?'));
    },

    async provisionDatabase(name, { password } = {}) {
      validName(name);
      if (password !== undefined && !PASSWORD_RE.test(password)) {
        throw new BerthError('E_BAD_REQUEST', 'a stored database password must be 16-256 printable ASCII characters');
      }
      const pw = password ?? randomBytes(24).toString('base64url');
      const ident = escapeIdentifier(name);
      const attrs = 'LOGIN NOCREATEDB NOCREATEROLE INHERIT';
      await withAdmin(async (c) => {
        const me = (await c.query<{ user: string; super: boolean; ver: number }>(
          `SELECT current_user AS user, r.rolsuper AS super, current_setting('server_version_num')::int AS ver
             FROM pg_roles r WHERE r.rolname = current_user`,
        )).rows[0]!;
        if (name === me.user) throw new BerthError('E_INFRA_CONFLICT', `"${name}" is the admin role itself`);

        // Check both names before creating anything, so a conflict leaves nothing behind.
        const role = await lookup(c, 'role', name);
        if (role === 'foreign') throw conflict('role', name);
        const db = await lookup(c, 'database', name);
        if (db === 'foreign') throw conflict('database', name);
        const verifier = escapeLiteral(scramSha256Verifier(pw));
        let created = false;
        if (role === 'missing') {
          // CREATE may name NOSUPERUSER etc. without superuser rights; ALTER may not (PG refuses any
          // mention of those attributes), and a managed role can only have them if a superuser added them.
          // Role and marker in one transaction: a crash between them would leave an unmarked role
          // that every later attempt refuses as someone else's.
          await c.query('BEGIN');
          try {
            await c.query(`CREATE ROLE ${ident} WITH ${attrs} NOSUPERUSER NOREPLICATION NOBYPASSRLS PASSWORD ${verifier}`);
            await c.query(`COMMENT ON ROLE ${ident} IS ${marker}`);
            await c.query('COMMIT');
            created = true;
          } catch (err) {
            await c.query('ROLLBACK');
            // A concurrent provision of the same name won the race: what it created is what we wanted.
            if ((err as { code?: string }).code !== '42710') throw err;
            if ((await lookup(c, 'role', name)) !== 'managed') throw conflict('role', name);
          }
        }
        if (!created) await c.query(`ALTER ROLE ${ident} WITH ${attrs} PASSWORD ${verifier}`);
        // A non-superuser admin must be a member of a role to create a database owned by it
        // (and, from PG 16, to manage it); re-granting an existing membership is only a notice.
        if (!me.super) await c.query(`GRANT ${ident} TO ${escapeIdentifier(me.user)}`);

        if (db === 'missing') {
          // template0 + UTF8: apps expect UTF-8 whatever the server's default encoding is.
          await ignoreDuplicate(c.query(`CREATE DATABASE ${ident} OWNER ${ident} TEMPLATE template0 ENCODING 'UTF8'`));
          await c.query(`COMMENT ON DATABASE ${ident} IS ${marker}`);
        } else {
          // An interrupted earlier create: finish its marking.
          if (db === 'unmarked') await c.query(`COMMENT ON DATABASE ${ident} IS ${marker}`);
          // Also undoes a drop that failed after it closed the database to new sessions.
          await c.query(`ALTER DATABASE ${ident} OWNER TO ${ident}`);
          await c.query(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS true`);
        }
        // PUBLIC has CONNECT and TEMP on every new database by default: take them away, so only the
        // owner (and superusers) may connect.
        await c.query(`REVOKE ALL ON DATABASE ${ident} FROM PUBLIC`);
      });
      log?.info({ database: name, created: password === undefined }, 'postgres database provisioned');
      return {
        url: `postgres://${encodeURIComponent(name)}:${encodeURIComponent(pw)}@${hostForUrl(appHost)}:${appPort}/${encodeURIComponent(name)}`,
        host: appHost,
        port: appPort,
        user: name,
        password: pw,
        database: name,
      };
    },

    async dropDatabase(name) {
      validName(name);
      await withAdmin(async (c) => {
        const ident = escapeIdentifier(name);
        const ver = Number((await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]?.v ?? 0);
        const db = await lookup(c, 'database', name);
        if (db === 'foreign') throw conflict('database', name);
        const role = await lookup(c, 'role', name);
        if (role === 'foreign') throw conflict('role', name);
        // `unmarked`: Berth's own interrupted create (see lookup); dropped like a managed one.
        const ours = db === 'managed' || db === 'unmarked';
        if (ours && ver >= 130000) {
          // Terminates the app's sessions and drops in one statement.
          await c.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
        } else if (ours) {
          // Older servers: stop new sessions, end current ones, then drop.
          await c.query(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS false`);
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
          await c.query(`DROP DATABASE IF EXISTS ${ident}`);
        }
        if (role === 'managed') {
          // Objects the role created in the admin's own database (if any) would block DROP ROLE.
          await c.query(`DROP OWNED BY ${ident}`);
          await c.query(`DROP ROLE IF EXISTS ${ident}`);
        }
      });
      log?.info({ database: name }, 'postgres database dropped');
    },

    async exists(name) {
      validName(name);
      return withAdmin(async (c) => ({
        database: (await lookup(c, 'database', name)) !== 'missing',
        role: (await lookup(c, 'role', name)) !== 'missing',
      }));
    },
  };
}

/** 'missing', 'managed' (carries Berth's marker) or 'foreign' (exists, not Berth's). */
/**
 * Who made role or database `name`: nobody (`missing`), Berth (`managed`: it carries the marker),
 * or someone else (`foreign`). `unmarked` is a database Berth began creating and never marked (a
 * crash between CREATE DATABASE and COMMENT, which cannot share a transaction): no comment, owned
 * by the Berth-marked role of the same name. That role is NOCREATEDB, so only Berth could have made
 * a database it owns.
 */
async function lookupObject(c: PgClient, kind: 'role' | 'database', name: string, instanceId: string | undefined): Promise<'missing' | 'managed' | 'unmarked' | 'foreign'> {
  if (kind === 'role') {
    const row = (await c.query<{ comment: string | null }>(`SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`, [name])).rows[0];
    if (!row) return 'missing';
    return isOwnMarker(row.comment, instanceId) ? 'managed' : 'foreign';
  }
  const row = (
    await c.query<{ comment: string | null; owner: string | null; owner_comment: string | null }>(
      `SELECT shobj_description(d.oid, 'pg_database') AS comment, r.rolname AS owner, shobj_description(r.oid, 'pg_authid') AS owner_comment
         FROM pg_database d LEFT JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = $1`,
      [name],
    )
  ).rows[0];
  if (!row) return 'missing';
  if (isOwnMarker(row.comment, instanceId)) return 'managed';
  return row.comment === null && row.owner === name && isOwnMarker(row.owner_comment, instanceId) ? 'unmarked' : 'foreign';
}

function conflict(kind: string, name: string): BerthError {
  return new BerthError('E_INFRA_CONFLICT', `a ${kind} named "${name}" exists on the shared PostgreSQL and was not created by this Berth`, {
    hint: 'rename or drop it yourself; Berth never changes objects it did not create (another Berth sharing this server marks its own with its instance id)',
  });
}

/** A concurrent provision of the same name may win the race; what it created is what we wanted. */
async function ignoreDuplicate(q: Promise<unknown>): Promise<void> {
  try {
    await q;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== '42710' && code !== '42P04') throw err; // duplicate_object, duplicate_database
  }
}

/**
 * A SCRAM-SHA-256 verifier (RFC 5802/7677, PostgreSQL's `rolpassword` format). PostgreSQL stores
 * a pre-hashed password as is, so the cleartext never leaves Berth.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** `host` as it goes into a URL: IPv6 literals in brackets. */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
