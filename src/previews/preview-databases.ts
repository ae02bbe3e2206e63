/**
 * Preview databases on the shared PostgreSQL (`database: host`), seen from the reaper's side: which
 * databases and roles named like a preview's exist, so the ones no preview record owns can be
 * dropped. Dropping goes through `PostgresInfra.dropDatabase`, which refuses anything Berth did not
 * create; this module only lists, with its own admin connection (the pg client directly).
 *
 * Only names of the exact form `preview_<id>` (an id as `newId` makes them) that carry Berth's
 * marker comment are listed: an app's database, a user's own `preview_stuff`, or a same-named
 * object someone else created are never candidates.
 */
import pg from 'pg';
import { BerthError } from '../errors.js';
import { isOwnMarker, managedMarker } from '../infra/postgres.js';

/** Database (and role) of a preview in the shared Postgres. */
export const previewDatabaseName = (id: string): string => `preview_${id}`;

/** `preview_<id>`; group 1 is the preview id. */
export const PREVIEW_DATABASE_RE = /^preview_([a-z][a-z0-9]{11})$/;

/** A Berth-made preview database and/or role (a crash between CREATE ROLE and CREATE DATABASE leaves only the role). */
export interface PreviewDatabaseEntry {
  name: string;
  previewId: string;
  database: boolean;
  role: boolean;
}

export interface PreviewDatabases {
  /** Every Berth-managed database or role named `preview_<id>`, sorted by name. */
  list(): Promise<PreviewDatabaseEntry[]>;
  /**
   * Marks the role `name` when it has no comment at all, and answers whether it did. Berth before
   * 2026-11-29 created a role and commented it in two statements, so a daemon killed in between
   * left a role without Berth's marker, which provisioning refuses as someone else's
   * (E_INFRA_CONFLICT) forever. (Today role and marker share a transaction, and a database left
   * unmarked by a crash is recognized by provisioning itself: see infra/postgres.ts.)
   *
   * Call it only for a name a preview record named before an earlier attempt began creating it
   * (the record is written first): the name embeds the preview's random id, so an unmarked object
   * of that name is that attempt's half-done work, not another owner's.
   */
  adoptInterrupted(name: string): Promise<boolean>;
}

export interface PreviewDatabasesOptions {
  /** BERTH_POSTGRES_URL. */
  adminUrl: string;
  connectTimeoutMs?: number;
  /** This Berth's instance id: only preview databases it marked are listed (see managedMarker). */
  instanceId?: string | undefined;
}

/** Lists (and repairs) preview databases on the shared server; each call opens and closes one connection. */
export function createPreviewDatabases(opts: PreviewDatabasesOptions): PreviewDatabases {
  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: opts.adminUrl, connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000, application_name: 'berth' });
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch (err) {
      throw new BerthError('E_INFRA_UNAVAILABLE', `cannot connect to the shared PostgreSQL for preview databases: ${(err as Error).message}`, {
        hint: 'check BERTH_POSTGRES_URL',
        cause: err,
      });
    }
  }

  return {
    async adoptInterrupted(name) {
      if (!PREVIEW_DATABASE_RE.test(name)) throw new BerthError('E_INVALID_NAME', `"${name}" is not a preview database name`);
      const client = await connect();
      try {
        const marker = pg.escapeLiteral(managedMarker(opts.instanceId));
        const ident = pg.escapeIdentifier(name);
        const role = (await client.query<{ comment: string | null }>(`SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`, [name])).rows[0];
        if (!role || role.comment !== null) return false;
        await client.query(`COMMENT ON ROLE ${ident} IS ${marker}`);
        return true;
      } catch (err) {
        throw new BerthError('E_INFRA', `repairing preview database ${name} failed: ${(err as Error).message}`, { cause: err });
      } finally {
        await client.end().catch(() => {});
      }
    },

    async list() {
      const client = await connect();
      try {
        // `_` is a LIKE wildcard: escaped, so only the prefix matches (the regex below is the real filter).
        const like = 'preview\\_%';
        const dbs = await client.query<{ name: string; comment: string | null }>(
          `SELECT datname AS name, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE $1`,
          [like],
        );
        const roles = await client.query<{ name: string; comment: string | null }>(
          `SELECT rolname AS name, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname LIKE $1`,
          [like],
        );
        const out = new Map<string, PreviewDatabaseEntry>();
        const add = (rows: { name: string; comment: string | null }[], kind: 'database' | 'role'): void => {
          for (const r of rows) {
            const m = PREVIEW_DATABASE_RE.exec(r.name);
            // Another Berth's preview databases on the same server are not ours to reap.
            if (!m || !isOwnMarker(r.comment, opts.instanceId)) continue;
            const e = out.get(r.name) ?? { name: r.name, previewId: m[1]!, database: false, role: false };
            e[kind] = true;
            out.set(r.name, e);
          }
        };
        add(dbs.rows, 'database');
        add(roles.rows, 'role');
        return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
      } catch (err) {
        throw new BerthError('E_INFRA', `listing preview databases failed: ${(err as Error).message}`, { cause: err });
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}
