import { BerthError } from '../errors.js';
import type { DeliveryLog, DeliveryOutcome } from '../jobs/deliveries.js';
import type { JobQueue } from '../jobs/queue.js';
import type { Logger } from '../log.js';
import { decideDelivery, deliveryOutcome, previewKey, type DeliveryDecision, type PreviewPolicy, type PreviewTarget } from './github/events.js';
import { verifyGithubSignature } from './github/verify.js';

/**
 * The transport-free core of `POST /webhooks/github`: verify, decide, enqueue, record — all
 * synchronous (SQLite), so the route answers within milliseconds and the work happens in jobs.
 * The route only has to hand over the RAW body bytes and the headers, and turn the result (or the
 * BerthError) into a response.
 *
 * | case                                   | answer | recorded in deliveries      |
 * |----------------------------------------|--------|-----------------------------|
 * | no secret configured                   | 404    | no (endpoint off)           |
 * | missing / wrong signature              | 401    | no (unauthenticated: log only) |
 * | missing X-GitHub-Delivery / bad JSON   | 400    | no                          |
 * | ping                                   | 200    | accepted                    |
 * | PR opened/reopened/synchronize/closed  | 202    | accepted (+ job)            |
 * | same X-GitHub-Delivery again           | 200    | duplicate (no new job)      |
 * | other event, action, author or fork    | 204    | ignored:<reason>            |
 * | repository not allowed                 | 403    | rejected:repo-not-allowed   |
 * | signed but malformed payload           | 400    | rejected:invalid-payload    |
 */

/** Job types (and payloads) the preview worker handles. */
export type PreviewJobs = { 'preview-up': PreviewTarget; 'preview-down': PreviewTarget };

export interface WebhookDeps {
  queue: JobQueue<PreviewJobs>;
  deliveries: DeliveryLog;
  policy: PreviewPolicy;
  /** BERTH_GITHUB_WEBHOOK_SECRET; unset or empty turns the endpoint off. */
  secret: string | undefined;
  log: Logger;
}

export interface WebhookRequest {
  /** The body exactly as received (the signature covers these bytes). */
  rawBody: Buffer;
  /** Case-insensitive header lookup. */
  header(name: string): string | undefined;
}

export interface WebhookResult {
  status: 200 | 202 | 204;
  /** JSON body to send; null for 204. */
  body: { outcome: DeliveryOutcome; jobId?: number; zen?: string } | null;
  decision: DeliveryDecision;
}

/** Enqueue options per job type: how a PR's jobs coalesce. */
function jobFor(decision: Extract<DeliveryDecision, { kind: 'preview-up' | 'preview-down' }>) {
  const t = decision.target;
  return decision.kind === 'preview-up'
    ? // A newer push replaces builds still waiting; a running build finishes (see report: interrupt is a choice).
      { type: 'preview-up' as const, key: previewKey(t.repo, t.pr), payload: t, replaces: ['preview-up'] }
    : // Closing cancels queued builds and interrupts a running one: nothing of it would survive anyway.
      { type: 'preview-down' as const, key: previewKey(t.repo, t.pr), payload: t, replaces: ['preview-up', 'preview-down'], interrupt: true };
}

/** Handles one delivery. Throws BerthError for 404/401/400/403 answers; returns the 2xx ones. */
export function receiveGithubWebhook(req: WebhookRequest, deps: WebhookDeps): WebhookResult {
  const { log } = deps;
  if (!deps.secret) {
    log.warn('GitHub webhook received but BERTH_GITHUB_WEBHOOK_SECRET is not set; the endpoint is off');
    throw new BerthError('E_NOT_FOUND', 'GitHub webhooks are not enabled on this Berth', { hint: 'set BERTH_GITHUB_WEBHOOK_SECRET' });
  }
  const deliveryId = (req.header('x-github-delivery') ?? '').slice(0, 100);
  const event = (req.header('x-github-event') ?? '').slice(0, 100);
  if (!verifyGithubSignature(req.rawBody, req.header('x-hub-signature-256'), deps.secret)) {
    // Not recorded: anyone can send these, and the log is not theirs to fill.
    log.warn({ deliveryId, event, signed: req.header('x-hub-signature-256') !== undefined }, 'GitHub webhook with a missing or wrong signature rejected');
    throw new BerthError('E_UNAUTHORIZED', 'missing or invalid X-Hub-Signature-256');
  }
  if (!deliveryId) throw new BerthError('E_BAD_REQUEST', 'missing X-GitHub-Delivery header');
  const payload = parsePayload(req);

  const decision = decideDelivery(event, payload, deps.policy);
  const facts = describe(payload);
  const record = (outcome: DeliveryOutcome, jobId: number | null = null): void => {
    deps.deliveries.recordDelivery({ deliveryId, event, ...facts, outcome, jobId });
  };
  const dlog = log.child({ deliveryId, event, repo: facts.repo, pr: facts.pr });

  switch (decision.kind) {
    case 'preview-up':
    case 'preview-down': {
      const result = deps.queue.enqueue({ ...jobFor(decision), dedupeId: deliveryId });
      if (result.duplicate) {
        record('duplicate', result.id);
        dlog.info({ jobId: result.id }, 'duplicate delivery ignored');
        return { status: 200, body: { outcome: 'duplicate', jobId: result.id }, decision };
      }
      record('accepted', result.id);
      dlog.info({ jobId: result.id, kind: decision.kind, sha: decision.target.sha, superseded: result.superseded }, 'webhook accepted');
      return { status: 202, body: { outcome: 'accepted', jobId: result.id }, decision };
    }
    case 'ping':
      record('accepted');
      dlog.info('webhook ping');
      return { status: 200, body: { outcome: 'accepted', zen: decision.reason }, decision };
    case 'ignore': {
      record(deliveryOutcome(decision));
      dlog.info({ reason: decision.reason, detail: decision.detail }, 'webhook ignored');
      return { status: 204, body: null, decision };
    }
    case 'forbidden':
      record(deliveryOutcome(decision));
      dlog.warn({ detail: decision.detail }, 'webhook from a repository that is not allowed');
      throw new BerthError('E_FORBIDDEN', decision.detail, { hint: 'add the repository to BERTH_PREVIEW_REPOS' });
    case 'invalid':
      record(deliveryOutcome(decision));
      dlog.warn({ detail: decision.detail }, 'webhook payload does not match the documented shape');
      throw new BerthError('E_BAD_REQUEST', `unexpected ${event} payload: ${decision.detail}`);
  }
}

/** JSON bodies, and form-encoded ones (`payload=<json>`, GitHub's other content type). */
function parsePayload(req: WebhookRequest): unknown {
  const type = (req.header('content-type') ?? '').toLowerCase();
  try {
    if (type.startsWith('application/x-www-form-urlencoded')) {
      const form = new URLSearchParams(req.rawBody.toString('utf8')).get('payload');
      if (form === null) throw new Error('no payload field');
      return JSON.parse(form) as unknown;
    }
    return JSON.parse(req.rawBody.toString('utf8')) as unknown;
  } catch {
    throw new BerthError('E_BAD_REQUEST', 'the webhook body is not valid JSON');
  }
}

/** Best-effort facts for the deliveries log, whatever the payload's shape. */
function describe(payload: unknown): { action: string | null; repo: string | null; pr: number | null } {
  const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  const repository = (typeof p.repository === 'object' && p.repository !== null ? p.repository : {}) as Record<string, unknown>;
  return {
    action: typeof p.action === 'string' ? p.action : null,
    repo: typeof repository.full_name === 'string' ? repository.full_name : null,
    pr: typeof p.number === 'number' && Number.isSafeInteger(p.number) ? p.number : null,
  };
}
