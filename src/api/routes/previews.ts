import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { BerthError } from '../../errors.js';
import { REPO_FULL_NAME_RE } from '../../previews/github/events.js';
import { receiveGithubWebhook } from '../../previews/webhook.js';
import type { PreviewHandles } from '../../services/previews-setup.js';
import type { PreviewRecord } from '../../store/previews-repo.js';
import { requireAdmin } from '../authn.js';
import type { ApiEnv } from '../env.js';
import { readJson } from './workspaces.js';

/** GitHub caps deliveries at 25 MB; pull_request payloads are a few dozen KB. */
export const WEBHOOK_MAX_BYTES = 5 * 1024 * 1024;

/** Everything the preview routes need (absent when previews are not configured): the services' handles. */
export type PreviewApiDeps = PreviewHandles;

/** Body of `POST /api/previews`. */
export const previewCreateBody = z
  .object({
    repo: z.string().regex(REPO_FULL_NAME_RE, 'must be owner/name'),
    /** Default: the preview's own clone URL, else `https://github.com/{repo}.git`. */
    cloneUrl: z.string().min(1).max(2048).optional(),
    number: z.number().int().positive(),
    /** Branch, tag or commit SHA. */
    ref: z.string().min(1).max(255),
  })
  .strict();

/** The API's view of a preview (the database password stays inside). */
export function presentPreview(p: PreviewRecord) {
  return {
    id: p.id,
    repo: p.repo,
    pr: p.pr,
    sha: p.sha,
    ref: p.ref,
    state: p.state,
    reason: p.reason,
    url: p.url,
    generation: p.generation,
    services: p.services.map((s) => ({ name: s.name, hostPort: s.hostPort, upstream: s.hostPort === null ? null : `${s.upstreamHost}:${s.hostPort}` })),
    routes: p.routes,
    database: p.databaseName,
    ttlSeconds: p.ttlMs === null ? null : Math.round(p.ttlMs / 1000),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

/** `POST /webhooks/github` (outside /api: GitHub authenticates with the signature, not a token). */
export function githubWebhookRoutes(deps: PreviewApiDeps) {
  const app = new Hono<ApiEnv>();
  app.post(
    '/github',
    bodyLimit({
      maxSize: WEBHOOK_MAX_BYTES,
      onError: () => {
        throw new BerthError('E_PAYLOAD_TOO_LARGE', `webhook body is larger than ${WEBHOOK_MAX_BYTES / 1024 / 1024} MiB`);
      },
    }),
    async (c) => {
      const rawBody = Buffer.from(await c.req.arrayBuffer());
      const result = receiveGithubWebhook({ rawBody, header: (name) => c.req.header(name) }, deps);
      return result.body === null ? c.body(null, 204) : c.json(result.body, result.status === 202 ? 202 : 200);
    },
  );
  return app;
}

/** /api/previews and /api/webhooks/deliveries. Reading needs a login; changing needs an admin. */
export function previewApiRoutes(deps: PreviewApiDeps) {
  const app = new Hono<ApiEnv>();
  app.get('/previews', (c) => c.json({ previews: deps.service.list().map(presentPreview) }));
  app.get('/previews/:id', async (c) => {
    const p = deps.service.get(c.req.param('id'));
    return c.json({ ...presentPreview(p), buildLog: await deps.service.buildLog(p.id) });
  });
  app.post('/previews', async (c) => {
    requireAdmin(c.get('principal'));
    const body = await readJson(c.req.raw, previewCreateBody);
    const { jobId, sha } = await deps.service.requestUp(body);
    return c.json({ jobId, sha, repo: body.repo, pr: body.number }, 202);
  });
  app.delete('/previews/:id', (c) => {
    requireAdmin(c.get('principal'));
    return c.json(deps.service.requestDown(c.req.param('id')), 202);
  });
  app.get('/webhooks/deliveries', (c) => {
    const limit = Number(c.req.query('limit') ?? 50);
    const deliveries = deps.deliveries.listDeliveries({ limit: Number.isFinite(limit) ? limit : 50 }).map((d) => {
      const job = d.jobId === null ? null : deps.queue.get(d.jobId);
      return { ...d, job: job && { id: job.id, type: job.type, state: job.state, error: job.error, attempts: job.attempts } };
    });
    return c.json({ deliveries });
  });
  app.post('/webhooks/deliveries/:id/redeliver', (c) => {
    requireAdmin(c.get('principal'));
    const id = Number(c.req.param('id'));
    const d = deps.deliveries.listDeliveries({ limit: 1000 }).find((x) => x.id === id);
    if (!d) throw new BerthError('E_NOT_FOUND', `no delivery ${c.req.param('id')}`);
    if (d.jobId === null) throw new BerthError('E_INVALID_STATE', `delivery ${id} created no job (outcome ${d.outcome}); nothing to redeliver`);
    const r = deps.queue.requeue(d.jobId);
    if (!r) throw new BerthError('E_NOT_FOUND', `the job of delivery ${id} was pruned`);
    return c.json({ jobId: r.id }, 202);
  });
  return app;
}
