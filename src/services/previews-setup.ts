import type { BerthConfig } from '../config/schema.js';
import type { RouteTable } from '../domain/route.js';
import { withPreviewRoutes } from '../edge/preview-routes.js';
import { createPostgresInfra } from '../infra/postgres.js';
import { DeliveryLog } from '../jobs/deliveries.js';
import { JobQueue } from '../jobs/queue.js';
import type { Logger } from '../log.js';
import { GithubClient } from '../previews/github/client.js';
import { createPreviewDatabases } from '../previews/preview-databases.js';
import type { PreviewPolicy } from '../previews/github/events.js';
import type { PreviewJobs } from '../previews/webhook.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Db } from '../store/db.js';
import { instanceId } from '../store/instance-id.js';
import { PreviewsRepo } from '../store/previews-repo.js';
import { PreviewService } from './previews.js';

/**
 * What callers of the preview feature (the API's preview and webhook routes) need: the service,
 * its job queue and delivery log, the policy and webhook secret. No HTTP here: the API adapts it.
 */
export interface PreviewHandles {
  service: PreviewService;
  queue: JobQueue<PreviewJobs>;
  deliveries: DeliveryLog;
  policy: PreviewPolicy;
  /** GitHub webhook secret (signatures are refused without one). */
  secret: string | undefined;
  log: Logger;
}

/** Everything the daemon runs for pull-request previews. */
export interface PreviewStack {
  service: PreviewService;
  queue: JobQueue<PreviewJobs>;
  deliveries: DeliveryLog;
  /** For createApiApp. */
  api: PreviewHandles;
  /** Adds live previews' host routes to a table built from the other workloads. */
  withRoutes(table: RouteTable): RouteTable;
  /** Starts the job worker and the reaper (after the listener is up). */
  start(): void;
  /** Stops the reaper and the worker; resolves before the database may be closed. */
  stop(): Promise<void>;
}

/** Wires store, queue, GitHub client, shared Postgres and the service from the config. */
export function createPreviewStack(deps: { config: BerthConfig; log: Logger; db: Db; runtime: Runtime }): PreviewStack {
  const { config } = deps;
  const log = deps.log.child({ component: 'previews' });
  const queue = new JobQueue<PreviewJobs>(deps.db, { log, concurrency: 2, backoff: { baseMs: 5_000, maxMs: 300_000 } });
  const deliveries = new DeliveryLog(deps.db);
  const github = config.githubToken
    ? new GithubClient({ token: config.githubToken, baseUrl: config.githubApiUrl, log: log.child({ component: 'github' }) })
    : null;
  // Marks what this Berth makes on a shared server, so another Berth there never reaps it.
  const instance = instanceId(deps.db);
  const postgres = config.postgresUrl
    ? createPostgresInfra({ adminUrl: config.postgresUrl, appHost: config.infraHost, log: log.child({ component: 'postgres' }), instanceId: instance })
    : null;
  const databases = config.postgresUrl ? createPreviewDatabases({ adminUrl: config.postgresUrl, instanceId: instance }) : null;
  const service = new PreviewService({ config, log, repo: new PreviewsRepo(deps.db), runtime: deps.runtime, queue, postgres, databases, github });
  const secret = config.githubWebhookSecret || undefined;
  if (!secret) log.warn('POST /webhooks/github is off: BERTH_GITHUB_WEBHOOK_SECRET is not set');
  else if (config.previewRepos.length === 0) log.warn('GitHub webhooks are on but BERTH_PREVIEW_REPOS is empty: every repository is refused');
  if (secret && !config.previewDomain) log.warn('GitHub webhooks are on but BERTH_PREVIEW_DOMAIN is not set: previews will fail');
  if (secret && !github) log.warn('BERTH_GITHUB_TOKEN is not set: previews will not report to pull requests');
  let reaper: NodeJS.Timeout | null = null;
  return {
    service,
    queue,
    deliveries,
    api: {
      service,
      queue,
      deliveries,
      secret,
      log,
      policy: { repos: config.previewRepos, allowedAssociations: config.previewAuthorAssociations, allowForks: config.previewAllowForks },
    },
    withRoutes: (table) => withPreviewRoutes(table, service.routables(), config.previewDomain),
    start() {
      queue.start(service.handlers());
      reaper = setInterval(() => {
        service.reap().catch((err: unknown) => log.warn({ err }, 'preview reaper failed'));
        const weekAgo = Date.now() - 7 * 86_400_000;
        queue.prune(weekAgo);
        deliveries.prune(weekAgo);
      }, config.previewReapInterval * 1000);
      reaper.unref();
    },
    async stop() {
      if (reaper) clearInterval(reaper);
      await queue.stop({ timeoutMs: 5_000, abortGraceMs: 2_000 });
    },
  };
}
