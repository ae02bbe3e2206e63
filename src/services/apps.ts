/**
 * Catalog apps: install (dependencies first, each healthy before the next starts), uninstall
 * (optionally purging its database, Redis keys and secrets), list and logs. Orchestration only:
 * the graph rules live in domain/app-graph.ts, templates in catalog/template.ts, provisioning in
 * infra/, rows in store/apps-repo.ts. Emits `changed` after every state change so the daemon
 * rebuilds the edge's route table.
 *
 * Failure rule: an app whose step fails (provisioning, create, start or a health check that never
 * passes) has its workload removed and its ports released; its row stays `failed` with the reason
 * (the last check output). Its database, Redis index and secrets are kept (so a retry finds them),
 * and are only dropped by `uninstall --purge`. Installs and uninstalls run one at a time.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { BerthConfig } from '../config/schema.js';
import { appLocation, type AppLocation, type PostgresCredentials, type RedisBinding } from '../domain/app.js';
import { checkUninstall, planInstall, type InstallPlan } from '../domain/app-graph.js';
import type { HostingInfo } from '../domain/workspace.js';
import { BerthError, isBerthError } from '../errors.js';
import { loadCatalog, type ManifestError } from '../catalog/load.js';
import type { AppManifest } from '../catalog/manifest.schema.js';
import { generateSecret, renderCommand, renderEnv, renderHealthcheck, type TemplateContext } from '../catalog/template.js';
import { databaseNameFor, type PostgresInfra } from '../infra/postgres.js';
import { allocateRedisDb, flushAppKeys, redisBinding, redisDatabases } from '../infra/redis.js';
import type { Logger } from '../log.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { AppsRepo, InstalledApp } from '../store/apps-repo.js';
import { runHealthcheck } from './app-health.js';

/** The built-in catalog: `<repo>/catalog` (same path from src/services and dist/services). */
export const BUILTIN_CATALOG_DIR = fileURLToPath(new URL('../../catalog', import.meta.url));

/** Progress steps streamed during an install. */
export type InstallStepName = 'pulling' | 'provisioning' | 'starting' | 'health' | 'healthy' | 'failed';

/** One progress event: which app, which step, a human message. */
export interface InstallProgress {
  step: InstallStepName;
  app: string;
  message: string;
}

export interface AppServiceDeps {
  config: BerthConfig;
  log: Logger;
  repo: AppsRepo;
  runtime: Runtime;
  /** Shared Postgres provisioner; absent when BERTH_POSTGRES_URL is unset. */
  postgres?: PostgresInfra | undefined;
  /** Catalog directories, built-in first (default: BUILTIN_CATALOG_DIR + config.catalogDirs). */
  catalogDirs?: string[] | undefined;
}

/** Engine-visible name of an app's workload. */
export const appWorkloadName = (name: string): string => `berth-app-${name}`;

/** Orchestrates app installs and uninstalls. */
export class AppService extends EventEmitter<{ changed: [] }> {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly dirs: string[];

  constructor(private readonly deps: AppServiceDeps) {
    super();
    this.dirs = deps.catalogDirs ?? [BUILTIN_CATALOG_DIR, ...deps.config.catalogDirs.map((d) => path.resolve(d))];
  }

  /** Every valid manifest of the catalog directories, and the problems of the invalid ones. */
  catalog(): Promise<{ apps: Map<string, AppManifest>; errors: ManifestError[] }> {
    return loadCatalog(this.dirs);
  }

  list(): InstalledApp[] {
    return this.deps.repo.list();
  }

  get(name: string): InstalledApp {
    const app = this.deps.repo.get(name);
    if (!app) throw new BerthError('E_NOT_FOUND', `app "${name}" is not installed`, { hint: 'list installed apps with `berth app ls`' });
    return app;
  }

  /** Where an installed app is reached (null when it needs an apps domain that is no longer set). */
  location(app: InstalledApp): AppLocation | null {
    try {
      return appLocation(app.name, app.embed, app.hosting, this.deps.config.appsDomain);
    } catch {
      return null;
    }
  }

  /** Names that count as installed for the dependency graph (running or being installed). */
  private installedSet(): Set<string> {
    return new Set(this.deps.repo.list().filter((a) => a.state !== 'failed').map((a) => a.name));
  }

  /**
   * Checks an install before anything starts: the app exists, the graph has no cycle or missing
   * dependency, every step can be served (E_APP_NEEDS_DOMAIN) and its shared services are configured.
   */
  async plan(name: string, hosting: HostingInfo): Promise<{ plan: InstallPlan; catalog: Map<string, AppManifest> }> {
    const { apps } = await this.catalog();
    const installed = this.installedSet();
    if (installed.has(name)) throw new BerthError('E_NAME_TAKEN', `app "${name}" is already installed`, { hint: 'uninstall it first to reinstall' });
    const plan = planInstall(name, apps, installed);
    for (const step of plan.steps) {
      const m = apps.get(step.app)!;
      appLocation(m.name, m.embed, hosting, this.deps.config.appsDomain);
    }
    if (plan.infra.includes('postgres') && !this.deps.postgres) {
      throw new BerthError('E_INFRA_UNAVAILABLE', `"${name}" needs the shared PostgreSQL, which is not configured`, {
        hint: 'set BERTH_POSTGRES_URL to a role that may create databases and roles',
      });
    }
    if (plan.infra.includes('redis') && !this.deps.config.redisUrl) {
      throw new BerthError('E_INFRA_UNAVAILABLE', `"${name}" needs the shared Redis, which is not configured`, { hint: 'set BERTH_REDIS_URL' });
    }
    return { plan, catalog: apps };
  }

  /**
   * Installs `name` and whatever it depends on that is missing, in dependency order; each app must
   * pass its health check before the next one starts. Resolves to the target app once healthy.
   * `settings` are env overrides for the target app.
   */
  install(name: string, settings: Record<string, string>, hosting: HostingInfo, onProgress: (p: InstallProgress) => void = () => {}): Promise<InstalledApp> {
    return this.serialized(async () => {
      const { plan, catalog } = await this.plan(name, hosting);
      for (const step of plan.steps) {
        await this.installOne(catalog.get(step.app)!, step.app === name ? settings : {}, hosting, onProgress);
      }
      return this.get(name);
    });
  }

  /** Removes the app's workload and route; with `purge` also its database, role, Redis keys and secrets. */
  uninstall(name: string, opts: { purge: boolean }): Promise<void> {
    return this.serialized(async () => {
      const { repo, runtime, log } = this.deps;
      const app = this.get(name);
      const { apps } = await this.catalog();
      checkUninstall(name, apps, this.installedSet());
      await this.removeWorkloads(name, app.runtimeRef);
      if (opts.purge) {
        const pgRow = repo.postgresPassword(name);
        if (pgRow && this.deps.postgres) await this.deps.postgres.dropDatabase(pgRow.database);
        const redisDb = repo.redisAssignments().get(name);
        if (redisDb !== undefined && this.deps.config.redisUrl) await flushAppKeys(this.deps.config.redisUrl, redisDb);
      }
      repo.delete(name, opts.purge);
      log.info({ app: name, purge: opts.purge }, 'app uninstalled');
      this.emit('changed');
    });
  }

  async logs(name: string, opts: { follow: boolean; tail?: number | undefined }): Promise<Readable> {
    const app = this.get(name);
    if (!app.runtimeRef) throw new BerthError('E_INVALID_STATE', `app "${name}" has no workload (${app.state})`);
    return this.deps.runtime.logs(app.runtimeRef, { follow: opts.follow, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) });
  }

  private serialized<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Removes the recorded workload and any other workload labelled as this app (leftovers of a crash). */
  private async removeWorkloads(name: string, ref: string | null): Promise<void> {
    const { runtime } = this.deps;
    if (ref) await runtime.remove(ref);
    const leftovers = await runtime.list({ [LABEL_KIND]: 'app', [LABEL_ID]: name }).catch(() => []);
    for (const w of leftovers) await runtime.remove(w.ref);
  }

  private async installOne(m: AppManifest, settings: Record<string, string>, hosting: HostingInfo, progress: (p: InstallProgress) => void): Promise<void> {
    const { config, repo, runtime } = this.deps;
    const log = this.deps.log.child({ app: m.name });
    const say = (step: InstallStepName, message: string): void => progress({ step, app: m.name, message });
    const location = appLocation(m.name, m.embed, hosting, config.appsDomain);
    const portMapping = runtime.capabilities.portMapping;
    const named = Object.entries(m.ports).sort(([a], [b]) => (a === 'http' ? -1 : b === 'http' ? 1 : a.localeCompare(b)));
    await this.removeWorkloads(m.name, null);
    let app = repo.insertWithPorts(
      { name: m.name, settings, hosting, embed: m.embed },
      named,
      { start: config.portRangeStart, end: config.portRangeEnd },
      (cp, hp) => (portMapping ? cp : hp),
    );
    this.emit('changed');
    let ref: string | null = null;
    try {
      say('provisioning', m.requires.length ? `provisioning ${m.requires.join(' and ')}` : 'nothing to provision');
      const ctx: TemplateContext = {
        app: location,
        postgres: m.requires.includes('postgres') ? await this.provisionPostgres(m.name) : undefined,
        redis: m.requires.includes('redis') ? await this.provisionRedis(m.name) : undefined,
        getSecret: (secret) => repo.secret(m.name, secret, generateSecret),
      };
      const http = app.ports[0]!;
      const env = {
        PORT: String(http.containerPort),
        ...renderEnv(m, ctx),
        ...settings,
        BERTH_APP_NAME: m.name,
        BERTH_APP_URL: location.url,
        BERTH_APP_BASE_PATH: location.basePath,
      };
      const command = renderCommand(m, ctx);
      say('pulling', runtime.capabilities.images ? `creating the workload from ${m.image}` : 'creating the workload (this runtime ignores images)');
      ref = await runtime.create({
        name: appWorkloadName(m.name),
        image: m.image,
        ...(command ? { command } : {}),
        env,
        ports: app.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort })),
        labels: { [LABEL_KIND]: 'app', [LABEL_ID]: m.name },
        ...(m.resources ? { resources: pickDefined(m.resources) } : {}),
        ...(config.dnsServers.length ? { dnsServers: config.dnsServers } : {}),
      });
      app = repo.update(m.name, { runtimeRef: ref });
      say('starting', `starting ${appWorkloadName(m.name)}`);
      await runtime.start(ref);
      const status = await runtime.inspect(ref);
      app = repo.update(m.name, { upstreamHost: status.upstreamHost });
      const check = renderHealthcheck(m, ctx);
      say('health', check.kind === 'http' ? `waiting for GET ${check.path} to answer` : `waiting for \`${check.argv.join(' ')}\` to succeed`);
      await runHealthcheck({ runtime, ref, host: status.upstreamHost, port: http.hostPort, check, onFailure: (msg) => say('health', msg) });
      repo.update(m.name, { state: 'running', reason: null });
      log.info({ url: location.url }, 'app healthy');
      say('healthy', `${m.name} is healthy at ${location.url}/`);
      this.emit('changed');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      log.warn({ err }, 'app install failed; removing its workload');
      say('failed', reason);
      await this.removeWorkloads(m.name, ref).catch((e: unknown) => log.error({ err: e }, 'cleanup: remove failed'));
      repo.markFailed(m.name, reason);
      this.emit('changed');
      if (isBerthError(err)) throw err;
      throw new BerthError('E_RUNTIME', `installing "${m.name}" failed: ${reason}`, { cause: err });
    }
  }

  private async provisionPostgres(name: string): Promise<PostgresCredentials> {
    const { repo } = this.deps;
    const pg = this.deps.postgres!;
    const stored = repo.postgresPassword(name);
    const creds = await pg.provisionDatabase(stored?.database ?? databaseNameFor(name), { password: stored?.password });
    repo.savePostgres(name, creds.database, creds.password);
    return creds;
  }

  private async provisionRedis(name: string): Promise<RedisBinding> {
    const url = this.deps.config.redisUrl!;
    const db = allocateRedisDb(name, this.deps.repo.redisAssignments(), await redisDatabases(url));
    this.deps.repo.saveRedis(name, db);
    return redisBinding(url, db, { appHost: this.deps.config.infraHost });
  }
}

function pickDefined(r: { cpus?: number | undefined; memoryMb?: number | undefined }): { cpus?: number; memoryMb?: number } {
  return { ...(r.cpus !== undefined ? { cpus: r.cpus } : {}), ...(r.memoryMb !== undefined ? { memoryMb: r.memoryMb } : {}) };
}
