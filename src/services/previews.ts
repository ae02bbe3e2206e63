import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BerthConfig } from '../config/schema.js';
import { newId } from '../domain/ids.js';
import { BerthError, isBerthError } from '../errors.js';
import type { PostgresInfra } from '../infra/postgres.js';
import { JobAbort, type Job, type JobContext, type JobHandlers, type JobQueue } from '../jobs/queue.js';
import type { Logger } from '../log.js';
import { BuildLog, checkoutCommit, readPreviewConfig, resolveRef, waitHealthy, writeEnvFile } from '../previews/build.js';
import type { DatabaseMode, PreviewConfig } from '../previews/config.schema.js';
import type { GithubClient } from '../previews/github/client.js';
import { previewKey, type PreviewTarget } from '../previews/github/events.js';
import { previewDatabaseName, type PreviewDatabases } from '../previews/preview-databases.js';
import { createFresh, createPreviewPostgres, PREVIEW_POSTGRES_HOST, type PreviewPostgres } from '../previews/preview-postgres.js';
import type { PreviewJobs } from '../previews/webhook.js';
import { logTail } from '../runtime/log-tail.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { PreviewRecord, PreviewServiceRecord, PreviewsRepo } from '../store/previews-repo.js';
import { reportPreview, type PreviewReport } from './preview-report.js';
import { networkOps } from '../runtime/networks.js';
import { isDatabaseWorkload, previewDir, PreviewReaper, type ReapReport } from './previews-reaper.js';

export { ORPHAN_GRACE_MS, type ReapReport } from './previews-reaper.js';

export interface PreviewServiceDeps {
  config: BerthConfig;
  log: Logger;
  repo: PreviewsRepo;
  runtime: Runtime;
  queue: JobQueue<PreviewJobs>;
  /** Shared Postgres for `database: host`; null when BERTH_POSTGRES_URL is unset. */
  postgres: PostgresInfra | null;
  /** Preview databases on the shared Postgres: listing for the reaper, repair after a crash; null (default) when BERTH_POSTGRES_URL is unset. */
  databases?: PreviewDatabases | null;
  /** Reports statuses and the PR comment; null when BERTH_GITHUB_TOKEN is unset. */
  github: GithubClient | null;
}

/** Label of the generation a preview workload belongs to. */
export const LABEL_GENERATION = 'berth.generation';
/** Engine name of one service of one generation. */
export const previewWorkloadName = (id: string, generation: number, service: string): string => `berth-pv-${id}-g${generation}-${service}`;
/**
 * The network of one preview (runtimes with `capabilities.networks`): made before the first
 * workload of a build, joined by the database server (alias `postgres`) and by every service of
 * every generation (alias: its service name), removed by destroy after them. Services find each
 * other by name there, and other previews' networks cannot reach it. During an update the old and
 * the new generation share it until the old one is retired, so for that window a service name
 * answers from either generation. Published ports stay on 127.0.0.1 for the edge.
 */
export const previewNetworkName = (id: string): string => `berth-pv-${id}`;
/** Tag of the image built for one service of one generation. */
export const previewImageTag = (id: string, generation: number, service: string): string => `localhost/berth-preview-${id}:g${generation}-${service}`;
/** Database and role of a preview in the shared Postgres. */
export { previewDatabaseName };
/**
 * "Generation" under which the host port of a `database: container` server is allocated: real
 * generations start at 1, so its row (`<id>.0`) never mixes with a generation's ports.
 */
export const DATABASE_PORT_SLOT = 0;
/** What the edge needs of a live preview (see src/edge/preview-routes.ts). */
export interface PreviewRoutable {
  id: string;
  name: string;
  /** Lowercase hostname without a port. */
  host: string;
  routes: { prefix: string; upstreamHost: string; hostPort: number }[];
}

/** Manual create (`POST /api/previews`). */
export interface ManualPreviewInput {
  repo: string;
  /** Default: the existing preview's clone URL, else `https://github.com/{repo}.git`. */
  cloneUrl?: string | undefined;
  number: number;
  /** A commit SHA, or a branch/tag resolved with `git ls-remote`. */
  ref: string;
}

/**
 * Orchestrates previews: the job handlers behind the webhook ('preview-up' / 'preview-down'),
 * manual requests, and the reaper. Emits `changed` whenever the set of routes may have changed;
 * the daemon rebuilds the edge table synchronously on it, so "route flipped" means flipped.
 *
 * Zero downtime: a new generation is built and health-checked while the old one keeps its routes;
 * the row then points at the new generation (one UPDATE + `changed`), and only after a drain delay
 * are the old workloads removed. A failed build removes only what it made.
 */
export class PreviewService extends EventEmitter<{ changed: [] }> {
  /** `database: container` servers. */
  private readonly containerDb: PreviewPostgres;
  private readonly reaper: PreviewReaper;

  constructor(private readonly deps: PreviewServiceDeps) {
    super();
    this.containerDb = createPreviewPostgres({
      runtime: deps.runtime,
      image: deps.config.previewPostgresImage,
      dnsServers: deps.config.dnsServers,
      keyFile: path.join(deps.config.dataDir, 'previews', '.postgres.key'),
    });
    this.reaper = new PreviewReaper(deps, { requestDown: (id) => this.requestDown(id) });
  }

  list(): PreviewRecord[] {
    return this.deps.repo.list();
  }

  get(id: string): PreviewRecord {
    const p = this.deps.repo.get(id);
    if (!p) throw new BerthError('E_NOT_FOUND', `no preview ${id}`);
    return p;
  }

  /** The build log of the last build, '' when there is none. */
  async buildLog(id: string): Promise<string> {
    const p = this.get(id);
    return p.buildLog ? readFile(p.buildLog, 'utf8').catch(() => '') : '';
  }

  /** Job handlers for the queue the daemon starts. */
  handlers(): JobHandlers<PreviewJobs> {
    return {
      'preview-up': (job, ctx) => this.up(job, ctx),
      'preview-down': (job, ctx) => this.down(job.payload, ctx),
    };
  }

  /** Enqueues a build of a branch or commit (manual previews, `berth preview create|update`). */
  async requestUp(input: ManualPreviewInput): Promise<{ jobId: number; sha: string }> {
    const gitOpts = { allowFile: this.deps.config.allowFileRepos, token: this.deps.config.githubToken };
    const cloneUrl = input.cloneUrl ?? this.deps.repo.find(input.repo, input.number)?.cloneUrl ?? `https://github.com/${input.repo}.git`;
    const sha = await resolveRef(cloneUrl, input.ref, gitOpts);
    const target: PreviewTarget = {
      repo: input.repo,
      pr: input.number,
      action: 'synchronize',
      sha,
      ref: input.ref,
      cloneUrl,
      private: false,
      author: 'berth',
      fork: false,
      merged: false,
    };
    const r = this.deps.queue.enqueue({ type: 'preview-up', key: previewKey(target.repo, target.pr), payload: target, replaces: ['preview-up'] });
    return { jobId: r.id, sha };
  }

  /** Enqueues the teardown of a preview. */
  requestDown(id: string): { jobId: number } {
    const p = this.get(id);
    const target = this.targetOf(p, 'closed');
    const r = this.deps.queue.enqueue({ type: 'preview-down', key: previewKey(p.repo, p.pr), payload: target, replaces: ['preview-up', 'preview-down'], interrupt: true });
    return { jobId: r.id };
  }

  /** Live previews as edge routes. */
  routables(): PreviewRoutable[] {
    const out: PreviewRoutable[] = [];
    for (const p of this.deps.repo.list()) {
      if (p.generation === 0 || !p.url || p.state === 'destroying') continue;
      const byName = new Map(p.services.map((s) => [s.name, s]));
      const routes = p.routes.flatMap((r) => {
        const s = byName.get(r.service);
        return s && s.hostPort !== null ? [{ prefix: r.path, upstreamHost: s.upstreamHost, hostPort: s.hostPort }] : [];
      });
      out.push({ id: p.id, name: `${p.repo}#${p.pr}`, host: new URL(p.url).hostname, routes });
    }
    return out;
  }

  // ---- jobs -------------------------------------------------------------------------------------

  private async up(job: Job<PreviewTarget>, ctx: JobContext): Promise<void> {
    const t = job.payload;
    const { repo } = this.deps;
    let p = repo.find(t.repo, t.pr);
    if (p && p.generation > 0 && p.sha === t.sha && p.state === 'running') {
      ctx.log.info({ previewId: p.id }, 'preview already serves this commit');
      return;
    }
    if (!p) p = repo.insert({ id: newId(), repo: t.repo, pr: t.pr, sha: t.sha, ref: t.ref, cloneUrl: t.cloneUrl, private: t.private });
    if (!p.url) p = repo.update(p.id, { url: this.urlFor(p) });
    const old = p.generation > 0 ? { generation: p.generation, sha: p.sha, services: p.services } : null;
    const generation = p.generation + 1;
    const dir = this.dirOf(p.id);
    const log = new BuildLog(path.join(dir, `build-g${generation}.log`));
    await rm(log.file, { force: true });
    p = repo.update(p.id, { state: old ? p.state : 'building', buildLog: log.file, reason: old ? `updating to ${t.sha.slice(0, 7)}` : null, cloneUrl: t.cloneUrl });
    this.emit('changed');
    const plog = ctx.log.child({ previewId: p.id, generation, sha: t.sha });
    // A crash during an earlier attempt may have left this generation half-made.
    const leftovers = await this.deps.runtime.list({ [LABEL_KIND]: 'preview', [LABEL_ID]: p.id, [LABEL_GENERATION]: String(generation) });
    await this.removeWorkloads(leftovers, plog);
    repo.releasePorts(p.id, generation);
    await this.report(p, t.sha, { kind: 'building', sha: t.sha });

    const made: PreviewServiceRecord[] = [];
    let network: { name: string; created: boolean } | null = null;
    try {
      const checkout = path.join(dir, `g${generation}`);
      await checkoutCommit(t.cloneUrl, t.sha, t.pr, checkout, log, { allowFile: this.deps.config.allowFileRepos, token: this.deps.config.githubToken, signal: ctx.signal });
      const cfg = await readPreviewConfig(checkout);
      await log.line(`${cfg.services.length} service(s), database: ${cfg.database}`);
      // Before the database server and the services, which join it. The record exists already, so
      // the reaper, which lists networks before it reads records, never takes it for an orphan.
      network = await this.ensureNetwork(p.id);
      if (network?.created) await log.line(`network ${network.name}`);
      const env = await this.baseEnv(p, t, cfg, log, network?.name ?? null, ctx.signal);
      const services = await this.startGeneration(p, generation, cfg, checkout, env, log, made, network?.name ?? null, ctx.signal);
      // Flip: one UPDATE, then the edge table is rebuilt synchronously.
      p = repo.update(p.id, { generation, services, routes: cfg.routes, state: 'running', reason: null, sha: t.sha, ref: t.ref, ttlMs: cfg.ttlMs });
      this.emit('changed');
      await log.line(`live at ${p.url}`);
      plog.info({ url: p.url }, 'preview live');
      await this.report(p, t.sha, { kind: 'live', sha: t.sha });
      if (old) await this.retire(p.id, old.generation, old.services, plog);
      await this.dropUnusedDatabases(p.id, cfg.database, plog);
    } catch (err) {
      await this.removeWorkloads(made, plog);
      if (this.deps.runtime.removeImage) await this.removeImages(p.id, generation, made.map((m) => m.name), plog);
      repo.releasePorts(p.id, generation);
      await rm(path.join(dir, `g${generation}`), { recursive: true, force: true }).catch(() => {});
      // Only a network this attempt made, and only once nothing uses it: a database server made
      // by this attempt stays (it belongs to the preview) and keeps its network with it.
      if (network?.created) await this.removeNetwork(p.id, plog, { whileUsed: 'keep' });
      const aborted = ctx.signal.aborted;
      const why = isBerthError(err) ? err.message : err instanceof Error ? err.message : String(err);
      await log.line(`FAILED: ${why}`).catch(() => {});
      if (aborted) {
        plog.info({ why: String(ctx.signal.reason) }, 'preview build aborted');
        if (ctx.signal.reason instanceof JobAbort && ctx.signal.reason.why === 'superseded') return;
        throw err;
      }
      plog.warn({ err }, 'preview build failed');
      const reason = old ? `update to ${t.sha.slice(0, 7)} failed: ${why} (still serving ${old.sha.slice(0, 7)})` : why;
      p = repo.update(p.id, { state: old ? 'running' : 'failed', reason });
      this.emit('changed');
      await this.report(p, t.sha, { kind: 'failed', sha: t.sha, reason: why, stillServing: old?.sha ?? null });
    }
  }

  private async down(t: PreviewTarget, ctx: JobContext): Promise<void> {
    const p = this.deps.repo.find(t.repo, t.pr);
    if (!p) {
      ctx.log.info('no preview to destroy');
      return;
    }
    await this.destroy(p, ctx.log);
    await this.report(p, p.sha, { kind: 'destroyed', sha: p.sha });
  }

  /**
   * Route first, then the services (every generation, found by label), then the database (the
   * preview's own server and its data, or the shared database), files, and the row last: until
   * everything is gone, the row is what owns it (see `reap`).
   */
  private async destroy(p: PreviewRecord, log: Logger): Promise<void> {
    this.deps.repo.update(p.id, { state: 'destroying', services: [] });
    this.emit('changed');
    const all = await this.deps.runtime.list({ [LABEL_KIND]: 'preview', [LABEL_ID]: p.id });
    await this.removeWorkloads(all.filter((w) => !isDatabaseWorkload(w)), log);
    await this.removeWorkloads(p.services, log);
    for (const w of all) {
      const gen = Number(w.labels[LABEL_GENERATION]);
      if (Number.isInteger(gen) && w.labels['berth.service']) await this.removeImages(p.id, gen, [w.labels['berth.service']], log);
    }
    await this.removeImages(p.id, p.generation, p.services.map((s) => s.name), log);
    const servers = await this.containerDb.remove(p.id, this.dirOf(p.id));
    if (servers.length) log.info({ previewId: p.id, removed: servers }, "preview's PostgreSQL removed with its data");
    // After every workload on it. A network that will not go is left to the reaper: without the
    // row it is an orphan, removed on a later pass once whatever holds it is gone.
    await this.removeNetwork(p.id, log, { whileUsed: 'warn' });
    if (p.databaseName && this.deps.postgres) await this.deps.postgres.dropDatabase(p.databaseName);
    await rm(this.dirOf(p.id), { recursive: true, force: true });
    this.deps.repo.delete(p.id);
    this.emit('changed');
    log.info({ previewId: p.id }, 'preview destroyed');
  }

  // ---- building ---------------------------------------------------------------------------------

  private async baseEnv(p: PreviewRecord, t: PreviewTarget, cfg: PreviewConfig, log: BuildLog, network: string | null, signal: AbortSignal): Promise<Record<string, string>> {
    const env: Record<string, string> = { PREVIEW_URL: p.url!, PR_NUMBER: String(t.pr), GIT_SHA: t.sha };
    // One password per preview, kept in the record: every generation gets the same DATABASE_URL.
    const password = p.databasePassword ?? randomBytes(24).toString('base64url');
    if (cfg.database === 'container') {
      if (!p.databasePassword) this.deps.repo.update(p.id, { databasePassword: password });
      const { repo, config } = this.deps;
      const db = await this.containerDb.ensure({
        previewId: p.id,
        dir: this.dirOf(p.id),
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
  private async dropUnusedDatabases(id: string, mode: DatabaseMode, log: Logger): Promise<void> {
    try {
      if (mode !== 'container') {
        const removed = await this.containerDb.remove(id, this.dirOf(id));
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

  private async startGeneration(
    p: PreviewRecord,
    generation: number,
    cfg: PreviewConfig,
    checkout: string,
    base: Record<string, string>,
    log: BuildLog,
    made: PreviewServiceRecord[],
    network: string | null,
    signal: AbortSignal,
  ): Promise<PreviewServiceRecord[]> {
    const { runtime, config } = this.deps;
    const mapped = runtime.capabilities.portMapping;
    const ported = cfg.services.filter((s) => s.port !== null);
    const ports = this.deps.repo.allocatePorts(p.id, generation, ported.length, { start: config.portRangeStart, end: config.portRangeEnd });
    if (ports.length < ported.length) throw new BerthError('E_PORTS_EXHAUSTED', `no ${ported.length} free host ports for the preview`);
    // Process workloads read it from the checkout (and get the same values in their env).
    await writeEnvFile(path.join(checkout, '.preview.env'), base);
    for (const svc of cfg.services) {
      signal.throwIfAborted();
      const hostPort = svc.port === null ? null : ports[ported.indexOf(svc)]!;
      const containerPort = svc.port === null ? null : mapped ? svc.port : hostPort;
      const env = { ...svc.env, ...base, ...(containerPort === null ? {} : { PORT: String(containerPort) }) };
      // Containers get theirs at /etc/preview.env, from outside the build context.
      const envFile = path.join(this.dirOf(p.id), `g${generation}-${svc.name}.env`);
      await writeEnvFile(envFile, env);
      let image = svc.image ?? '';
      if (svc.build) {
        if (!runtime.build) {
          if (!svc.command) throw new BerthError('E_PREVIEW_BUILD', `service ${svc.name}: the ${runtime.name} runtime cannot build images; give a command`);
        } else {
          image = previewImageTag(p.id, generation, svc.name);
          await log.line(`building ${svc.name} → ${image}`);
          const context = path.join(checkout, svc.build.context);
          await log.raw(await runtime.build(context, svc.build.containerfile ? path.join(checkout, svc.build.containerfile) : 'Containerfile', image));
        }
      }
      if (!runtime.capabilities.images && !svc.command) {
        throw new BerthError('E_PREVIEW_BUILD', `service ${svc.name}: the ${runtime.name} runtime runs commands, not images; give a command`);
      }
      const name = previewWorkloadName(p.id, generation, svc.name);
      await log.line(`starting ${svc.name}${hostPort === null ? '' : ` on port ${hostPort}`}`);
      // The generation is not live, so its names are ours to take (see createFresh).
      const ref = await createFresh(runtime, {
        name,
        image,
        ...(svc.command ? { command: svc.command } : {}),
        env,
        ports: hostPort === null ? [] : [{ containerPort: containerPort!, hostPort }],
        labels: { [LABEL_KIND]: 'preview', [LABEL_ID]: p.id, [LABEL_GENERATION]: String(generation), 'berth.service': svc.name },
        ...(runtime.capabilities.isolation ? { files: [{ hostPath: envFile, containerPath: '/etc/preview.env' }] } : {}),
        workdir: path.join(checkout, svc.build?.context ?? '.'),
        ...(config.dnsServers.length ? { dnsServers: config.dnsServers } : {}),
        // The other services reach it by its name; the edge still dials the published port.
        ...(network ? { network: { name: network, aliases: [svc.name] } } : {}),
      });
      const record: PreviewServiceRecord = { name: svc.name, ref, hostPort, containerPort, upstreamHost: '127.0.0.1' };
      made.push(record);
      await runtime.start(ref);
      record.upstreamHost = (await runtime.inspect(ref)).upstreamHost;
    }
    for (const svc of cfg.services) {
      const rec = made.find((m) => m.name === svc.name)!;
      await log.line(`waiting for ${svc.name} to be healthy`);
      try {
        await waitHealthy(runtime, rec.ref, { host: rec.upstreamHost, port: rec.hostPort }, svc.healthcheck, signal);
      } catch (err) {
        const tail = (await logTail(this.deps.runtime, rec.ref, 40)).slice(-8000);
        if (tail) await log.raw(`--- ${svc.name} output ---\n${tail}`);
        throw new BerthError('E_PREVIEW_BUILD', `service ${svc.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    return made.map((m) => ({ ...m }));
  }

  /** Removes an old generation after the drain delay (requests in flight finish). */
  private async retire(id: string, generation: number, services: PreviewServiceRecord[], log: Logger): Promise<void> {
    await sleep(Math.min(this.deps.config.drainSeconds, 30) * 1000);
    await this.removeWorkloads(services, log);
    await this.removeImages(id, generation, services.map((s) => s.name), log);
    this.deps.repo.releasePorts(id, generation);
    await rm(path.join(this.dirOf(id), `g${generation}`), { recursive: true, force: true }).catch(() => {});
    log.info({ generation }, 'old preview generation removed');
  }

  /** Images `build` made for a generation (tags are deterministic, so no record is needed). */
  private async removeImages(id: string, generation: number, services: string[], log: Logger): Promise<void> {
    if (!this.deps.runtime.removeImage) return;
    for (const svc of services) {
      await this.deps.runtime.removeImage(previewImageTag(id, generation, svc)).catch((err: unknown) => log.warn({ err }, 'could not remove preview image'));
    }
  }

  /** Makes the preview's network when missing; null on runtimes without networks. `created`: this call made it. */
  private async ensureNetwork(id: string): Promise<{ name: string; created: boolean } | null> {
    const net = networkOps(this.deps.runtime);
    if (!net) return null;
    const name = previewNetworkName(id);
    return { name, created: await net.createNetwork(name, { [LABEL_KIND]: 'preview', [LABEL_ID]: id }) };
  }

  /**
   * Removes the preview's network (a no-op when it is gone or the runtime has none). Never throws:
   * one still in use (E_INVALID_STATE) is kept — quietly after a failed build, whose preview's
   * database server may hold it, with a warning on destroy — and so is one the engine refuses.
   */
  private async removeNetwork(id: string, log: Logger, opts: { whileUsed: 'keep' | 'warn' }): Promise<void> {
    const net = networkOps(this.deps.runtime);
    if (!net) return;
    try {
      await net.removeNetwork(previewNetworkName(id));
    } catch (err) {
      const used = isBerthError(err) && err.code === 'E_INVALID_STATE';
      if (used && opts.whileUsed === 'keep') log.debug({ network: previewNetworkName(id) }, 'preview network kept: still in use');
      else log.warn({ err, network: previewNetworkName(id) }, 'could not remove the preview network');
    }
  }

  private async removeWorkloads(list: readonly { ref: string }[], log: Logger): Promise<void> {
    for (const w of list) {
      await this.deps.runtime.remove(w.ref).catch((err: unknown) => log.warn({ err, ref: w.ref }, 'could not remove preview workload'));
    }
  }

  // ---- reaper -----------------------------------------------------------------------------------

  /** One reaper pass (see PreviewReaper): ttl expiry and everything no preview record owns. */
  reap(now = Date.now()): Promise<ReapReport> {
    return this.reaper.reap(now);
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private dirOf(id: string): string {
    return previewDir(this.deps.config.dataDir, id);
  }

  /** `{proto}://{pr}.{domain}`; a second repository with the same PR number gets `{pr}-{name}.{domain}`. */
  private urlFor(p: PreviewRecord): string {
    const domain = this.deps.config.previewDomain;
    if (!domain) throw new BerthError('E_CONFIG', 'previews need BERTH_PREVIEW_DOMAIN');
    const proto = this.deps.config.publicUrl?.startsWith('https:') ? 'https' : 'http';
    const taken = new Set(this.deps.repo.list().filter((o) => o.id !== p.id && o.url).map((o) => new URL(o.url!).hostname));
    let label = String(p.pr);
    if (taken.has(`${label}.${domain.replace(/:\d+$/, '')}`)) {
      label = `${p.pr}-${p.repo.split('/')[1]!.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40)}`.replace(/-+$/, '');
    }
    return `${proto}://${label}.${domain}`;
  }

  private targetOf(p: PreviewRecord, action: PreviewTarget['action']): PreviewTarget {
    return { repo: p.repo, pr: p.pr, action, sha: p.sha, ref: p.ref ?? '', cloneUrl: p.cloneUrl, private: p.private, author: 'berth', fork: false, merged: false };
  }

  private async report(p: PreviewRecord, sha: string, r: PreviewReport): Promise<void> {
    if (!this.deps.github) return;
    await reportPreview(this.deps.github, p, sha, r).catch((err: unknown) => this.deps.log.warn({ err, previewId: p.id }, 'reporting to GitHub failed'));
  }
}
