import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { pullRequestPayload, sendWebhook, startGithubFake, type GithubFake } from '../support/github-fake.js';
import { commitVersion, createPreviewRepo, getVia, waitForPreview } from '../support/preview-fixture.js';

/**
 * Issue 5 end to end: a local git repository, real PostgreSQL, the GitHub fake, the process
 * runtime, signed deliveries through the daemon's real listener and edge.
 */

const SECRET = 'e2e-webhook-secret';
const REPO = 'octo-org/app';
const PR = 7;
const HOST = `${PR}.preview.test`;

let tmp: string;
let repoDir: string;
let cloneUrl: string;
let postgres: TestPostgres;
let fake: GithubFake;
let t: TestDaemon;

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> => waitForPreview(what, fn, ms);

const deliver = (action: string, sha: string, extra: { deliveryId?: string; signature?: string | null; repo?: string } = {}) =>
  sendWebhook(`${t.daemon.url}/webhooks/github`, {
    event: 'pull_request',
    secret: SECRET,
    payload: pullRequestPayload({ action, repo: extra.repo ?? REPO, pr: PR, sha, cloneUrl, ref: 'feature' }),
    ...(extra.deliveryId ? { deliveryId: extra.deliveryId } : {}),
    ...(extra.signature !== undefined ? { signature: extra.signature } : {}),
  });

const previewOf = async (): Promise<any> => ((await t.api('GET', '/api/previews')).body.previews as any[]).find((p) => p.pr === PR);

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: postgres.superuserUrl });
  await c.connect();
  try {
    return (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

describe('previews end to end (process runtime, shared Postgres, GitHub fake)', () => {
  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'berth-preview-e2e-'));
    repoDir = path.join(tmp, 'repo');
    createPreviewRepo(repoDir);
    cloneUrl = pathToFileURL(repoDir).href;
    postgres = await startPostgres();
    fake = await startGithubFake();
    t = await startTestDaemon({
      githubWebhookSecret: SECRET,
      previewRepos: [REPO],
      githubToken: fake.token,
      githubApiUrl: fake.url,
      allowFileRepos: true,
      previewDomain: 'preview.test',
      postgresUrl: postgres.adminUrl,
      drainSeconds: 1,
    });
  });

  after(async () => {
    await t?.stop();
    await fake?.close();
    await postgres?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('leaves no trace for a bad signature, a disallowed repository or a replayed delivery', async () => {
    const sha = commitVersion(repoDir, 'v0');
    const jobsBefore = t.daemon.previews.queue.list().length;
    const bad = await deliver('opened', sha, { signature: 'sha256=' + '0'.repeat(64) });
    assert.equal(bad.status, 401);
    const unsigned = await deliver('opened', sha, { signature: null });
    assert.equal(unsigned.status, 401);
    const foreign = await deliver('opened', sha, { repo: 'evil-org/app' });
    assert.equal(foreign.status, 403);
    assert.equal(t.daemon.previews.queue.list().length, jobsBefore);
    assert.equal((await t.api('GET', '/api/previews')).body.previews.length, 0);
    const deliveries = (await t.api('GET', '/api/webhooks/deliveries')).body.deliveries as any[];
    assert.ok(deliveries.every((d) => d.jobId === null), 'no delivery made a job');
  });

  let firstSha = '';
  it('opened → 202 → the preview answers through the edge with its database', async () => {
    firstSha = commitVersion(repoDir, 'v1');
    const started = Date.now();
    const res = await deliver('opened', firstSha, { deliveryId: 'delivery-opened-1' });
    assert.equal(res.status, 202);
    assert.ok(Date.now() - started < 2000, 'answered at once');

    const replay = await deliver('opened', firstSha, { deliveryId: 'delivery-opened-1' });
    assert.equal(replay.status, 200);
    assert.equal(((await replay.json()) as { outcome: string }).outcome, 'duplicate');

    const live = await waitFor('preview live', async () => {
      const p = await previewOf();
      if (p?.state === 'failed') throw new Error(`preview failed: ${p.reason}`);
      return p?.state === 'running' && p.generation === 1 ? p : null;
    });
    assert.equal(live.url, `http://${HOST}`);
    const web = await getVia(t.daemon.url, HOST, '/');
    assert.equal(web.status, 200, web.body);
    const body = JSON.parse(web.body);
    assert.equal(body.version, 'v1');
    assert.equal(body.service, 'web');
    assert.equal(body.pr, String(PR));
    assert.equal(body.sha, firstSha);
    assert.equal(body.previewUrl, `http://${HOST}`);
    assert.equal(body.answer, 42);
    assert.equal(body.db, live.database);
    assert.ok(await databaseExists(live.database));
    const api = JSON.parse((await getVia(t.daemon.url, HOST, '/api/items?x=1')).body);
    assert.equal(api.service, 'api');
    assert.equal(api.path, '/api/items?x=1');
    assert.equal((await getVia(t.daemon.url, `99.preview.test`, '/')).status, 404);

    const detail = await t.api('GET', `/api/previews/${live.id}`);
    assert.match(detail.body.buildLog, /live at http:\/\/7\.preview\.test/);
    assert.equal(JSON.stringify(detail.body).includes('password'), false);
  });

  it('synchronize swaps to the new commit with no failed request while polling', async () => {
    const secondSha = commitVersion(repoDir, 'v2');
    let polling = true;
    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const poller = (async () => {
      while (polling) {
        try {
          const r = await getVia(t.daemon.url, HOST, '/');
          if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 80)}`);
          else {
            ok++;
            seen.add(JSON.parse(r.body).version as string);
          }
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const res = await deliver('synchronize', secondSha);
    assert.equal(res.status, 202);
    await waitFor('v2 live', async () => {
      const p = await previewOf();
      if (p?.reason?.includes('failed')) throw new Error(p.reason);
      return p?.sha === secondSha && p.generation === 2 && p.state === 'running';
    });
    // Keep polling through the drain and the removal of the old generation.
    await waitFor('old generation removed', async () => (await t.daemon.previews.queue.list({ state: 'running' })).length === 0);
    await new Promise((r) => setTimeout(r, 300));
    polling = false;
    await poller;
    assert.deepEqual(failures, [], `failed requests during the swap (${ok} ok)`);
    assert.ok(ok > 10, `polled ${ok} times`);
    assert.deepEqual([...seen].sort(), ['v1', 'v2']);
    const after = JSON.parse((await getVia(t.daemon.url, HOST, '/')).body);
    assert.equal(after.version, 'v2');
    assert.equal(after.sha, secondSha);
  });

  it('a failed update keeps the old version serving and says so', async () => {
    const badSha = commitVersion(repoDir, 'v3', 'services:\n  - name: web\n    port: nope\n');
    assert.equal((await deliver('synchronize', badSha)).status, 202);
    const p = await waitFor('failed update recorded', async () => {
      const p = await previewOf();
      return p?.reason?.includes('still serving') ? p : null;
    });
    assert.equal(p.state, 'running');
    assert.match(p.reason, /berth\.preview\.yaml:\d+:\d+/);
    assert.equal(JSON.parse((await getVia(t.daemon.url, HOST, '/')).body).version, 'v2');
    const statuses = fake.statuses(REPO, badSha).map((s) => s.state);
    assert.deepEqual(statuses, ['pending', 'failure']);
  });

  it('manual create and destroy through the API (admin only)', async () => {
    commitVersion(repoDir, 'v4'); // main's head was the invalid config of the previous test
    const res = await t.api('POST', '/api/previews', { repo: REPO, cloneUrl, number: 8, ref: 'main' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.match(res.body.sha, /^[0-9a-f]{40}$/);
    const p = await waitFor('manual preview live', async () => {
      const p = ((await t.api('GET', '/api/previews')).body.previews as any[]).find((x) => x.pr === 8);
      if (p?.state === 'failed') throw new Error(`preview failed: ${p.reason}`);
      return p?.state === 'running' ? p : null;
    });
    assert.equal(p.url, 'http://8.preview.test');
    assert.equal((await getVia(t.daemon.url, '8.preview.test', '/')).status, 200);
    assert.equal((await t.api('DELETE', `/api/previews/${p.id}`)).status, 202);
    await waitFor('manual preview gone', async () => !((await t.api('GET', '/api/previews')).body.previews as any[]).some((x) => x.pr === 8));
    assert.equal((await getVia(t.daemon.url, '8.preview.test', '/')).status, 404);
    assert.equal((await t.api('GET', '/api/previews', undefined, { token: null })).status, 401);
  });

  it('closed removes workloads, route and database; GitHub saw statuses and one comment', async () => {
    const live = await previewOf();
    const res = await deliver('closed', live.sha);
    assert.equal(res.status, 202);
    await waitFor('preview gone', async () => (await previewOf()) === undefined);
    assert.equal((await getVia(t.daemon.url, HOST, '/')).status, 404);
    assert.equal(await databaseExists(live.database), false);
    const report = await t.daemon.previews.service.reap();
    assert.deepEqual(report.orphans, [], 'no preview workload left behind');

    assert.deepEqual(fake.statuses(REPO, firstSha).map((s) => s.state), ['pending', 'success']);
    assert.equal(fake.statuses(REPO, firstSha)[1]!.target_url, `http://${HOST}`);
    const comments = fake.comments(REPO, PR);
    assert.equal(comments.length, 1, 'one comment, kept up to date');
    assert.match(comments[0]!.body, /destroyed/);
    const patched = fake.requests.filter((r) => r.method === 'PATCH' && r.url.includes('/issues/comments/'));
    assert.ok(patched.length >= 3, `comment updated (${patched.length} PATCHes)`);
  });
});
