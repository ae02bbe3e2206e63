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
import type { PreviewConfig } from '../previews/config.schema.js';
import type { GithubClient } from '../previews/github/client.js';
import { previewKey, type PreviewTarget } from '../previews/github/events.js';
import type { PreviewJobs } from '../previews/webhook.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { PreviewRecord, PreviewServiceRecord, PreviewsRepo } from '../store/previews-repo.js';
import { reportPreview, type PreviewReport } from './preview-report.js';

export interface PreviewServiceDeps {
  config: BerthConfig;
  log: Logger;
  repo: PreviewsRepo;
  runtime: Runtime;
  queue: JobQueue<PreviewJobs>;
  /** Shared Postgres for `database: host`; null when BERTH_POSTGRES_URL is unset. */
  postgres: PostgresInfra | null;
  /** Reports statuses and the PR comment; null when BERTH_GITHUB_TOKEN is unset. */
  github: GithubClient | null;
}

/** Label of the generation a preview workload belongs to. */
export const LABEL_GENERATION = 'berth.generation';
/** Engine name of one service of one generation. */
export const previewWorkloadName = (id: string, generation: number, service: string): string => `berth-pv-${id}-g${generation}-${service}`;
/** Tag of the image built for one service of one generation. */
export const previewImageTag = (id: string, generation: number, service: string): string => `localhost/berth-preview-${id}:g${generation}-${service}`;
/** Database and role of a preview in the shared Postgres. */
export const previewDatabaseName = (id: string): string => `preview_${id}`;

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
  cloneUrl: string;
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
  constructor(private readonly deps: PreviewServiceDeps) {
    super();
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
    const sha = await resolveRef(input.cloneUrl, input.ref, gitOpts);
    const target: PreviewTarget = {
      repo: input.repo,
      pr: input.number,
      action: 'synchronize',
      sha,
      ref: input.ref,
      cloneUrl: input.cloneUrl,
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
    try {
      const checkout = path.join(dir, `g${generation}`);
      await checkoutCommit(t.cloneUrl, t.sha, t.pr, checkout, log, { allowFile: this.deps.config.allowFileRepos, token: this.deps.config.githubToken, signal: ctx.signal });
      const cfg = await readPreviewConfig(checkout);
      await log.line(`${cfg.services.length} service(s), database: ${cfg.database}`);
      const env = await this.baseEnv(p, t, cfg);
      const services = await this.startGeneration(p, generation, cfg, checkout, env, log, made, ctx.signal);
      // Flip: one UPDATE, then the edge table is rebuilt synchronously.
      p = repo.update(p.id, { generation, services, routes: cfg.routes, state: 'running', reason: null, sha: t.sha, ref: t.ref, ttlMs: cfg.ttlMs });
      this.emit('changed');
      await log.line(`live at ${p.url}`);
      plog.info({ url: p.url }, 'preview live');
      await this.report(p, t.sha, { kind: 'live', sha: t.sha });
      if (old) await this.retire(p.id, old.generation, old.services, plog);
    } catch (err) {
      await this.removeWorkloads(made, plog);
      if (this.deps.runtime.removeImage) await this.removeImages(p.id, generation, made.map((m) => m.name), plog);
      repo.releasePorts(p.id, generation);
      await rm(path.join(dir, `g${generation}`), { recursive: true, force: true }).catch(() => {});
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

  /** Route first, then workloads (every generation, found by label), database, files, row. */
  private async destroy(p: PreviewRecord, log: Logger): Promise<void> {
    this.deps.repo.update(p.id, { state: 'destroying', services: [] });
    this.emit('changed');
    const all = await this.deps.runtime.list({ [LABEL_KIND]: 'preview', [LABEL_ID]: p.id });
    await this.removeWorkloads(all, log);
    await this.removeWorkloads(p.services, log);
    for (const w of all) {
      const gen = Number(w.labels[LABEL_GENERATION]);
      if (Number.isInteger(gen) && w.labels['berth.service']) await this.removeImages(p.id, gen, [w.labels['berth.service']], log);
    }
    await this.removeImages(p.id, p.generation, p.services.map((s) => s.name), log);
    if (p.databaseName && this.deps.postgres) await this.deps.postgres.dropDatabase(p.databaseName);
    await rm(this.dirOf(p.id), { recursive: true, force: true });
    this.deps.repo.delete(p.id);
    this.emit('changed');
    log.info({ previewId: p.id }, 'preview destroyed');
  }

  // ---- building ---------------------------------------------------------------------------------

  private async baseEnv(p: PreviewRecord, t: PreviewTarget, cfg: PreviewConfig): Promise<Record<string, string>> {
    const env: Record<string, string> = { PREVIEW_URL: p.url!, PR_NUMBER: String(t.pr), GIT_SHA: t.sha };
    if (cfg.database === 'container') {
      throw new BerthError('E_PREVIEW_CONFIG_INVALID', 'database: container is not supported yet; use database: host (shared PostgreSQL)');
    }
    if (cfg.database === 'host') {
      if (!this.deps.postgres) throw new BerthError('E_CONFIG', 'database: host needs the shared PostgreSQL (BERTH_POSTGRES_URL)');
      const name = previewDatabaseName(p.id);
      const password = p.databasePassword ?? randomBytes(24).toString('base64url');
      this.deps.repo.update(p.id, { databaseName: name, databasePassword: password });
      const creds = await this.deps.postgres.provisionDatabase(name, { password });
      env.DATABASE_URL = creds.url;
    }
    return env;
  }

  private async startGeneration(
    p: PreviewRecord,
    generation: number,
    cfg: PreviewConfig,
    checkout: string,
    base: Record<string, string>,
    log: BuildLog,
    made: PreviewServiceRecord[],
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
      const ref = await runtime.create({
        name,
        image,
        ...(svc.command ? { command: svc.command } : {}),
        env,
        ports: hostPort === null ? [] : [{ containerPort: containerPort!, hostPort }],
        labels: { [LABEL_KIND]: 'preview', [LABEL_ID]: p.id, [LABEL_GENERATION]: String(generation), 'berth.service': svc.name },
        ...(runtime.capabilities.isolation ? { files: [{ hostPath: envFile, containerPath: '/etc/preview.env' }] } : {}),
        workdir: path.join(checkout, svc.build?.context ?? '.'),
        ...(config.dnsServers.length ? { dnsServers: config.dnsServers } : {}),
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
        const tail = await this.tail(rec.ref);
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

  private async removeWorkloads(list: readonly { ref: string }[], log: Logger): Promise<void> {
    for (const w of list) {
      await this.deps.runtime.remove(w.ref).catch((err: unknown) => log.warn({ err, ref: w.ref }, 'could not remove preview workload'));
    }
  }

  private async tail(ref: string): Promise<string> {
    try {
      const stream = await this.deps.runtime.logs(ref, { tail: 40 });
      let out = '';
      for await (const chunk of stream) out += String(chunk);
      return out.slice(-8000);
    } catch {
      return '';
    }
  }

  // ---- reaper -----------------------------------------------------------------------------------

  /**
   * Destroys previews older than their ttl (counted from the last update) and removes labelled
   * preview workloads no record knows (orphans of a crash). Returns what it did.
   */
  async reap(now = Date.now()): Promise<{ expired: string[]; orphans: string[] }> {
    const expired: string[] = [];
    for (const p of this.deps.repo.list()) {
      if (p.ttlMs !== null && now - Date.parse(p.updatedAt) > p.ttlMs && p.state !== 'building') {
        this.requestDown(p.id);
        expired.push(p.id);
      }
    }
    const known = new Map(this.deps.repo.list().map((p) => [p.id, p]));
    const orphans: string[] = [];
    for (const w of await this.deps.runtime.list({ [LABEL_KIND]: 'preview' })) {
      const id = w.labels[LABEL_ID] ?? '';
      const rec = known.get(id);
      // Workloads of a generation being built are not in the record yet: only ids with no row are orphans.
      if (!rec) {
        await this.deps.runtime.remove(w.ref).catch(() => {});
        orphans.push(w.name);
      }
    }
    if (expired.length || orphans.length) this.deps.log.info({ expired, orphans }, 'preview reaper pass');
    return { expired, orphans };
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private dirOf(id: string): string {
    return path.join(this.deps.config.dataDir, 'previews', id);
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
