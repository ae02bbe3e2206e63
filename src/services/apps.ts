/**
 * Catalog apps: install (dependencies first, each healthy before the next starts), uninstall
 * (optionally purging its database, Redis keys and secrets), list and logs. Orchestration only:
 * the graph rules live in domain/app-graph.ts, templates in catalog/template.ts, provisioning in
 * infra/, rows in store/apps-repo.ts. Emits `changed` after every state change so the daemon
 * rebuilds the edge's route table.
 *
 * Failure rule: an app whose step fails (provisioning, create, start or a health check that never
 * passes) has its workload removed and its ports released; its row stays `failed` with the reason
 * (the last check output). Its database, Redis index, volumes and secrets are kept (so a retry
 * finds them), and are only dropped by `uninstall --purge`. Installs and uninstalls run one at a
 * time. Once installed, an app that exits is the reconciler's (reconcile-apps.ts): it is marked
 * failed and restarted by its manifest's restart policy (default `always`).
 *
 * Volumes: each manifest volume `<vol>` is the runtime volume `berth-app-<app>-<vol>`, mounted at
 * its path; the app also gets that path in `BERTH_VOLUME_<VOL>` (on the process runtime, which
 * cannot mount, the path is a host directory — see WorkloadSpec.volumes).
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
import type { AppManifest } from '../catalog/manifest.js';
import { volumeEnvName } from '../catalog/manifest.schema.js';
import { generateSecret, renderCommand, renderEnv, renderHealthcheck, type TemplateContext } from '../catalog/template.js';
import { INFRA_KINDS, type InfraKind } from '../domain/app.js';
import type { SharedInfra } from '../infra/shared-infra.js';
import { databaseNameFor } from '../infra/postgres.js';
import { allocateRedisDb, flushAppKeys, redisBinding, redisDatabases } from '../infra/redis.js';
import type { Logger } from '../log.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { AppsRepo, AppVolume, InstalledApp } from '../store/apps-repo.js';
import { runHealthcheck } from './app-health.js';
import { appNetwork, linkApp, unlinkApp, type AppLinks, type AppNetworkDeps } from './app-networks.js';
import { scopedName } from '../runtime/installation.js';

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
  /** The shared Postgres and Redis as they are now (BERTH_*_URL, or Berth's own after `berth infra up`). */
  shared: SharedInfra;
  /** Catalog directories, built-in first (default: BUILTIN_CATALOG_DIR + config.catalogDirs). */
  catalogDirs?: string[] | undefined;
  /** This installation's id (store/instance-id.ts): part of engine-visible names. */
  installation?: string | undefined;
}

/** Engine-visible name of an app's workload. */
export const appWorkloadName = (name: string, installation?: string): string => scopedName(installation, 'app', name);

/** Runtime volume name of an app's manifest volume `volume`. */
export const appVolumeName = (app: string, volume: string, installation?: string): string => scopedName(installation, 'app', app, volume);

/** What an uninstall removed and what it kept (human-readable items: `volume x`, `database y`, …). */
export interface UninstallReport {
  name: string;
  purged: boolean;
  removed: string[];
  kept: string[];
}

/** Orchestrates app installs and uninstalls. */
export class AppService extends EventEmitter<{ changed: [] }> {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly dirs: string[];
  /** Apps with an install or uninstall step in flight (the reconciler leaves them alone). */
  private readonly inFlight = new Set<string>();

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

  /** Apps an operation is working on right now. */
  busyNames(): ReadonlySet<string> {
    return this.inFlight;
  }

  /** Installed apps that have a database (postgres) or a Redis index (redis) on the shared service. */
  usersOf(kind: InfraKind): string[] {
    const { repo } = this.deps;
    const redis = repo.redisAssignments();
    return repo
      .list()
      .filter((a) => a.state !== 'failed' || a.runtimeRef !== null)
      .map((a) => a.name)
      .filter((n) => (kind === 'postgres' ? repo.postgresPassword(n) !== undefined : redis.has(n)));
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
    if (plan.infra.includes('postgres') && !this.deps.shared.postgres()) {
      throw new BerthError('E_INFRA_UNAVAILABLE', `"${name}" needs the shared PostgreSQL, which is not configured`, {
        hint: 'run `berth infra up` to start Berth\'s own, or set BERTH_POSTGRES_URL to a role that may create databases and roles',
      });
    }
    if (plan.infra.includes('redis') && !this.deps.shared.redis()) {
      throw new BerthError('E_INFRA_UNAVAILABLE', `"${name}" needs the shared Redis, which is not configured`, {
        hint: 'run `berth infra up` to start Berth\'s own, or set BERTH_REDIS_URL',
      });
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
        await this.tracked(step.app, () => this.installOne(catalog.get(step.app)!, step.app === name ? settings : {}, hosting, onProgress));
      }
      return this.get(name);
    });
  }

  /**
   * Removes the app's workload and route; its volumes, database, Redis keys and secrets stay for a
   * reinstall. With `purge` those go too (volumes after the workload that mounts them).
   */
  uninstall(name: string, opts: { purge: boolean }): Promise<UninstallReport> {
    return this.serialized(() =>
      this.tracked(name, async () => {
        const { repo, runtime, log } = this.deps;
        const app = this.get(name);
        const { apps } = await this.catalog();
        checkUninstall(name, apps, this.installedSet());
        await this.removeWorkloads(name, app.runtimeRef);
        // What was mounted, and what the manifest names now (a reinstall would mount those).
        const volumes = [...new Set([...app.volumes.map((v) => v.name), ...this.volumesOf(apps.get(name), app.volumes).map((v) => v.name)])];
        const pgRow = repo.postgresPassword(name);
        const redisDb = repo.redisAssignments().get(name);
        const report: UninstallReport = { name, purged: opts.purge, removed: [`workload ${appWorkloadName(name, this.deps.installation)}`], kept: [] };
        const items = [
          ...volumes.map((v) => `volume ${v}`),
          ...(pgRow ? [`database ${pgRow.database}`] : []),
          ...(redisDb !== undefined ? [`redis db ${redisDb}`] : []),
        ];
        if (!opts.purge) report.kept.push(...items, 'secrets');
        else {
          for (const v of volumes) {
            if (!runtime.removeVolume) throw new BerthError('E_RUNTIME', `the ${runtime.name} runtime cannot remove volume ${v}`);
            await runtime.removeVolume(v);
          }
          const postgres = this.deps.shared.postgres();
          if (pgRow && postgres) await postgres.dropDatabase(pgRow.database);
          const redis = this.deps.shared.redis();
          if (redisDb !== undefined && redis) await flushAppKeys(redis.url, redisDb);
          report.removed.push(...items, 'secrets');
        }
        repo.delete(name, opts.purge);
        log.info({ app: name, ...report }, 'app uninstalled');
        this.emit('changed');
        return report;
      }),
    );
  }

  /**
   * The runtime volumes a manifest asks for. A volume the app's record already mounts at the same
   * target keeps its name: data made before names carried the installation tag stays in use.
   */
  private volumesOf(m: AppManifest | undefined, mounted: readonly AppVolume[] = []): AppVolume[] {
    return Object.entries(m?.volumes ?? {}).map(([volume, target]) => ({
      name: mounted.find((v) => v.target === target)?.name ?? appVolumeName(m!.name, volume, this.deps.installation),
      target,
    }));
  }

  private get net(): AppNetworkDeps {
    return { runtime: this.deps.runtime, log: this.deps.log, installation: this.deps.installation };
  }

  async logs(name: string, opts: { follow: boolean; tail?: number | undefined }): Promise<Readable> {
    const app = this.get(name);
    if (!app.runtimeRef) throw new BerthError('E_INVALID_STATE', `app "${name}" has no workload (${app.state})`);
    return this.deps.runtime.logs(app.runtimeRef, { follow: opts.follow, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) });
  }

  private async tracked<T>(name: string, op: () => Promise<T>): Promise<T> {
    this.inFlight.add(name);
    try {
      return await op();
    } finally {
      this.inFlight.delete(name);
    }
  }

  private serialized<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Removes the recorded workload and any other workload labelled as this app (leftovers of a
   * crash), then the app's network (detaching the other apps and shared services that joined it).
   */
  private async removeWorkloads(name: string, ref: string | null): Promise<void> {
    const { runtime, repo } = this.deps;
    if (ref) await runtime.remove(ref);
    const leftovers = await runtime.list({ [LABEL_KIND]: 'app', [LABEL_ID]: name }).catch(() => []);
    for (const w of leftovers) await runtime.remove(w.ref);
    const others = repo.list().flatMap((a) => (a.name !== name && a.runtimeRef ? [a.runtimeRef] : []));
    const services = (await this.deps.shared.managedServices?.(INFRA_KINDS).catch(() => [])) ?? [];
    await unlinkApp(this.net, name, [...others, ...services.map((s) => s.ref)]);
  }

  /** What `linkApp` connects for app `m`, whose container is `ref`. */
  private async linksOf(m: AppManifest, ref: string): Promise<AppLinks> {
    const { repo } = this.deps;
    const { apps: catalog } = await this.catalog();
    const installed = repo.list();
    return {
      ref,
      dependencies: m.dependsOn.flatMap((d) => {
        const dep = installed.find((a) => a.name === d);
        return dep?.runtimeRef ? [{ name: d, ref: dep.runtimeRef }] : [];
      }),
      dependents: installed.filter((a) => a.name !== m.name && catalog.get(a.name)?.dependsOn.includes(m.name)).map((a) => a.name),
      services: (await this.deps.shared.managedServices?.(m.requires)) ?? [],
    };
  }

  private async installOne(m: AppManifest, settings: Record<string, string>, hosting: HostingInfo, progress: (p: InstallProgress) => void): Promise<void> {
    const { config, repo, runtime } = this.deps;
    const log = this.deps.log.child({ app: m.name });
    const say = (step: InstallStepName, message: string): void => progress({ step, app: m.name, message });
    const location = appLocation(m.name, m.embed, hosting, config.appsDomain);
    const portMapping = runtime.capabilities.portMapping;
    const named = Object.entries(m.ports).sort(([a], [b]) => (a === 'http' ? -1 : b === 'http' ? 1 : a.localeCompare(b)));
    const volumes = this.volumesOf(m, repo.get(m.name)?.volumes);
    await this.removeWorkloads(m.name, null);
    let app = repo.insertWithPorts(
      { name: m.name, settings, hosting, embed: m.embed, restartPolicy: m.restart },
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
        ...Object.fromEntries(Object.entries(m.volumes).map(([volume, target]) => [volumeEnvName(volume), target])),
      };
      const command = renderCommand(m, ctx);
      const mounts = volumes.length ? `; volumes ${volumes.map((v) => `${v.name} → ${v.target}`).join(', ')}` : '';
      say('pulling', `${runtime.capabilities.images ? `creating the workload from ${m.image}` : 'creating the workload (this runtime ignores images)'}${mounts}`);
      const network = await appNetwork(this.net, m.name);
      ref = await runtime.create({
        name: appWorkloadName(m.name, this.deps.installation),
        image: m.image,
        ...(command ? { command } : {}),
        env,
        ports: app.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort })),
        labels: { [LABEL_KIND]: 'app', [LABEL_ID]: m.name },
        ...(volumes.length ? { volumes } : {}),
        ...(m.resources ? { resources: pickDefined(m.resources) } : {}),
        ...(config.dnsServers.length ? { dnsServers: config.dnsServers } : {}),
        // Its own network, which only what it depends on joins (see services/app-networks.ts).
        ...(network ? { network } : {}),
      });
      app = repo.update(m.name, { runtimeRef: ref, volumes });
      await linkApp(this.net, m.name, await this.linksOf(m, ref));
      say('starting', `starting ${appWorkloadName(m.name, this.deps.installation)}`);
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
    const pg = this.deps.shared.postgres();
    if (!pg) throw new BerthError('E_INFRA_UNAVAILABLE', 'the shared PostgreSQL is not configured', { hint: 'run `berth infra up`, or set BERTH_POSTGRES_URL' });
    const stored = repo.postgresPassword(name);
    const creds = await pg.provisionDatabase(stored?.database ?? databaseNameFor(name), { password: stored?.password });
    repo.savePostgres(name, creds.database, creds.password);
    return creds;
  }

  private async provisionRedis(name: string): Promise<RedisBinding> {
    const redis = this.deps.shared.redis();
    if (!redis) throw new BerthError('E_INFRA_UNAVAILABLE', 'the shared Redis is not configured', { hint: 'run `berth infra up`, or set BERTH_REDIS_URL' });
    const db = allocateRedisDb(name, this.deps.repo.redisAssignments(), await redisDatabases(redis.url));
    this.deps.repo.saveRedis(name, db);
    return redisBinding(redis.url, db, { appHost: redis.appHost, appPort: redis.appPort });
  }
}

function pickDefined(r: { cpus?: number | undefined; memoryMb?: number | undefined }): { cpus?: number; memoryMb?: number } {
  return { ...(r.cpus !== undefined ? { cpus: r.cpus } : {}), ...(r.memoryMb !== undefined ? { memoryMb: r.memoryMb } : {}) };
}
