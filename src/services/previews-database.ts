/**
 * The database of a preview, in the mode its config asks (`database: container | host | none`):
 * the base environment every generation starts with (PREVIEW_URL, PR_NUMBER, GIT_SHA and the
 * DATABASE_URL of the preview's own PostgreSQL or of its database on the shared one), and, after a
 * flip, dropping the database of a mode the preview no longer uses. One password per preview, kept
 * in its record, so every generation gets the same DATABASE_URL. Destroy removes what is left.
 */
import { randomBytes } from 'node:crypto';
import type { BerthConfig } from '../config/schema.js';
import { BerthError, isBerthError } from '../errors.js';
import type { PostgresInfra } from '../infra/postgres.js';
import type { Logger } from '../log.js';
import type { BuildLog } from '../previews/build.js';
import type { DatabaseMode, PreviewConfig } from '../previews/config.schema.js';
import type { PreviewTarget } from '../previews/github/events.js';
import { previewDatabaseName, type PreviewDatabases } from '../previews/preview-databases.js';
import { PREVIEW_POSTGRES_HOST, type PreviewPostgres } from '../previews/preview-postgres.js';
import type { PreviewRecord, PreviewsRepo } from '../store/previews-repo.js';
import { previewDir } from './previews-reaper.js';

/**
 * "Generation" under which the host port of a `database: container` server is allocated: real
 * generations start at 1, so its row (`<id>.0`) never mixes with a generation's ports.
 */
export const DATABASE_PORT_SLOT = 0;

/** What the database side needs (PreviewServiceDeps fits). */
export interface PreviewDatabaseDeps {
  config: BerthConfig;
  repo: PreviewsRepo;
  /** Shared Postgres for `database: host`; null when BERTH_POSTGRES_URL is unset. */
  postgres: PostgresInfra | null;
  /** Repair of a shared preview database an interrupted attempt began; null/absent when BERTH_POSTGRES_URL is unset. */
  databases?: PreviewDatabases | null | undefined;
}

/**
 * Gives each generation its database environment and drops the database of a mode no longer used.
 * The `database: container` servers are passed in: the service owns them (destroy removes them).
 */
export class PreviewDatabaseProvider {
  constructor(
    private readonly deps: PreviewDatabaseDeps,
    /** `database: container` servers. */
    private readonly containerDb: PreviewPostgres,
  ) {}

  /**
   * The environment every service of a generation gets: PREVIEW_URL, PR_NUMBER, GIT_SHA, and
   * DATABASE_URL unless the config says `database: none` — the preview's own server (made or
   * reused, on `network` when there is one) or its database on the shared PostgreSQL (made, or
   * finished when an interrupted attempt began it). Throws E_CONFIG for `database: host` without
   * BERTH_POSTGRES_URL, E_PORTS_EXHAUSTED when the server gets no host port.
   */
  async baseEnv(p: PreviewRecord, t: PreviewTarget, cfg: PreviewConfig, log: BuildLog, network: string | null, signal: AbortSignal): Promise<Record<string, string>> {
    const env: Record<string, string> = { PREVIEW_URL: p.url!, PR_NUMBER: String(t.pr), GIT_SHA: t.sha };
    // One password per preview, kept in the record: every generation gets the same DATABASE_URL.
    const password = p.databasePassword ?? randomBytes(24).toString('base64url');
    if (cfg.database === 'container') {
      if (!p.databasePassword) this.deps.repo.update(p.id, { databasePassword: password });
      const { repo, config } = this.deps;
      const db = await this.containerDb.ensure({
        previewId: p.id,
        dir: previewDir(config.dataDir, p.id),
        password,
        allocatePort: () => {
          const [port] = repo.allocatePorts(p.id, DATABASE_PORT_SLOT, 1, { start: config.portRangeStart, end: config.portRangeEnd });
          if (port === undefined) throw new BerthError('E_PORTS_EXHAUSTED', "no free host port for the preview's PostgreSQL", { hint: 'widen BERTH_PORT_RANGE_START…BERTH_PORT_RANGE_END or remove previews' });
          return port;
        },
        releasePort: () => repo.releasePorts(p.id, DATABASE_PORT_SLOT),
        say: (line) => log.line(line),
        signal,
        network: network ? { name: network, nameFree: !cfg.services.some((s) => s.name === PREVIEW_POSTGRES_HOST) } : undefined,
      });
      await log.line(db.created ? "the preview's PostgreSQL is ready" : "reusing the preview's PostgreSQL");
      env.DATABASE_URL = db.url;
    }
    if (cfg.database === 'host') {
      if (!this.deps.postgres) {
        throw new BerthError('E_CONFIG', 'database: host needs the shared PostgreSQL (BERTH_POSTGRES_URL)', { hint: 'set BERTH_POSTGRES_URL, or use database: container (a PostgreSQL of the preview\'s own)' });
      }
      const name = previewDatabaseName(p.id);
      const begunBefore = p.databaseName === name;
      // The record names the database BEFORE it is created (and destroy deletes the record only after
      // dropping it): a preview database that no record owns is therefore always an orphan.
      this.deps.repo.update(p.id, { databaseName: name, databasePassword: password });
      let creds;
      try {
        creds = await this.deps.postgres.provisionDatabase(name, { password });
      } catch (err) {
        const conflict = isBerthError(err) && err.code === 'E_INFRA_CONFLICT';
        // Someone else's object, met on the first try: not ours, so the record must not name it
        // (or a later attempt would take it for the half-done work of this one).
        if (conflict && !begunBefore) this.deps.repo.update(p.id, { databaseName: null });
        // An earlier attempt began creating it and was killed half-way: finish its marking, go on.
        if (!conflict || !begunBefore || !this.deps.databases) throw err;
        if (!(await this.deps.databases.adoptInterrupted(name))) throw err;
        await log.line(`database ${name}: finished what an interrupted attempt began`);
        creds = await this.deps.postgres.provisionDatabase(name, { password });
      }
      env.DATABASE_URL = creds.url;
    }
    return env;
  }

  /**
   * After a flip (and the old generation's removal), the database of a mode the preview no longer
   * uses goes: a `database: container` server when the config now says host or none, the shared
   * database when it now says container or none. Best effort: the preview is live either way, and
   * destroy removes whatever is left.
   */
  async dropUnused(id: string, mode: DatabaseMode, log: Logger): Promise<void> {
    try {
      if (mode !== 'container') {
        const removed = await this.containerDb.remove(id, previewDir(this.deps.config.dataDir, id));
        if (removed.length) log.info({ removed }, "preview's PostgreSQL removed: the config no longer says database: container");
        this.deps.repo.releasePorts(id, DATABASE_PORT_SLOT);
      }
      const p = this.deps.repo.get(id);
      if (mode !== 'host' && p?.databaseName && this.deps.postgres) {
        await this.deps.postgres.dropDatabase(p.databaseName);
        this.deps.repo.update(id, { databaseName: null });
        log.info({ database: p.databaseName }, 'shared preview database dropped: the config no longer says database: host');
      }
    } catch (err) {
      log.warn({ err }, 'could not remove the database of a mode the preview no longer uses');
    }
  }
}
