import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isBerthError } from '../../src/errors.js';
import { DeliveryLog } from '../../src/jobs/deliveries.js';
import { JobQueue } from '../../src/jobs/queue.js';
import { silentLogger } from '../../src/log.js';
import { signGithubPayload } from '../../src/previews/github/verify.js';
import { receiveGithubWebhook, type PreviewJobs, type WebhookDeps } from '../../src/previews/webhook.js';
import { openDb, type Db } from '../../src/store/db.js';
import { pingPayload, pullRequestPayload, sendWebhook } from '../support/github-fake.js';

/**
 * The webhook intake behind a minimal node:http route (raw bytes in, BerthError → status), driven
 * by signed deliveries shaped like GitHub's. The queue is not started: only what gets recorded counts.
 */

const SECRET = 'webhook-test-secret';
const dir = mkdtempSync(path.join(tmpdir(), 'berth-webhook-'));

function route(deps: WebhookDeps): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const out = receiveGithubWebhook({ rawBody: Buffer.concat(chunks), header: (n) => req.headers[n.toLowerCase()] as string | undefined }, deps);
        res.writeHead(out.status, { 'content-type': 'application/json' }).end(out.body ? JSON.stringify(out.body) : undefined);
      } catch (err) {
        const status = isBerthError(err) ? err.status : 500;
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: String(err) } }));
      }
    });
  });
}

describe('GitHub webhook intake', () => {
  let db: Db;
  let queue: JobQueue<PreviewJobs>;
  let deliveries: DeliveryLog;
  let server: Server;
  let url: string;
  const deps = (): WebhookDeps => ({ queue, deliveries, policy: { repos: ['octo-org/app'] }, secret: SECRET, log: silentLogger() });

  before(async () => {
    db = openDb(path.join(dir, 'berth.db'));
    queue = new JobQueue<PreviewJobs>(db, { log: silentLogger() });
    deliveries = new DeliveryLog(db);
    server = route(deps());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/github`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const counts = () => ({ jobs: queue.list({ limit: 1000 }).length, deliveries: deliveries.listDeliveries({ limit: 1000 }).length });

  it('accepts a signed opened event with 202 and one job keyed by PR', async () => {
    const res = await sendWebhook(url, { event: 'pull_request', payload: pullRequestPayload({ action: 'opened', pr: 12 }), secret: SECRET });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { outcome: string; jobId: number };
    assert.equal(body.outcome, 'accepted');
    const job = queue.get(body.jobId)!;
    assert.deepEqual([job.type, job.key, job.dedupeId, job.state], ['preview-up', 'octo-org/app#12', res.deliveryId, 'pending']);
    assert.equal((job.payload as { sha: string }).sha, 'a'.repeat(40));
    const [d] = deliveries.listDeliveries({ limit: 1 });
    assert.deepEqual([d?.deliveryId, d?.event, d?.action, d?.repo, d?.pr, d?.outcome, d?.jobId], [res.deliveryId, 'pull_request', 'opened', 'octo-org/app', 12, 'accepted', body.jobId]);
  });

  it('a replayed delivery id creates no second job', async () => {
    const payload = pullRequestPayload({ action: 'synchronize', pr: 13 });
    const first = await sendWebhook(url, { event: 'pull_request', payload, secret: SECRET });
    const before = counts();
    const replay = await sendWebhook(url, { event: 'pull_request', payload, secret: SECRET, deliveryId: first.deliveryId });
    assert.equal(replay.status, 200);
    assert.equal(((await replay.json()) as { outcome: string }).outcome, 'duplicate');
    assert.equal(counts().jobs, before.jobs);
    assert.deepEqual(deliveries.findDelivery(first.deliveryId).map((d) => d.outcome), ['accepted', 'duplicate']);
  });

  it('a bad or missing signature is 401 and leaves no trace', async () => {
    const before = counts();
    const payload = pullRequestPayload({ action: 'opened', pr: 14 });
    for (const signature of [null, 'sha256=' + '0'.repeat(64), signGithubPayload('{}', SECRET)]) {
      assert.equal((await sendWebhook(url, { event: 'pull_request', payload, secret: SECRET, signature })).status, 401);
    }
    assert.equal((await sendWebhook(url, { event: 'pull_request', payload, secret: 'not-the-secret' })).status, 401);
    assert.deepEqual(counts(), before);
  });

  it('a disallowed repository is 403: recorded as rejected, no job', async () => {
    const before = counts();
    const res = await sendWebhook(url, { event: 'pull_request', payload: pullRequestPayload({ action: 'opened', repo: 'evil/app' }), secret: SECRET });
    assert.equal(res.status, 403);
    assert.equal(counts().jobs, before.jobs);
    assert.equal(deliveries.listDeliveries({ limit: 1 })[0]?.outcome, 'rejected:repo-not-allowed');
  });

  it('ping is 200, other events 204, ignored authors 204 — none enqueue', async () => {
    const before = counts();
    assert.equal((await sendWebhook(url, { event: 'ping', payload: pingPayload(), secret: SECRET })).status, 200);
    assert.equal((await sendWebhook(url, { event: 'issues', payload: { action: 'opened', repository: { full_name: 'octo-org/app' } }, secret: SECRET })).status, 204);
    const contributor = pullRequestPayload({ action: 'opened', pr: 15, association: 'CONTRIBUTOR' });
    assert.equal((await sendWebhook(url, { event: 'pull_request', payload: contributor, secret: SECRET })).status, 204);
    assert.equal(counts().jobs, before.jobs);
    assert.deepEqual(
      deliveries.listDeliveries({ limit: 3 }).map((d) => d.outcome),
      ['ignored:author-not-allowed', 'ignored:event-unsupported', 'accepted'],
    );
  });

  it('closed supersedes a pending build of the same PR', async () => {
    const up = await sendWebhook(url, { event: 'pull_request', payload: pullRequestPayload({ action: 'opened', pr: 20 }), secret: SECRET });
    const upId = ((await up.json()) as { jobId: number }).jobId;
    const down = await sendWebhook(url, { event: 'pull_request', payload: pullRequestPayload({ action: 'closed', pr: 20 }), secret: SECRET });
    assert.equal(down.status, 202);
    const downId = ((await down.json()) as { jobId: number }).jobId;
    assert.deepEqual([queue.get(upId)?.state, queue.get(upId)?.supersededBy], ['superseded', downId]);
    assert.deepEqual(queue.list({ key: 'octo-org/app#20', state: 'pending' }).map((j) => j.type), ['preview-down']);
  });

  it('reads form-encoded deliveries too (GitHub’s other content type)', async () => {
    const payload = JSON.stringify(pullRequestPayload({ action: 'opened', pr: 21 }));
    const raw = `payload=${encodeURIComponent(payload)}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-github-event': 'pull_request',
        'x-github-delivery': 'form-1',
        'x-hub-signature-256': signGithubPayload(raw, SECRET),
      },
      body: raw,
    });
    assert.equal(res.status, 202);
  });

  it('is off (404) without a secret, and 400 for unparseable or undelivered bodies', () => {
    const req = (body: string, headers: Record<string, string>) => ({ rawBody: Buffer.from(body), header: (n: string) => headers[n] });
    const call = (d: WebhookDeps, body: string, headers: Record<string, string>) => {
      try {
        receiveGithubWebhook(req(body, headers), d);
        return 0;
      } catch (err) {
        return isBerthError(err) ? err.status : -1;
      }
    };
    const sig = (b: string) => signGithubPayload(b, SECRET);
    assert.equal(call({ ...deps(), secret: '' }, '{}', { 'x-hub-signature-256': signGithubPayload('{}', '') }), 404);
    assert.equal(call(deps(), 'not json', { 'x-github-delivery': 'x1', 'x-github-event': 'ping', 'x-hub-signature-256': sig('not json') }), 400);
    assert.equal(call(deps(), '{}', { 'x-github-event': 'ping', 'x-hub-signature-256': sig('{}') }), 400);
    assert.equal(call(deps(), '{"action":"opened"}', { 'x-github-delivery': 'x2', 'x-github-event': 'pull_request', 'x-hub-signature-256': sig('{"action":"opened"}') }), 400);
  });
});
