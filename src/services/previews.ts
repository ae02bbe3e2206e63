/**
 * The preview service: the lifecycle of pull-request previews — the job handlers behind the
 * webhook ('preview-up' / 'preview-down'), manual requests, a build up to the flip, destroy, the
 * routes the edge serves, and reports to GitHub. The engine work of a generation lives in
 * previews-workloads.ts, its database and environment in previews-database.ts, the reaper in
 * previews-reaper.ts; the daemon wires all of it in previews-setup.ts.
 */
import { EventEmitter } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BerthConfig } from '../config/schema.js';
import { newId } from '../domain/ids.js';
import { BerthError, isBerthError } from '../errors.js';
import type { PostgresInfra } from '../infra/postgres.js';
import { JobAbort, type Job, type JobContext, type JobHandlers, type JobQueue } from '../jobs/queue.js';
import type { Logger } from '../log.js';
import { BuildLog, checkoutCommit, readPreviewConfig, resolveRef } from '../previews/build.js';
import type { GithubClient } from '../previews/github/client.js';
import { previewKey, type PreviewTarget } from '../previews/github/events.js';
import type { PreviewDatabases } from '../previews/preview-databases.js';
import { createPreviewPostgres, type PreviewPostgres } from '../previews/preview-postgres.js';
import type { PreviewJobs } from '../previews/webhook.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { PreviewRecord, PreviewServiceRecord, PreviewsRepo } from '../store/previews-repo.js';
import { reportPreview, type PreviewReport } from './preview-report.js';
import { PreviewDatabaseProvider } from './previews-database.js';
import { isDatabaseWorkload, previewDir, PreviewReaper, type ReapReport } from './previews-reaper.js';
import {
  ensurePreviewNetwork,
  LABEL_GENERATION,
  removePreviewImages,
  removePreviewNetwork,
  removePreviewWorkloads,
  retireGeneration,
  startGeneration,
} from './previews-workloads.js';

/** What the service needs; the daemon builds it in previews-setup.ts. */
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
  /** `database: container` servers (destroy removes them with their data). */
  private readonly containerDb: PreviewPostgres;
  private readonly database: PreviewDatabaseProvider;
  private readonly reaper: PreviewReaper;

  constructor(private readonly deps: PreviewServiceDeps) {
    super();
    this.containerDb = createPreviewPostgres({
      runtime: deps.runtime,
      image: deps.config.previewPostgresImage,
      dnsServers: deps.config.dnsServers,
      keyFile: path.join(deps.config.dataDir, 'previews', '.postgres.key'),
    });
    this.database = new PreviewDatabaseProvider(deps, this.containerDb);
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
    await removePreviewWorkloads(this.deps.runtime, leftovers, plog);
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
      network = await ensurePreviewNetwork(this.deps.runtime, p.id);
      if (network?.created) await log.line(`network ${network.name}`);
      const env = await this.database.baseEnv(p, t, cfg, log, network?.name ?? null, ctx.signal);
      const services = await startGeneration(this.deps, p, generation, cfg, checkout, env, log, made, network?.name ?? null, ctx.signal);
      // Flip: one UPDATE, then the edge table is rebuilt synchronously.
      p = repo.update(p.id, { generation, services, routes: cfg.routes, state: 'running', reason: null, sha: t.sha, ref: t.ref, ttlMs: cfg.ttlMs });
      this.emit('changed');
      await log.line(`live at ${p.url}`);
      plog.info({ url: p.url }, 'preview live');
      await this.report(p, t.sha, { kind: 'live', sha: t.sha });
      if (old) await retireGeneration(this.deps, p.id, old.generation, old.services, plog);
      await this.database.dropUnused(p.id, cfg.database, plog);
    } catch (err) {
      await removePreviewWorkloads(this.deps.runtime, made, plog);
      if (this.deps.runtime.removeImage) await removePreviewImages(this.deps.runtime, p.id, generation, made.map((m) => m.name), plog);
      repo.releasePorts(p.id, generation);
      await rm(path.join(dir, `g${generation}`), { recursive: true, force: true }).catch(() => {});
      // Only a network this attempt made, and only once nothing uses it: a database server made
      // by this attempt stays (it belongs to the preview) and keeps its network with it.
      if (network?.created) await removePreviewNetwork(this.deps.runtime, p.id, plog, { whileUsed: 'keep' });
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
    await removePreviewWorkloads(this.deps.runtime, all.filter((w) => !isDatabaseWorkload(w)), log);
    await removePreviewWorkloads(this.deps.runtime, p.services, log);
    for (const w of all) {
      const gen = Number(w.labels[LABEL_GENERATION]);
      if (Number.isInteger(gen) && w.labels['berth.service']) await removePreviewImages(this.deps.runtime, p.id, gen, [w.labels['berth.service']], log);
    }
    await removePreviewImages(this.deps.runtime, p.id, p.generation, p.services.map((s) => s.name), log);
    const servers = await this.containerDb.remove(p.id, this.dirOf(p.id));
    if (servers.length) log.info({ previewId: p.id, removed: servers }, "preview's PostgreSQL removed with its data");
    // After every workload on it. A network that will not go is left to the reaper: without the
    // row it is an orphan, removed on a later pass once whatever holds it is gone.
    await removePreviewNetwork(this.deps.runtime, p.id, log, { whileUsed: 'warn' });
    if (p.databaseName && this.deps.postgres) await this.deps.postgres.dropDatabase(p.databaseName);
    await rm(this.dirOf(p.id), { recursive: true, force: true });
    this.deps.repo.delete(p.id);
    this.emit('changed');
    log.info({ previewId: p.id }, 'preview destroyed');
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
